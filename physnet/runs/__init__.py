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
from ._select import CANDIDATES as CANDIDATES
from ._select import Candidate as Candidate
from ._select import Selection as Selection
from ._select import resolve_scale as resolve_scale
from ._select import select_for_file as select_for_file
from ._select import select_structure as select_structure
from ._setup import SPLITS as SPLITS
from ._setup import make_loss as make_loss
from ._setup import make_split as make_split
from ._train import resume_run as resume_run
from ._train import train_run as train_run
