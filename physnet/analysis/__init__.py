"""Analysis on top of the models and training: neural tangent kernel spectra of physics
losses, spectral error of learned models.

``ntk(model, states, operator=...)`` is the empirical NTK under the operator a loss applies;
:mod:`._spectrum` reads it out (eigenvalues, decay exponent, condition number, effective rank,
predicted per-mode convergence times, trace-ratio loss weights); :class:`KernelDrift` records
how the kernel moves during :func:`physnet.fit`; :class:`WeightedLoss` applies loss weights.

``compare(tasks, families, match="params" | "flops")`` trains approximator families (MLP, KAN,
soft-exponential MLP) at matched parameter counts or XLA-counted FLOPs over seeds
(:mod:`._compare`), with scaling-exponent fits and the continual-learning protocol.
"""

from ._chaos import error_growth as error_growth
from ._chaos import largest_lyapunov_exponent as largest_lyapunov_exponent
from ._chaos import stroboscopic_section as stroboscopic_section
from ._compare import TASKS as TASKS
from ._compare import Comparison as Comparison
from ._compare import Family as Family
from ._compare import Task as Task
from ._compare import TaskLoss as TaskLoss
from ._compare import alpha_values as alpha_values
from ._compare import builtin_tasks as builtin_tasks
from ._compare import compare as compare
from ._compare import continual_learning as continual_learning
from ._compare import default_families as default_families
from ._compare import expression_task as expression_task
from ._compare import file_task as file_task
from ._compare import forward_flops as forward_flops
from ._compare import function_task as function_task
from ._compare import kan_family as kan_family
from ._compare import kan_grid_family as kan_grid_family
from ._compare import measure as measure
from ._compare import mlp_family as mlp_family
from ._compare import parameter_count as parameter_count
from ._compare import peaks_task as peaks_task
from ._compare import scaling_exponent as scaling_exponent
from ._compare import size_for as size_for
from ._compare import train_one as train_one
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
