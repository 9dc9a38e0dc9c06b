"""Units of trajectories: per-component scales of rescaled data, and the way back.

Rescaled data hold ``y / s`` with the scales ``s`` in ``metadata["scales"]``; a state in the
file's units is ``s * y``. Time is never rescaled, so derivatives scale as states do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import ConfigError, DataError

if TYPE_CHECKING:
    from ._trajectories import Trajectories


def _along_last(scales, ndim: int) -> Array:
    """``scales`` (d,) shaped to broadcast on the last axis of an ``ndim`` array."""
    scales = jnp.asarray(scales, dtype=jnp.float64)
    return jnp.reshape(scales, (1,) * max(ndim - 1, 0) + scales.shape)


def scales(data: Trajectories) -> np.ndarray:
    """Per-component scales ``(d,)`` of ``data`` (ones when the data were not rescaled)."""
    found = data.metadata.get("scales")
    if found is None:
        return np.ones(data.state_size)
    return np.asarray(found, dtype=np.float64)


def to_units(data: Trajectories, values) -> Array:
    """``values`` (states or derivatives, last axis the state) scaled as ``data``, in the
    file's units: ``values * scales``."""
    values = jnp.asarray(values)
    return values * _along_last(scales(data), values.ndim)


def from_units(data: Trajectories, values) -> Array:
    """``values`` in the file's units scaled as ``data``: ``values / scales``."""
    values = jnp.asarray(values)
    return values / _along_last(scales(data), values.ndim)


def rescale(data: Trajectories, scale="std") -> Trajectories:
    """``data`` with every state component divided by a scale (see
    :meth:`Trajectories.rescaled <physnet.data.Trajectories.rescaled>`)."""
    if scale is None or (isinstance(scale, str) and scale == "none"):
        return data
    if isinstance(scale, str):
        if scale != "std":
            raise ConfigError(f"unknown scale {scale!r}; choose 'none', 'std' or numbers")
        values = np.asarray(data.states)[data.mask]
        s = values.std(axis=0)
        if np.any(s <= 0):
            bad = int(np.flatnonzero(s <= 0)[0])
            raise DataError(
                f"scale='std': state component {bad} is constant, so it has no scale; "
                "give the scales explicitly"
            )
    else:
        s = np.asarray(scale, dtype=np.float64).reshape(-1)
        if s.shape != (data.state_size,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise DataError(
                f"scales must be {data.state_size} positive finite numbers, got {scale!r}"
            )
    meta = dict(data.metadata)
    meta["scales"] = (scales(data) * s).tolist()
    inv = _along_last(1.0 / s, 3)
    return data._with_arrays(lambda a: jnp.asarray(a) * inv, metadata=meta)


def unscale(data: Trajectories) -> Trajectories:
    """``data`` in the file's units (``metadata["scales"]`` removed)."""
    if "scales" not in data.metadata:
        return data
    meta = {k: v for k, v in data.metadata.items() if k != "scales"}
    s = _along_last(scales(data), 3)
    return data._with_arrays(lambda a: jnp.asarray(a) * s, metadata=meta)
