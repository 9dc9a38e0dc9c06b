"""Metrics of rollouts: energy error and drift, trajectory error."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


def energy_error(energy, ys: Array, reference: Array | None = None) -> Array:
    """Relative energy error |E(y(t)) - E(y(0))| / |E(y(0)) - E(y_ref)| along trajectories.

    Args:
        energy: scalar function of one state.
        ys: states ``(T, d)`` or ``(B, T, d)``.
        reference: optional state ``y_ref`` whose energy is the zero of the scale. A learned
            energy H_θ has an arbitrary additive constant, which would make a relative error
            as small or as large as one likes; measuring it from the equilibrium
            (``reference=jnp.zeros(d)`` for the systems physnet ships) fixes that gauge. The
            default (``None``) uses E itself, right for a true energy that is zero at rest.

    Returns:
        ``(T,)`` or ``(B, T)``.
    """
    ys = jnp.asarray(ys)
    e = jax.vmap(energy)(ys.reshape(-1, ys.shape[-1])).reshape(ys.shape[:-1])
    e0 = e[..., :1]
    scale = e0 if reference is None else e0 - energy(jnp.asarray(reference, dtype=ys.dtype))
    return jnp.abs(e - e0) / jnp.abs(scale)


def energy_drift(energy, ys: Array, reference: Array | None = None) -> Array:
    """Maximum relative energy error over time: max_t |E(y(t)) - E(y(0))| / |E(y(0))|.

    Args:
        energy: scalar function of one state (for example ``system.energy``).
        ys: states ``(T, d)`` (returns a scalar) or ``(B, T, d)`` (returns ``(B,)``).
        reference: as in :func:`energy_error`; pass the equilibrium for a learned energy.
    """
    return jnp.max(energy_error(energy, ys, reference), axis=-1)


def trajectory_rmse(predicted: Array, target: Array) -> Array:
    """Root mean squared error between two trajectories (or batches) of equal shape."""
    predicted, target = jnp.asarray(predicted), jnp.asarray(target)
    if predicted.shape != target.shape:
        raise ValueError(f"trajectory_rmse: shapes differ, {predicted.shape} vs {target.shape}")
    return jnp.sqrt(jnp.mean((predicted - target) ** 2))
