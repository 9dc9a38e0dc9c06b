"""The experiments of the source (SPEC.md section 3), as code: configs and train_and_evaluate."""

from ._common import DataConfig as DataConfig
from ._common import Experiment as Experiment
from ._e1_e2 import HNNConfig as HNNConfig
from ._run import EXPERIMENTS as EXPERIMENTS
from ._run import format_table as format_table
from ._run import parse_experiments as parse_experiments
from ._run import reproduce as reproduce
