"""The experiments of the source (SPEC.md section 3), as code: configs and train_and_evaluate."""

from ..training import make_optimizer as make_optimizer  # kept importable from here
from ._common import DataConfig as DataConfig
from ._common import Experiment as Experiment
from ._common import make_data as make_data
from ._e1_e2 import HNNConfig as HNNConfig
from ._e3_e4 import DHNNConfig as DHNNConfig
from ._e3_e4 import LNNConfig as LNNConfig
from ._e5 import E5Config as E5Config
from ._e6 import E6Config as E6Config
from ._real import RealConfig as RealConfig
from ._real import measured_oscillation as measured_oscillation
from ._report import write_report as write_report
from ._run import EXPERIMENTS as EXPERIMENTS
from ._run import experiment_main as experiment_main
from ._run import format_table as format_table
from ._run import get_experiment as get_experiment
from ._run import parse_experiments as parse_experiments
from ._run import reproduce as reproduce
from ._run import run_experiment as run_experiment
