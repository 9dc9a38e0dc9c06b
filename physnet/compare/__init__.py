"""Approximators compared fairly (placeholder; split by subject in the next commit)."""

from ._harness import TASKS as TASKS
from ._harness import Comparison as Comparison
from ._harness import Family as Family
from ._harness import Task as Task
from ._harness import TaskLoss as TaskLoss
from ._harness import alpha_values as alpha_values
from ._harness import builtin_tasks as builtin_tasks
from ._harness import compare as compare
from ._harness import continual_learning as continual_learning
from ._harness import default_families as default_families
from ._harness import expression_task as expression_task
from ._harness import file_task as file_task
from ._harness import forward_flops as forward_flops
from ._harness import function_task as function_task
from ._harness import kan_family as kan_family
from ._harness import kan_grid_family as kan_grid_family
from ._harness import measure as measure
from ._harness import mlp_family as mlp_family
from ._harness import parameter_count as parameter_count
from ._harness import peaks_task as peaks_task
from ._harness import scaling_exponent as scaling_exponent
from ._harness import size_for as size_for
from ._harness import train_one as train_one
