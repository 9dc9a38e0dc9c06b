"""Run directories: what ``physnet train`` writes and ``physnet evaluate`` reads.

A run directory holds

- ``config.json``: the training options (model, approximator, loss, steps, seed, ...), the data
  file's path and its SHA-256, and ``run_format``;
- ``split.json``: the train/test split the run used (:mod:`physnet.data._split`);
- ``checkpoint/``: the model (:func:`physnet.save_model`);
- ``metrics.json``: the training metrics.

Everything a later command needs is read from here; nothing is re-derived by replaying the
random keys of the training run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from .._errors import DataError
from .._io import atomic_directory, file_sha256, write_json
from ..data import AbstractSplit, Trajectories, split_from_json

#: the version of the run-directory layout written by this physnet
RUN_FORMAT = 2
CONFIG_FILE = "config.json"
SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.json"
CHECKPOINT_DIR = "checkpoint"


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: unreadable {what} ({err})") from None


@dataclasses.dataclass(frozen=True)
class RunDirectory:
    """A run directory written by :func:`write_run` (``physnet train``).

    Attributes:
        path: the directory.
        config: the training options (``config.json``).
        split: the train/test split the run used, or ``None`` for a run written by physnet
            0.1 (which did not store it).
    """

    path: Path
    config: dict[str, Any]
    split: AbstractSplit | None

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDirectory:
        """Read a run directory's configuration and split.

        Raises:
            DataError: if ``path`` is not a run directory or its files are malformed.
        """
        path = Path(path)
        config_file = path / CONFIG_FILE
        if not config_file.is_file():
            raise DataError(f"not a physnet run directory (no {CONFIG_FILE}): {path}")
        config = _read_json(config_file, "run configuration")
        if not isinstance(config, dict):
            raise DataError(f"{config_file}: the run configuration must be a JSON object")
        split = None
        if (path / SPLIT_FILE).is_file():
            try:
                split = split_from_json(_read_json(path / SPLIT_FILE, "split"))
            except DataError as err:
                raise DataError(f"{path / SPLIT_FILE}: {err}") from None
        return cls(path, config, split)

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def metrics(self) -> dict[str, Any]:
        """The training metrics (``metrics.json``)."""
        return _read_json(self.path / METRICS_FILE, "metrics")

    def load_model(self):
        """The trained model (or ensemble) from ``checkpoint/``."""
        from ..training import load_model

        return load_model(self.checkpoint)

    def load_data(self) -> Trajectories:
        """The data file the run trained on, checked against the SHA-256 recorded at training.

        Raises:
            DataError: if the file is gone or has changed since training.
        """
        data = self.config.get("data")
        if not isinstance(data, str):
            raise DataError(f"{self.path / CONFIG_FILE}: no data file recorded")
        if not Path(data).is_file():
            raise DataError(
                f"the run's data file {data} no longer exists; pass another file with --data"
            )
        expected = self.config.get("data_sha256")
        if expected is not None and file_sha256(data) != expected:
            raise DataError(
                f"the run's data file {data} has changed since training (SHA-256 differs); "
                "evaluate on an explicit file with --data"
            )
        return Trajectories.load(data)

    def train_test(self) -> tuple[Trajectories, Trajectories]:
        """The run's training and test data, by the stored split.

        Raises:
            DataError: for a run without a stored split (physnet 0.1) or data that do not fit.
        """
        if self.split is None:
            raise DataError(
                f"{self.path} was written by physnet 0.1 and stores no train/test split; "
                "evaluate on an explicit file with --data, or train the run again"
            )
        return self.split.apply(self.load_data())


def write_run(
    out: str | os.PathLike,
    *,
    model,
    config: dict[str, Any],
    split: AbstractSplit,
    metrics: dict[str, Any],
    data_path: str | os.PathLike,
    data_metadata: dict[str, Any],
) -> Path:
    """Write a complete run directory atomically (nothing half-written on failure).

    Args:
        out: the directory to create.
        model: the trained model or ensemble.
        config: training options (JSON-serialisable); ``data``, ``data_sha256`` and
            ``run_format`` are added.
        split: the train/test split used.
        metrics: training metrics.
        data_path: the data file trained on.
        data_metadata: the data's metadata (stored with the checkpoint as ``system``).
    """
    from ..training import save_model

    out = Path(out)
    config = dict(config)
    config["data"] = str(Path(data_path).resolve())
    config["data_sha256"] = file_sha256(data_path)
    config["run_format"] = RUN_FORMAT
    with atomic_directory(out) as tmp:
        save_model(model, tmp / CHECKPOINT_DIR, extra={"system": data_metadata})
        write_json(tmp / CONFIG_FILE, config)
        write_json(tmp / SPLIT_FILE, split.to_json())
        write_json(tmp / METRICS_FILE, metrics)
    return out
