"""Rollouts and the metrics that judge them (on data and on rollouts)."""

from ._ensemble import Spread as Spread
from ._ensemble import ensemble_readout as ensemble_readout
from ._ensemble import ensemble_spread as ensemble_spread
from ._equilibria import Equilibrium as Equilibrium
from ._equilibria import classify as classify
from ._equilibria import decay_rate as decay_rate
from ._equilibria import equilibria as equilibria
from ._equilibria import format_eigenvalues as format_eigenvalues
from ._equilibria import match_equilibria as match_equilibria
from ._equilibria import search_box as search_box
from ._metrics import acceleration_mse as acceleration_mse
from ._metrics import derivative_mse as derivative_mse
from ._metrics import energy_drift as energy_drift
from ._metrics import energy_error as energy_error
from ._metrics import energy_function as energy_function
from ._metrics import energy_mse as energy_mse
from ._metrics import rollout_metrics as rollout_metrics
from ._metrics import rollout_times as rollout_times
from ._metrics import trajectory_metrics as trajectory_metrics
from ._metrics import trajectory_rmse as trajectory_rmse
from ._metrics import true_rollout as true_rollout
from ._rollout import DIFFRAX_SOLVERS as DIFFRAX_SOLVERS
from ._rollout import SOLVERS as SOLVERS
from ._rollout import rollout as rollout
