"""Measured trajectories in: text/CSV tables (their rows grouped into trials by
:func:`._rows.from_arrays`) and positions-only records (:func:`from_positions`).

A table holds one observation per row: a time column, state columns, optionally a trial column
(rows of several trials in one file) and derivative columns. Comment lines starting with ``%``
or ``#`` are skipped; a leading comment line (or a first row of non-numeric cells) whose names
match the column count names the columns. Every malformed input raises one
:class:`~physnet.DataError` line naming the line, the column and the fix; nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import DataError
from .._io import file_sha256
from ..signals import INTERPOLATIONS
from ._finite_differences import velocity_states
from ._rows import from_arrays
from ._trajectories import Trajectories

_COMMENT = ("%", "#")


# ----------------------------------------------------------------------------- tables
def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _split(line: str, csv: bool) -> list[str]:
    if csv:
        return [c.strip() for c in line.split(",")]
    return line.split()


def _as_list(value, what: str) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, int | np.integer):
        return [int(value)]
    try:
        return list(value)
    except TypeError:
        raise DataError(f"{what} must be a column or a list of columns, got {value!r}") from None


class Table:
    """The numeric cells of a text table with line numbers and the column names if any."""

    def __init__(self, path: Path):
        try:
            text = path.read_text(encoding="utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
        except FileNotFoundError:
            raise DataError(f"data file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: not a readable text file ({err})") from None
        self.path = path
        comments: list[tuple[int, str]] = []
        rows: list[list[float]] = []
        lines: list[int] = []
        self.csv = None
        self.header: list[str] | None = None
        self.header_line: tuple[int, str] | None = None
        ncols = None
        first_line = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith(_COMMENT):
                if not rows and self.header is None:
                    comments.append((number, line))
                continue
            if self.csv is None:
                self.csv = "," in line
            cells = _split(line, self.csv)
            if ncols is None:
                if not rows and self.header is None and not any(_is_number(c) for c in cells):
                    self.header = cells
                    self.header_line = (number, line)
                    ncols = len(cells)
                    first_line = number
                    continue
                ncols, first_line = len(cells), number
            if len(cells) != ncols:
                raise DataError(
                    f"{path}: line {number} has {len(cells)} column(s), expected {ncols} "
                    f"(as line {first_line}); every row needs the same columns"
                )
            values = []
            for j, cell in enumerate(cells):
                try:
                    values.append(float(cell))
                except ValueError:
                    raise DataError(
                        f"{path}: line {number}, column {j}: {cell!r} is not a number"
                    ) from None
            rows.append(values)
            lines.append(number)
        if not rows:
            raise DataError(f"{path}: no data rows (only comments or blank lines)")
        self.ncols = int(ncols)
        self.values = np.asarray(rows, dtype=np.float64)
        self.lines = lines
        if self.header is None:
            for number, line in reversed(comments):
                names = _split(line.lstrip("%#").strip(), bool(self.csv))
                if len(names) == self.ncols:
                    self.header, self.header_line = names, (number, line)
                    break
            else:
                if comments:
                    self.header_line = comments[-1]

    def column(self, spec, role: str) -> int:
        """The 0-based index of column ``spec`` (an index or a header name)."""
        if isinstance(spec, int | np.integer) and not isinstance(spec, bool):
            index = int(spec)
        elif isinstance(spec, str) and spec.strip().lstrip("-").isdigit():
            index = int(spec)
        elif isinstance(spec, str):
            name = spec.strip()
            if self.header is None:
                if self.header_line is not None:
                    number, line = self.header_line
                    count = len(_split(line.lstrip("%#").strip(), bool(self.csv)))
                    raise DataError(
                        f"{self.path}: {role} column {name!r} is given by name, but the header "
                        f"on line {number} ({line!r}) names {count} column(s) and the data have "
                        f"{self.ncols}; give columns by 0-based index"
                    )
                raise DataError(
                    f"{self.path}: {role} column {name!r} is given by name, but the file has no "
                    "header line; give columns by 0-based index"
                )
            if name not in self.header:
                raise DataError(
                    f"{self.path}: unknown {role} column {name!r}; the header names "
                    f"{', '.join(self.header)}"
                )
            if self.header.count(name) > 1:
                raise DataError(
                    f"{self.path}: the header names column {name!r} twice; give it by index"
                )
            index = self.header.index(name)
        else:
            raise DataError(f"{role} column must be an index or a name, got {spec!r}")
        if not 0 <= index < self.ncols:
            raise DataError(
                f"{self.path}: {role} column {index} does not exist; the file has {self.ncols} "
                f"columns (0 to {self.ncols - 1})"
            )
        return index

    def name(self, index: int) -> str | None:
        return None if self.header is None else self.header[index]


def from_table(
    path: str | os.PathLike,
    *,
    time,
    states,
    trial=None,
    derivatives=None,
    names=None,
    scale=None,
    positions_only: bool = False,
    metadata: dict[str, Any] | None = None,
    inputs=None,
    input_interpolation: str = "linear",
):
    """Trajectories read from a CSV or whitespace-separated text file, one observation a row.

    Columns (``COL``) are 0-based indices or header names. Comment lines starting with ``%``
    or ``#`` are skipped; a leading comment line names the columns when its name count matches
    the column count (else names cannot be used: give indices). A CSV file (a comma on the
    first data row) may also start with a row of names. Times are kept as recorded
    (non-uniform, dropped frames); rows are grouped into trials by the ``trial`` column in
    order of first appearance (:meth:`Trajectories.from_arrays`).

    Args:
        path: the text file.
        time: the time column.
        states: the state columns (a list, or a comma-separated string): positions and
            velocities ``(q, q̇)``, or positions ``q`` only with ``positions_only=True``.
        trial: the trial column, or ``None`` for one trial.
        derivatives: the columns of dy/dt, one per state column, or ``None``.
        names: a name per state column (default: the header's names, else ``y0, y1, ...``).
        scale: ``None``/``"none"`` (file units, default), ``"std"`` (each component divided
            by its standard deviation) or numbers; see :meth:`Trajectories.rescaled`.
            Derivatives are divided by the same scales (time is not rescaled);
            ``metadata["scales"]`` keeps them so :meth:`Trajectories.to_units` gives results
            in the file's units.
        positions_only: the state columns are positions q only; ``metadata["positions_only"]``
            records it (:meth:`Trajectories.with_velocities` estimates q̇).
        metadata: extra metadata stored on the result.
        inputs: the columns of measured inputs u (a torque, a force, a voltage), a list or a
            comma-separated string, or ``None``: ``Trajectories.inputs``.
        input_interpolation: what the inputs do between samples: ``"zoh"`` (held, a digital
            actuator), ``"linear"`` (default) or ``"cubic"``.

    Returns:
        :class:`Trajectories` with ``metadata`` holding ``source``, ``sha256``, ``columns``
        and ``names``.

    Raises:
        DataError: one line for a missing file, ragged rows (line number), non-numeric cells
            (line and column), NaN/inf in a used column, times that repeat or go backwards
            within a trial, a trial of fewer than 3 rows, unknown column names, names given
            while the header does not match the column count, a column used twice, or
            ``names`` of the wrong length.
    """
    path = Path(path)
    table = Table(path)
    roles: list[tuple[str, int]] = [("time", table.column(time, "time"))]
    state_specs = _as_list(states, "states")
    if not state_specs:
        raise DataError("states: give at least one state column")
    state_cols = [table.column(c, "state") for c in state_specs]
    roles += [("state", c) for c in state_cols]
    trial_col = None if trial is None else table.column(trial, "trial")
    if trial_col is not None:
        roles.append(("trial", trial_col))
    deriv_cols = [table.column(c, "derivative") for c in _as_list(derivatives, "derivatives")]
    if deriv_cols and len(deriv_cols) != len(state_cols):
        raise DataError(
            f"derivatives: give one column per state column ({len(state_cols)}), got "
            f"{len(deriv_cols)}"
        )
    roles += [("derivative", c) for c in deriv_cols]
    input_cols = [table.column(c, "input") for c in _as_list(inputs, "inputs")]
    roles += [("input", c) for c in input_cols]
    seen: dict[int, str] = {}
    for role, col in roles:
        if col in seen:
            raise DataError(
                f"{path}: column {col} is used twice ({seen[col]} and {role}); each column "
                "can have one role"
            )
        seen[col] = role
    for role, col in roles:
        bad = ~np.isfinite(table.values[:, col])
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"{path}: line {table.lines[i]}, column {col} ({role}): "
                f"{table.values[i, col]} (NaN or inf); remove or fill the row"
            )
    name_list = _as_list(names, "names")
    if not name_list:
        default = "q" if positions_only else "y"
        name_list = [table.name(c) or f"{default}{i}" for i, c in enumerate(state_cols)]
    if len(name_list) != len(state_cols) or len(set(name_list)) != len(name_list):
        raise DataError(
            f"names: give {len(state_cols)} distinct names (one per state column), got "
            f"{name_list!r}"
        )
    meta: dict[str, Any] = {
        "source": path.name,
        "sha256": file_sha256(path),
        "columns": {
            "time": roles[0][1],
            "states": state_cols,
            "trial": trial_col,
            "derivatives": deriv_cols or None,
            **({"inputs": input_cols} if input_cols else {}),
        },
        "names": [str(n) for n in name_list],
    }
    if positions_only:
        meta["positions_only"] = True
    if input_cols:
        if input_interpolation not in INTERPOLATIONS:
            raise DataError(
                f"input_interpolation must be one of {', '.join(INTERPOLATIONS)}, got "
                f"{input_interpolation!r}"
            )
        meta["input_interpolation"] = input_interpolation
    meta.update(metadata or {})
    v = table.values
    labels = [f"line {n}" for n in table.lines]
    try:
        data = from_arrays(
            v[:, roles[0][1]],
            v[:, state_cols],
            v[:, deriv_cols] if deriv_cols else None,
            None if trial_col is None else v[:, trial_col],
            metadata=meta,
            trajectories=Trajectories,
            row_labels=labels,
            inputs=v[:, input_cols] if input_cols else None,
        )
    except DataError as err:
        raise DataError(f"{path}: {err}") from None
    return data.rescaled(scale)


def from_positions(
    ts,
    positions: Array,
    method: str = "central",
    *,
    window_length: int = 7,
    polyorder: int = 3,
    metadata: dict | None = None,
    lengths=None,
) -> Trajectories:
    """Trajectories with states (q, q̇) from observed positions q only, q̇ estimated.

    For Lagrangian models (:class:`physnet.LNN`), whose state is (q, q̇): train them on these
    states with the trajectory loss, ideally ``TrajectoryLoss(observe="positions")`` so only
    the observed q enter the loss and the estimated q̇ serve as initial conditions.

    Args:
        ts: recording times, shape ``(T,)`` or ``(B, T)`` per trajectory.
        positions: observed q, shape ``(B, T, N)``.
        method, window_length, polyorder: the velocity estimator
            (:func:`~physnet.data.derivative_weights`).
        metadata: stored on the result (``"velocities"`` is added).
        lengths: valid observations per trajectory ``(B,)`` for ragged data, or ``None``.

    Returns:
        :class:`Trajectories` with states ``(B, T, 2N)`` and no derivatives.

    Raises:
        DataError: if ``positions`` is not ``(B, T, N)`` with ``T = len(ts)``.
    """
    states, velocities = velocity_states(
        ts, positions, method, window_length=window_length, polyorder=polyorder, lengths=lengths
    )
    meta = dict(metadata or {})
    meta["velocities"] = velocities
    return Trajectories(ts=jnp.asarray(ts), states=states, metadata=meta, lengths=lengths)
