"""A task read from a file: a ``.npz`` of arrays, or a text table read by physnet.data's reader.

Text tables are read by the same reader as ``physnet import`` (:func:`physnet.data.from_table`):
comment lines starting with ``%`` or ``#``, an optional row of column names, comma- or
whitespace-separated, errors that name the line and column. Only the roles differ: here the
last ``targets`` columns are targets and the others inputs (no time column), so the table's
numbers are taken and split here. The ``.npz`` layout (arrays ``x``, ``y`` and optionally
``x_test``, ``y_test``) is compare's own: a :class:`~physnet.data.Trajectories` file holds
times and states, not inputs and targets.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import DataError
from ..data import Table
from ._tasks import ClassificationTask, RegressionTask, Task


def _read_npz(path: str):
    """``(x, y, test)`` from a ``.npz``; ``test`` is ``(x_test, y_test)`` or None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except (OSError, ValueError) as err:
        raise DataError(f"file_task: cannot read {path}: {err}") from None
    if "x" not in arrays or "y" not in arrays:
        raise DataError(f"file_task: {path} must hold arrays 'x' and 'y' (has {sorted(arrays)})")
    pair = [k for k in ("x_test", "y_test") if k in arrays]
    if len(pair) == 1:
        missing = ({"x_test", "y_test"} - set(pair)).pop()
        raise DataError(f"file_task: {path} has {pair[0]} but no {missing}; give both or neither")
    for k, a in arrays.items():
        if k in ("x", "y", "x_test", "y_test") and a.ndim == 0:
            raise DataError(f"file_task: {path}: {k} must be an array of rows, got a scalar")
    for xk, yk in (("x", "y"), ("x_test", "y_test")):
        if xk in arrays and len(arrays[xk]) != len(arrays[yk]):
            raise DataError(
                f"file_task: {path}: {xk} has {len(arrays[xk])} rows and {yk} "
                f"{len(arrays[yk])}; need one target row per input row"
            )
    test = None
    if pair:
        test = (arrays["x_test"].reshape(len(arrays["x_test"]), -1), arrays["y_test"])
    return arrays["x"].reshape(len(arrays["x"]), -1), arrays["y"], test


def _read_table(path: str, targets: int):
    """``(x, y, None)`` from a text table: inputs first, the last ``targets`` columns last."""
    table = Table(Path(path)).values
    if table.shape[1] <= targets:
        raise DataError(
            f"file_task: {path} has {table.shape[1]} columns; need more than "
            f"targets={targets} (inputs first, targets last)"
        )
    return table[:, :-targets], table[:, -targets:], None


def file_task(
    path: str | os.PathLike,
    *,
    targets: int = 1,
    classification: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Task:
    """A regression or classification task read from a ``.npz``, CSV or text file.

    A task from a table: a ``.npz`` with arrays ``x`` and ``y`` (and optionally ``x_test``,
    ``y_test``), or a ``.csv``/text file whose last ``targets`` columns are the targets (a
    header row of names is skipped). Without test arrays, a random ``test_fraction`` of the
    rows (seeded) is held out.

    Returns:
        a :class:`ClassificationTask` with ``classification=True``, else a
        :class:`RegressionTask`.

    Raises:
        DataError: if the file is unreadable, has too few columns or rows, or non-finite values.
    """
    path = os.fspath(path)
    x, y, test = _read_npz(path) if path.endswith(".npz") else _read_table(path, targets)
    task_cls = ClassificationTask if classification else RegressionTask
    name = os.path.splitext(os.path.basename(path))[0]
    if test is not None:
        return task_cls(name, (x, y), test, description=f"{path} (train and test arrays)")
    n = len(x)
    n_test = int(round(test_fraction * n))
    if n < 2 or not 1 <= n_test < n:
        raise DataError(
            f"file_task: {path} has {n} rows; need at least 2 rows and 0 < test_fraction "
            f"< 1 leaving both parts non-empty (got test_fraction={test_fraction})"
        )
    perm = np.random.default_rng(seed).permutation(n)
    x, y = x[perm], y[perm]
    return task_cls(
        name,
        (x[n_test:], y[n_test:]),
        (x[:n_test], y[:n_test]),
        description=f"{path}, {n - n_test} train / {n_test} test rows",
    )
