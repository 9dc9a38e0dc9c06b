"""The studies of ``experiments/<study>/`` as registered experiments, run only when named:
``physnet reproduce --experiments ntk`` (the folder's name or its registry name)."""

from ._control import CONTROL
from ._control_cart_pole import CONTROL_CART_POLE
from ._dysts import DYSTS, DYSTS_ALL
from ._e1_states_only import E1_STATES_ONLY
from ._inputs_study import INPUTS_STUDY
from ._kan_vs_mlp import KAN_VS_MLP
from ._noisy_states import NOISY_STATES
from ._ntk import NTK
from ._sindy import SINDY_COMPARISON
from ._structures import STRUCTURES
from ._trajectory_study import TRAJECTORY_STUDY

#: in the order of experiments/README.md
STUDY_EXPERIMENTS = (
    TRAJECTORY_STUDY,
    E1_STATES_ONLY,
    SINDY_COMPARISON,
    NOISY_STATES,
    NTK,
    STRUCTURES,
    KAN_VS_MLP,
    DYSTS,
    DYSTS_ALL,
    INPUTS_STUDY,
    CONTROL,
    CONTROL_CART_POLE,
)
