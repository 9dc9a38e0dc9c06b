"""physnet: physics-informed dynamics identification in JAX.

Importing physnet enables float64 in JAX (``jax_enable_x64``): physics needs it, and
physnet's parameters, data and integrators are float64 throughout. It has no other import-time
side effect (in particular it selects no matplotlib backend).
"""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from . import analysis as analysis  # noqa: E402
from . import approximators as approximators  # noqa: E402
from . import benchmarks as benchmarks  # noqa: E402
from . import control as control  # noqa: E402
from . import data as data  # noqa: E402
from . import datasets as datasets  # noqa: E402
from . import evaluation as evaluation  # noqa: E402
from . import integrators as integrators  # noqa: E402
from . import models as models  # noqa: E402
from . import plotting as plotting  # noqa: E402
from . import runs as runs  # noqa: E402
from . import signals as signals  # noqa: E402
from . import systems as systems  # noqa: E402
from . import training as training  # noqa: E402
from ._build import build_approximator as build_approximator  # noqa: E402
from ._build import build_model as build_model  # noqa: E402
from ._checkpoint import load_model as load_model  # noqa: E402
from ._checkpoint import save_model as save_model  # noqa: E402
from ._errors import ConfigError as ConfigError  # noqa: E402
from ._errors import DataError as DataError  # noqa: E402
from ._errors import DistributedError as DistributedError  # noqa: E402
from ._errors import PhysnetError as PhysnetError  # noqa: E402
from ._errors import TrainingDivergedError as TrainingDivergedError  # noqa: E402
from ._version import __version__ as __version__  # noqa: E402
from .approximators import KAN as KAN  # noqa: E402
from .approximators import MLP as MLP  # noqa: E402
from .approximators import AbstractApproximator as AbstractApproximator  # noqa: E402
from .approximators import Polynomial as Polynomial  # noqa: E402
from .approximators import soft_exponential as soft_exponential  # noqa: E402
from .data import Trajectories as Trajectories  # noqa: E402
from .evaluation import energy_drift as energy_drift  # noqa: E402
from .evaluation import energy_error as energy_error  # noqa: E402
from .evaluation import ensemble_readout as ensemble_readout  # noqa: E402
from .evaluation import ensemble_spread as ensemble_spread  # noqa: E402
from .evaluation import rollout as rollout  # noqa: E402
from .evaluation import trajectory_rmse as trajectory_rmse  # noqa: E402
from .models import HNN as HNN  # noqa: E402
from .models import LNN as LNN  # noqa: E402
from .models import DissipativeHNN as DissipativeHNN  # noqa: E402
from .models import Ensemble as Ensemble  # noqa: E402
from .models import NeuralODE as NeuralODE  # noqa: E402
from .models import NeuralSymplecticForm as NeuralSymplecticForm  # noqa: E402
from .models import PortHNN as PortHNN  # noqa: E402
from .training import TrajectoryLoss as TrajectoryLoss  # noqa: E402
from .training import fit as fit  # noqa: E402
from .training import fit_ensemble as fit_ensemble  # noqa: E402
from .training import fit_states as fit_states  # noqa: E402
