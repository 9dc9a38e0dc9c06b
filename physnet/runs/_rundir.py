"""Run directories: what ``physnet train`` writes and ``physnet evaluate`` reads.

A run directory holds

- ``config.json``: the training options (model, approximator, loss, steps, seed, ...), the data
  file's path and its SHA-256, and ``run_format``;
- ``split.json``: the train/test split the run used (:mod:`physnet.data._split`);
- ``checkpoint/``: the model (:func:`physnet.save_model`);
- ``metrics.json``: the training metrics;
- ``training.npz``: the training state (parameters, optimizer state, step, keys), saved
  periodically while training runs, so an interrupted run resumes to the bit
  (``physnet train --resume RUN``);
- ``.physnet-output``: the marker that makes it a physnet output (:mod:`physnet._io`);
- ``.lock``: locked (``fcntl.flock``) by the process writing the run, from the start of
  training to its end, so two processes never write one run at once (:func:`lock_run`).

``config.json`` stores the data file's absolute path (``data``) and its path relative to the
run directory (``data_relative``): a run directory copied or moved together with its data
finds them again (the SHA-256 is still checked).

``config.json`` records ``status``: ``"training"`` while training runs (or after it was
interrupted), ``"diverged"`` (the checkpoint holds the last good parameters) or
``"complete"``, and ``provenance``: physnet and JAX versions, the data's system and
parameters.

Everything a later command needs is read from here; nothing is re-derived by replaying the
random keys of the training run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jax

from .._errors import ConfigError, DataError
from .._io import (
    LOCK_FILE,
    OutputWriteError,
    atomic_directory,
    check_output,
    file_sha256,
    foreign_entries,
    replace_directory,
    write_json,
    write_marker,
)
from .._version import __version__
from ..data import AbstractSplit, Trajectories, split_from_json

RUN_FORMAT = 2
"""The version of the run-directory layout that this physnet writes."""
CONFIG_FILE = "config.json"
SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.json"
CHECKPOINT_DIR = "checkpoint"
TRAINING_FILE = "training.npz"
#: ``config["status"]`` values
STATUSES = ("training", "diverged", "complete")


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
        status = config.get("status", "complete")
        if status not in STATUSES:
            raise DataError(f"{config_file}: unknown status {status!r} (one of {STATUSES})")
        split = None
        if (path / SPLIT_FILE).is_file():
            try:
                split = split_from_json(_read_json(path / SPLIT_FILE, "split"))
            except DataError as err:
                raise DataError(f"{path / SPLIT_FILE}: {err}") from None
            except Exception as err:  # a JSON value of the wrong type somewhere
                raise DataError(f"{path / SPLIT_FILE}: malformed split ({err!s:.120})") from None
        return cls(path, config, split)

    @property
    def status(self) -> str:
        """``"training"``, ``"diverged"`` or ``"complete"`` (runs of physnet 0.1: complete)."""
        return self.config.get("status", "complete")

    @property
    def training_state(self) -> Path:
        """The training checkpoint (``training.npz``) a resumed training continues from."""
        return self.path / TRAINING_FILE

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def metrics(self) -> dict[str, Any]:
        """The training metrics (``metrics.json``)."""
        return _read_json(self.path / METRICS_FILE, "metrics")

    def load_model(self):
        """The trained model (or ensemble) from ``checkpoint/``.

        Raises:
            DataError: for a run whose training has not finished (resume it first) or a
                damaged checkpoint.
        """
        from .._checkpoint import load_model

        if self.status == "training":
            raise DataError(
                f"{self.path}: training has not finished (interrupted?); resume it with "
                f"physnet train --resume {self.path}"
            )
        return load_model(self.checkpoint)

    def data_path(self):
        """The data file the run trained on: ``config["data"]`` (absolute), or, where that is
        gone, the file at ``data_relative`` from the run directory (a run copied or moved
        with its data); ``config["data"]`` as stored when neither exists."""
        data = self.config.get("data")
        relative = self.config.get("data_relative")
        if isinstance(data, str) and Path(data).is_file():
            return data
        if isinstance(relative, str) and (self.path / relative).is_file():
            return str(self.path / relative)
        return data

    def load_data(self) -> Trajectories:
        """The data file the run trained on, checked against the SHA-256 recorded at training.

        Raises:
            DataError: if the file is gone or has changed since training.
        """
        data = self.data_path()
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
        return self.split.apply(self.in_training_units(self.load_data()))

    @property
    def scales(self) -> list[float] | None:
        """The per-component scales the run trained with (``config.json``'s ``scale``), or
        None for a run trained in the file's units."""
        scale = self.config.get("scale")
        return [float(v) for v in scale] if isinstance(scale, list) else None

    def in_training_units(self, data: Trajectories) -> Trajectories:
        """``data`` (in a file's units) divided by the run's training scales, as the model
        sees states (data that carry scales of their own are first brought back to the
        file's units); unchanged for a run trained in the file's units."""
        scales = self.scales
        if scales is None:
            return data
        from ..data._units import rescale, unscale

        return rescale(unscale(data), scales)


def run_config(
    config: dict[str, Any], *, data_path: str | os.PathLike, data_metadata: dict[str, Any]
) -> dict[str, Any]:
    """``config`` with what the run used: the data file's path and SHA-256, the data's
    system and parameters, physnet and JAX versions, ``run_format`` and ``status``."""
    import jax

    config = dict(config)
    config["data"] = str(Path(data_path).resolve())
    config["data_sha256"] = file_sha256(data_path)
    config["provenance"] = {
        "system": data_metadata.get("system"),
        "parameters": data_metadata.get("parameters"),
        **{k: data_metadata[k] for k in ("system_class",) if k in data_metadata},
        "physnet": __version__,
        "jax": jax.__version__,
    }
    config["run_format"] = RUN_FORMAT
    config.setdefault("status", "training")
    return config


def _with_relative_data(config: dict[str, Any], out: Path) -> dict[str, Any]:
    if isinstance(config.get("data"), str):
        try:
            relative = os.path.relpath(config["data"], os.path.abspath(out))
        except ValueError:  # another drive (Windows)
            return config
        config = {**config, "data_relative": relative}
    return config


#: run locks this process holds: real path of the run -> open file descriptor
_HELD: dict[str, int] = {}


def lock_run(path: str | os.PathLike) -> None:
    """Lock the run directory ``path`` for this process (``fcntl.flock`` on ``RUN/.lock``,
    non-blocking); a lock this process already holds is kept. The operating system releases
    it when the process ends, however it ends, so a dead process never blocks a run.

    Raises:
        ConfigError: one line, when another process holds the lock.
    """
    import fcntl

    path = Path(path)
    key = os.path.realpath(path)
    if key in _HELD:
        return
    try:
        fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:  # a read-only folder, ...
        raise ConfigError(
            f"{path}: cannot write its lock file {LOCK_FILE} ({err.strerror})"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"{path} is being written by another physnet process (pid {pid}); wait for it to "
            "end or choose another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _HELD[key] = fd


def unlock_run(path: str | os.PathLike) -> None:
    """Release this process's lock on the run directory ``path`` (if held)."""
    fd = _HELD.pop(os.path.realpath(path), None)
    if fd is not None:
        os.close(fd)


def holds_run_lock(fn):
    """Decorate ``train_run``/``resume_run``/``evaluate_run``: a resumed run is locked before
    anything is read or written (:func:`lock_run`), and every run lock taken during the call
    is released when it returns or raises (interrupted, diverged, refused)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = set(_HELD)
        try:
            if fn.__name__ == "resume_run":
                run = args[0] if args else kwargs.get("run")
            elif kwargs.get("resume"):
                run = args[1] if len(args) > 1 else kwargs.get("out")
            else:
                run = None
            if run is not None and Path(run).is_dir() and jax.process_index() == 0:
                lock_run(run)  # process 0 of a distributed run writes, and locks
            return fn(*args, **kwargs)
        finally:
            for key in set(_HELD) - before:
                unlock_run(key)

    return wrapper


def start_run(
    out: str | os.PathLike,
    *,
    config: dict[str, Any],
    split: AbstractSplit,
    overwrite: bool = False,
    inputs=(),
) -> Path:
    """Create the run directory ``out`` (status ``"training"``) with its configuration and
    split, before training starts, so training checkpoints land in it; the run is locked for
    this process (:func:`lock_run`) until the training call returns.

    ``out`` must be new, empty or (with ``overwrite``) a previous physnet run holding only
    physnet's files, which are then replaced (:func:`physnet._io.check_output`).

    Raises:
        ConfigError: if ``out`` is refused, or another physnet process is writing it.
    """
    check_output(out, "run", overwrite=overwrite, inputs=inputs)
    path = Path(os.path.abspath(out))
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    # the loser of two processes starting the same run leaves the folder alone (the winner
    # may have locked a folder the loser created)
    lock_run(Path(out))  # named as the user named it
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".tmp"))
    try:
        check_output(path, "run", overwrite=overwrite, inputs=inputs)  # again, under the lock
        os.chmod(tmp, 0o777 & ~_umask())
        write_json(tmp / CONFIG_FILE, _with_relative_data(config, path))
        write_json(tmp / SPLIT_FILE, split.to_json())
        write_marker(tmp, "run", files=[CONFIG_FILE, SPLIT_FILE])
        replace_directory(tmp, path, keep={LOCK_FILE})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        unlock_run(path)
        if created and all(e.name == LOCK_FILE for e in path.iterdir()):
            shutil.rmtree(path, ignore_errors=True)  # only the folder this call made, empty
        raise
    return Path(out)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def finish_run(
    out: str | os.PathLike,
    *,
    model,
    metrics: dict[str, Any],
    data_metadata: dict[str, Any],
    status: str = "complete",
) -> Path:
    """Write the trained model (``checkpoint/``) and ``metrics.json`` into a started run and
    set its status; each file is replaced atomically, ``config.json`` last.

    Raises:
        OutputWriteError: one line, when the disk is full (or another write error): the
            training state in the run is intact, and the run resumes from it.
    """
    from .._checkpoint import save_model

    out = Path(out)
    run = RunDirectory.open(out)
    tmp = out / f".{CHECKPOINT_DIR}.new"
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        save_model(model, tmp, extra={"system": data_metadata})
        previous = out / CHECKPOINT_DIR
        yours = foreign_entries(previous, "checkpoint") if previous.is_dir() else []
        replace_directory(tmp, previous, keep=yours)  # a file of yours in it stays
        write_json(out / METRICS_FILE, metrics)
        write_json(out / CONFIG_FILE, {**run.config, "status": status})
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = (
            f"its training state {out / TRAINING_FILE} is intact: free space, then resume with "
            f"physnet train --resume {out}"
            if (out / TRAINING_FILE).is_file()
            else "train it again once there is space"
        )
        raise OutputWriteError(
            f"could not write the trained model into {out} ({err.strerror or err}); {kept}"
        ) from None
    return out


def write_run(
    out: str | os.PathLike,
    *,
    model,
    config: dict[str, Any],
    split: AbstractSplit,
    metrics: dict[str, Any],
    data_path: str | os.PathLike,
    data_metadata: dict[str, Any],
    overwrite: bool = False,
) -> Path:
    """Write a complete run directory atomically (nothing half-written on failure).

    Args:
        out: the directory to create: new, empty, or (with ``overwrite``) a physnet run.
        model: the trained model or ensemble.
        config: training options (JSON-serialisable); ``data``, ``data_sha256``,
            ``provenance``, ``run_format`` and ``status`` are added (:func:`run_config`).
        split: the train/test split used.
        metrics: training metrics.
        data_path: the data file trained on.
        data_metadata: the data's metadata (stored with the checkpoint as ``system``).
        overwrite: replace a previous physnet run at ``out``.

    Raises:
        ConfigError: if ``out`` is refused (:func:`physnet._io.check_output`).
    """
    from .._checkpoint import save_model

    config = run_config(
        {**config, "status": "complete"}, data_path=data_path, data_metadata=data_metadata
    )
    with atomic_directory(out, "run", overwrite=overwrite, inputs=[data_path]) as tmp:
        save_model(model, tmp / CHECKPOINT_DIR, extra={"system": data_metadata})
        write_json(tmp / CONFIG_FILE, _with_relative_data(config, Path(out)))
        write_json(tmp / SPLIT_FILE, split.to_json())
        write_json(tmp / METRICS_FILE, metrics)
    return Path(out)
