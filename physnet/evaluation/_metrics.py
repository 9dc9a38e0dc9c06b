"""Metrics of rollouts: energy error and drift, trajectory error."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


def energy_error(energy, ys: Array) -> Array:
    """Relative energy error |E(y(t)) - E(y(0))| / |E(y(0))| along trajectories.

    Args:
        energy: scalar function of one state.
        ys: states ``(T, d)`` or ``(B, T, d)``.

    Returns:
        ``(T,)`` or ``(B, T)``.
    """
    ys = jnp.asarray(ys)
    e = jax.vmap(energy)(ys.reshape(-1, ys.shape[-1])).reshape(ys.shape[:-1])
    e0 = e[..., :1]
    return jnp.abs(e - e0) / jnp.abs(e0)


def energy_drift(energy, ys: Array) -> Array:
    """Maximum relative energy error over time: max_t |E(y(t)) - E(y(0))| / |E(y(0))|.

    Args:
        energy: scalar function of one state (for example ``system.energy``).
        ys: states ``(T, d)`` (returns a scalar) or ``(B, T, d)`` (returns ``(B,)``).
    """
    return jnp.max(energy_error(energy, ys), axis=-1)


def trajectory_rmse(predicted: Array, target: Array) -> Array:
    """Root mean squared error between two trajectories (or batches) of equal shape."""
    predicted, target = jnp.asarray(predicted), jnp.asarray(target)
    if predicted.shape != target.shape:
        raise ValueError(f"trajectory_rmse: shapes differ, {predicted.shape} vs {target.shape}")
    return jnp.sqrt(jnp.mean((predicted - target) ** 2))
