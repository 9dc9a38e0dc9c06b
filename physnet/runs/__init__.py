"""Run directories: train, resume and evaluate runs as ``physnet train``/``evaluate`` do.

A run directory holds what ``physnet train`` writes (config, split, checkpoint, metrics) and
``physnet evaluate`` reads; :class:`RunConfig` is its one schema."""

from ._config import RunConfig as RunConfig  # the run schema (config.json)
from ._evaluate import evaluate_run as evaluate_run
from ._evaluate import symbolic_metrics as symbolic_metrics
from ._rundir import RUN_FORMAT as RUN_FORMAT
from ._rundir import RunDirectory as RunDirectory
from ._rundir import file_sha256 as file_sha256
from ._rundir import write_run as write_run
from ._train import SPLITS as SPLITS
from ._train import make_loss as make_loss
from ._train import make_split as make_split
from ._train import resume_run as resume_run
from ._train import train_run as train_run
