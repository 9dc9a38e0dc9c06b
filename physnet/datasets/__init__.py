"""Measured data sets shipped with physnet: real motion-tracking records with provenance.

Three records of Schmidt & Lipson (2009) ship inside the package (``physnet/datasets/data``,
with ``PROVENANCE.md``), so a fresh install needs nothing else. Every :func:`load` checks the
file's SHA-256 against the published checksum and returns :class:`~physnet.data.Trajectories`
in the file's own units (seconds, radians, pixels) with its units, column meanings and
provenance in ``metadata``:

- ``"real-pendulum"`` (``real_pend_h_1.txt``): one trial, state (θ, ω), 556 observations at
  non-uniform times (dropped frames); no derivatives (estimate them, e.g.
  ``data.with_estimated_derivatives("forward")`` for the HNN paper's protocol).
- ``"real-oscillator"`` (``real_linear_h_1.txt``): one trial, state (x, v), 870 observations;
  x in integer pixels, so rescale (``scale="std"``) before training.
- ``"real-double-pendulum"`` (``real_double_pend_h_1.txt``): two trials of 819 and 701
  observations, state (θ1, θ2, ω1, ω2) with derivatives (ω1, ω2, α1, α2) from the file (its
  repeated ω columns and its angular accelerations, estimated by the original authors: data,
  not ground truth).
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

from .._errors import ConfigError, DataError
from .._io import file_sha256
from ..data import Trajectories, from_table

_PAPER = (
    "M. Schmidt and H. Lipson, Distilling free-form natural laws from experimental data, "
    "Science 324(5923):81-85, 2009"
)
_ARCHIVE = "invar_datasets (supplementary data of Schmidt & Lipson 2009)"


@dataclasses.dataclass(frozen=True)
class _Spec:
    file: str
    sha256: str
    description: str
    states: tuple[int, ...]
    names: tuple[str, ...]
    units: dict[str, str]
    columns: tuple[str, ...]
    rows: int
    trials: int
    derivatives: tuple[int, ...] | None = None
    derivative_names: tuple[str, ...] | None = None
    notes: str = ""


_DATASETS: dict[str, _Spec] = {
    "real-pendulum": _Spec(
        file="real_pend_h_1.txt",
        sha256="45d92988198b89a5933f5a53e67aa819d06937516f71a462ac09e1307d8b3411",
        description="a real, damped pendulum (one trial, dropped frames)",
        states=(2, 3),
        names=("theta", "omega"),
        units={"t": "s", "theta": "rad", "omega": "rad/s"},
        columns=("trial", "t", "theta", "omega = dtheta/dt"),
        rows=556,
        trials=1,
        notes="Greydanus et al. 2019 (HNN) and Sosanya & Greydanus 2022 (dissipative HNN) "
        "report energy MSE along the last 20 % with the energy 2.4(1 - cos theta) + omega^2",
    ),
    "real-oscillator": _Spec(
        file="real_linear_h_1.txt",
        sha256="bf11e50703376b82566b635771de23845a2546e4b733beb49588c7af4eec26cc",
        description="a real, lightly damped linear oscillator (one trial)",
        states=(2, 3),
        names=("x", "v"),
        units={"t": "s", "x": "px", "v": "px/s"},
        columns=("trial", "t", "x (tracked position, integer pixels)", "v = dx/dt"),
        rows=870,
        trials=1,
        notes="positions are integers, so velocities carry quantisation noise; rescale",
    ),
    "real-double-pendulum": _Spec(
        file="real_double_pend_h_1.txt",
        sha256="9ea97ad3b1c6b83b2762f1c84760bfd55638809436a8ece0c2dfffb96ddaec37",
        description="a real double pendulum (two trials, chaotic, unwrapped angles)",
        states=(2, 3, 4, 5),
        names=("theta1", "theta2", "omega1", "omega2"),
        units={
            "t": "s",
            "theta1": "rad",
            "theta2": "rad",
            "omega1": "rad/s",
            "omega2": "rad/s",
        },
        columns=(
            "trial",
            "t",
            "theta1",
            "theta2",
            "omega1",
            "omega2",
            "omega1 (repeated)",
            "omega2 (repeated)",
            "alpha1 = domega1/dt",
            "alpha2 = domega2/dt",
        ),
        rows=1520,
        trials=2,
        derivatives=(6, 7, 8, 9),
        derivative_names=("omega1", "omega2", "alpha1", "alpha2"),
        notes="derivatives are the file's omega (repeated columns) and alpha, estimated by "
        "the original authors from the tracked angles",
    ),
}


def names() -> tuple[str, ...]:
    """The names of the shipped data sets."""
    return tuple(_DATASETS)


def _spec(name: str) -> _Spec:
    if name not in _DATASETS:
        raise ConfigError(f"unknown data set {name!r}; choose one of {', '.join(_DATASETS)}")
    return _DATASETS[name]


def path(name: str) -> Path:
    """The packaged text file of data set ``name``."""
    return Path(str(resources.files(__name__).joinpath("data", _spec(name).file)))


def info(name: str) -> dict[str, Any]:
    """Describe a shipped data set: file, shape, units, columns and provenance.

    Description of data set ``name``: file, rows, trials, state names, units, column
    meanings and provenance (paper, original archive, SHA-256), JSON-serialisable.

    Raises:
        ConfigError: for an unknown name.
    """
    spec = _spec(name)
    return {
        "name": name,
        "description": spec.description,
        "file": spec.file,
        "rows": spec.rows,
        "trials": spec.trials,
        "state": list(spec.names),
        "derivatives": None if spec.derivative_names is None else list(spec.derivative_names),
        "units": dict(spec.units),
        "file_columns": list(spec.columns),
        "provenance": {
            "paper": _PAPER,
            "archive": _ARCHIVE,
            "file": spec.file,
            "sha256": spec.sha256,
        },
        "notes": spec.notes,
    }


def load(name: str, *, scale=None) -> Trajectories:
    """Data set ``name`` as :class:`~physnet.data.Trajectories` in the file's units.

    The file's SHA-256 is checked against the published checksum first.

    Args:
        name: one of :func:`names`.
        scale: ``None`` (file units), ``"std"`` or numbers: see
            :meth:`~physnet.data.Trajectories.rescaled` (``metadata["scales"]`` keeps them).

    Returns:
        Trajectories with ``metadata`` holding ``dataset``, ``names``, ``units``,
        ``file_columns`` and ``provenance``.

    Raises:
        ConfigError: for an unknown name.
        DataError: if the packaged file is missing or its checksum differs.
    """
    spec = _spec(name)
    file = path(name)
    if not file.is_file():
        raise DataError(f"data set {name!r}: the packaged file {file} is missing; reinstall")
    digest = file_sha256(file)
    if digest != spec.sha256:
        raise DataError(
            f"data set {name!r}: {file} has SHA-256 {digest}, expected {spec.sha256}; the "
            "packaged copy is damaged, reinstall physnet"
        )
    details = info(name)
    meta = {
        "dataset": name,
        "description": spec.description,
        "units": details["units"],
        "file_columns": details["file_columns"],
        "provenance": details["provenance"],
        "notes": spec.notes,
    }
    if spec.derivative_names is not None:
        meta["derivative_names"] = list(spec.derivative_names)
    return from_table(
        file,
        time=1,
        states=list(spec.states),
        trial=0,
        derivatives=None if spec.derivatives is None else list(spec.derivatives),
        names=list(spec.names),
        scale=scale,
        metadata=meta,
    )
