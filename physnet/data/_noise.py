"""Observation noise added to trajectories."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import DataError

if TYPE_CHECKING:
    from ._trajectories import Trajectories


def add_noise(
    data: Trajectories, sigma: float, *, key: Array, derivatives: bool = True
) -> Trajectories:
    """``data`` with independent N(0, σ²) noise added to the states (and derivatives).

    The noise-free arrays are kept as ``clean_states``/``clean_derivatives`` (those of the
    first noise, when noise is added twice); ``metadata["noise"]`` holds the combined σ.
    Padding of ragged data stays noise-free (a copy of the last valid observation).

    Args:
        data: the trajectories.
        sigma: the noise's standard deviation, finite and >= 0.
        key: PRNG key.
        derivatives: add noise to the derivatives too (when the data have them).

    Raises:
        DataError: for a negative or non-finite ``sigma``.
    """
    if not (sigma >= 0 and np.isfinite(sigma)):
        raise DataError(f"noise sigma must be finite and >= 0, got {sigma!r}")
    k1, k2 = jax.random.split(key)
    clean_y = data.states if data.clean_states is None else data.clean_states
    clean_dy = data.derivatives if data.clean_derivatives is None else data.clean_derivatives
    # padding stays noise-free (a copy of the last valid observation)
    m = 1.0 if data.lengths is None else jnp.asarray(data.mask)[..., None]
    noise = sigma * jax.random.normal(k1, data.states.shape, data.states.dtype)
    states = data.states + m * noise
    dy = data.derivatives
    if dy is not None and derivatives:
        dy = dy + m * sigma * jax.random.normal(k2, dy.shape, dy.dtype)
    meta = dict(data.metadata)
    meta["noise"] = float(np.hypot(meta.get("noise", 0.0), sigma))
    return dataclasses.replace(
        data,
        states=states,
        derivatives=dy,
        clean_states=clean_y,
        clean_derivatives=clean_dy,
        metadata=meta,
    )
