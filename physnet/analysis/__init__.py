"""Analysis of learned models: NTK spectra, error spectra, chaos and approximator comparisons.

Analysis on top of the models and training: neural tangent kernel spectra of physics
losses, spectral error of learned models, Lyapunov exponents and Poincaré sections.

``ntk(model, states, operator=...)`` is the empirical NTK under the operator a loss applies;
:mod:`._spectrum` reads it out (eigenvalues, decay exponent, condition number, effective rank,
predicted per-mode convergence times, trace-ratio loss weights); :class:`KernelDrift` records
how the kernel moves during :func:`physnet.fit`; :class:`WeightedLoss` applies loss weights.

``compare(tasks, families, match="params" | "flops")``, which trains approximator families
(MLP, KAN, soft-exponential MLP) at matched parameter counts or XLA-counted FLOPs over seeds,
with scaling-exponent fits and the continual-learning protocol, lives in :mod:`physnet.compare`
(it uses nothing of this package); its public names are re-exported here.
"""

from ..compare import TASK_CLASSES as TASK_CLASSES
from ..compare import TASKS as TASKS
from ..compare import ClassificationTask as ClassificationTask
from ..compare import Comparison as Comparison
from ..compare import Family as Family
from ..compare import HNNTask as HNNTask
from ..compare import LNNTask as LNNTask
from ..compare import RegressionTask as RegressionTask
from ..compare import Task as Task
from ..compare import TaskLoss as TaskLoss
from ..compare import alpha_values as alpha_values
from ..compare import builtin_tasks as builtin_tasks
from ..compare import compare as compare
from ..compare import continual_learning as continual_learning
from ..compare import default_families as default_families
from ..compare import expression_task as expression_task
from ..compare import file_task as file_task
from ..compare import forward_flops as forward_flops
from ..compare import function_task as function_task
from ..compare import kan_family as kan_family
from ..compare import kan_grid_family as kan_grid_family
from ..compare import measure as measure
from ..compare import mlp_family as mlp_family
from ..compare import parameter_count as parameter_count
from ..compare import peaks_task as peaks_task
from ..compare import scaling_exponent as scaling_exponent
from ..compare import size_for as size_for
from ..compare import train_one as train_one
from ._chaos import error_growth as error_growth
from ._chaos import largest_lyapunov_exponent as largest_lyapunov_exponent
from ._chaos import stroboscopic_section as stroboscopic_section
from ._frequency import SpectralError as SpectralError
from ._frequency import field_error_spectrum as field_error_spectrum
from ._frequency import rollout_error_spectrum as rollout_error_spectrum
from ._ntk import OPERATORS as OPERATORS
from ._ntk import NTKResult as NTKResult
from ._ntk import default_operator as default_operator
from ._ntk import ntk as ntk
from ._ntk import parameter_jacobian as parameter_jacobian
from ._run import analyze_run as analyze_run
from ._spectrum import Spectrum as Spectrum
from ._spectrum import condition_number as condition_number
from ._spectrum import convergence_times as convergence_times
from ._spectrum import decay_exponent as decay_exponent
from ._spectrum import effective_rank as effective_rank
from ._spectrum import observed_convergence_times as observed_convergence_times
from ._spectrum import spectrum as spectrum
from ._spectrum import trace_ratio_weights as trace_ratio_weights
from ._training import ComponentLoss as ComponentLoss
from ._training import KernelDrift as KernelDrift
from ._training import WeightedLoss as WeightedLoss
