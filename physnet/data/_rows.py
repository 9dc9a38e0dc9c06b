"""Trajectories from flat rows, as in a table: one observation per row, grouped into
trajectories (trials) by an id, each keeping its recorded times.

:func:`from_arrays` takes the container class as an argument, so
:meth:`Trajectories.from_arrays <physnet.data.Trajectories.from_arrays>` calls it without an
import circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from .._errors import DataError

if TYPE_CHECKING:
    from ._trajectories import Trajectories

#: trials need at least this many observations (a derivative stencil and a test point)
MIN_TRIAL_POINTS = 3


def _id_text(value) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _json_id(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def from_arrays(
    times,
    states,
    derivatives=None,
    trajectory_ids=None,
    *,
    metadata: dict[str, Any] | None = None,
    trajectories: type[Trajectories],
    row_labels: Sequence[str] | None = None,
    inputs=None,
) -> Trajectories:
    """See :meth:`physnet.data.Trajectories.from_arrays`; ``trajectories`` is the class to
    build and ``row_labels`` name the rows in messages, e.g. ``"line 12"`` (default
    ``"row i"``)."""
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(states, dtype=np.float64)
    if t.ndim != 1:
        raise DataError(f"from_arrays: times must have shape (n,), got {t.shape}")
    n = t.shape[0]
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise DataError(f"from_arrays: states must have shape ({n}, d), got {y.shape}")
    dy = None
    if derivatives is not None:
        dy = np.asarray(derivatives, dtype=np.float64)
        if dy.ndim == 1:
            dy = dy[:, None]
        if dy.shape != y.shape:
            raise DataError(
                f"from_arrays: derivatives must have the shape of states {y.shape}, got {dy.shape}"
            )
    u = None
    if inputs is not None:
        u = np.asarray(inputs, dtype=np.float64)
        u = u[:, None] if u.ndim == 1 else u
        if u.ndim != 2 or u.shape[0] != n:
            raise DataError(f"from_arrays: inputs must have shape ({n}, m), got {u.shape}")
    label = (lambda i: row_labels[i]) if row_labels is not None else (lambda i: f"row {i}")
    for name, arr in (("times", t), ("states", y), ("derivatives", dy), ("inputs", u)):
        if arr is None:
            continue
        bad = ~np.isfinite(arr.reshape(n, -1)).all(axis=1)
        if bad.any():
            raise DataError(f"from_arrays: {name} at {label(int(np.argmax(bad)))} is NaN or inf")
    if trajectory_ids is None:
        ids = np.zeros(n)
    else:
        ids = np.asarray(trajectory_ids)
        if ids.shape != (n,):
            raise DataError(f"from_arrays: trajectory_ids must have shape ({n},), got {ids.shape}")
    if n == 0:
        raise DataError("from_arrays: no rows")
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    groups = [np.flatnonzero(inverse == g) for g in np.argsort(first, kind="stable")]
    order_ids = [uniq[g] for g in np.argsort(first, kind="stable")]
    for tid, rows in zip(order_ids, groups, strict=True):
        if rows.size < MIN_TRIAL_POINTS:
            raise DataError(
                f"trial {_id_text(tid)} has {rows.size} observation(s); a trial needs at least "
                f"{MIN_TRIAL_POINTS} (drop it from the file)"
            )
        steps = np.diff(t[rows])
        if np.any(steps <= 0):
            k = int(np.argmax(steps <= 0))
            what = "repeats" if steps[k] == 0 else "goes backwards from"
            raise DataError(
                f"trial {_id_text(tid)}: time {t[rows[k + 1]]:g} at {label(int(rows[k + 1]))} "
                f"{what} {t[rows[k]]:g} at {label(int(rows[k]))}; times must strictly increase "
                "within a trial"
            )
    lengths = np.array([rows.size for rows in groups], dtype=np.int64)
    width = int(lengths.max())
    shared = np.all(lengths == width) and all(
        np.array_equal(t[rows], t[groups[0]]) for rows in groups
    )
    # padding: values repeat the last observation, times continue with the last step
    k = np.arange(width)
    src = np.stack([rows[np.minimum(k, rows.size - 1)] for rows in groups])
    extra = np.maximum(k[None, :] - (lengths[:, None] - 1), 0)
    last_step = np.array([t[rows[-1]] - t[rows[-2]] for rows in groups])
    ts = t[src] + extra * last_step[:, None]
    meta = dict(metadata or {})
    meta["trajectory_ids"] = [_json_id(i) for i in order_ids]
    return trajectories(
        ts=jnp.asarray(ts[0] if shared else ts),
        states=jnp.asarray(y[src]),
        derivatives=None if dy is None else jnp.asarray(dy[src]),
        metadata=meta,
        lengths=lengths,
        inputs=None if u is None else jnp.asarray(u[src]),
    )
