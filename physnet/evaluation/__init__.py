"""Rollouts and the metrics that judge them."""

from ._ensemble import Spread as Spread
from ._ensemble import ensemble_readout as ensemble_readout
from ._ensemble import ensemble_spread as ensemble_spread
from ._metrics import energy_drift as energy_drift
from ._metrics import energy_error as energy_error
from ._metrics import trajectory_rmse as trajectory_rmse
from ._rollout import DIFFRAX_SOLVERS as DIFFRAX_SOLVERS
from ._rollout import SOLVERS as SOLVERS
from ._rollout import rollout as rollout
