r"""Approximators compared fairly: matched parameter counts or FLOPs, several seeds.

A :class:`Task` is training and test data plus how an approximator enters it (plain
regression, classification, the Hamiltonian of an HNN, the Lagrangian of an LNN); a
:class:`Family` builds an approximator of a given ``size`` (an MLP's width, a KAN's hidden
width or grid). :func:`compare` sizes every family to the same budget on every task
(:func:`size_for`: the size whose parameter count, or XLA-counted FLOPs per forward pass, is
nearest the budget in log scale), trains each for the same steps with the same optimizer over
several seeds, and records the test error, parameters, FLOPs, wall time per step (after
compilation) and compile time. :func:`scaling_exponent` fits error ∝ N^-a with a bootstrap
confidence interval; :func:`continual_learning` runs the KAN paper's sequential-peaks protocol.

Reference: Liu et al. (2024), KAN: Kolmogorov-Arnold Networks, arXiv:2404.19756; Yu et al.
(2024), KAN or MLP: A Fairer Comparison, arXiv:2407.16674; Godfrey & Gashler (2016), A
continuum among logarithmic, linear, and exponential functions, arXiv:1602.01321.

Modules by subject: :mod:`._tasks` (the task classes, function and formula tasks),
:mod:`._files` (tasks from files), :mod:`._builtin` (the standard tasks), :mod:`._families`
(approximator families), :mod:`._measure` (parameters, FLOPs, sizing), :mod:`._harness`
(training and the comparison), :mod:`._scaling` (scaling exponents) and :mod:`._continual`
(continual learning). :mod:`physnet.analysis` re-exports the public names.
"""

from ._builtin import TASKS as TASKS
from ._builtin import builtin_tasks as builtin_tasks
from ._continual import continual_learning as continual_learning
from ._continual import peaks_task as peaks_task
from ._families import Family as Family
from ._families import default_families as default_families
from ._families import kan_family as kan_family
from ._families import kan_grid_family as kan_grid_family
from ._families import mlp_family as mlp_family
from ._files import file_task as file_task
from ._harness import Comparison as Comparison
from ._harness import compare as compare
from ._harness import train_one as train_one
from ._measure import MATCHES as MATCHES
from ._measure import alpha_values as alpha_values
from ._measure import forward_flops as forward_flops
from ._measure import measure as measure
from ._measure import parameter_count as parameter_count
from ._measure import size_for as size_for
from ._scaling import scaling_exponent as scaling_exponent
from ._tasks import TASK_CLASSES as TASK_CLASSES
from ._tasks import ClassificationTask as ClassificationTask
from ._tasks import HNNTask as HNNTask
from ._tasks import LNNTask as LNNTask
from ._tasks import RegressionTask as RegressionTask
from ._tasks import Task as Task
from ._tasks import TaskLoss as TaskLoss
from ._tasks import expression_task as expression_task
from ._tasks import function_task as function_task
