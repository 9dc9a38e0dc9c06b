"""Chaos read-outs of a (possibly forced) vector field: stroboscopic Poincaré sections, the
largest Lyapunov exponent, and short-horizon error growth."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import integer, number
from .._errors import ConfigError
from ..integrators import solve


def stroboscopic_section(
    field,
    y0: Array,
    *,
    period: float,
    n_periods: int,
    transient: int = 0,
    t0: float = 0.0,
    substeps: int = 100,
    solver: str = "rk4",
) -> Array:
    r"""The stroboscopic Poincaré section of a periodically forced flow.

    The stroboscopic Poincaré section of a periodically forced flow: the states
    y(t0 + k·period), k = transient, ..., transient + n_periods - 1.

    For a forcing of period 2π/ω the map y(t) -> y(t + 2π/ω) is the Poincaré map of the
    extended autonomous flow on (y, t mod 2π/ω); its orbit shows a closed curve for
    quasi-periodic, finitely many points for periodic, and a fractal set for chaotic motion.

    Args:
        field: ``f(t, y, args)``, a model or ``system.vector_field``.
        y0: initial state(s) ``(d,)`` or ``(B, d)`` at time ``t0``.
        period: the forcing period 2π/ω.
        n_periods: number of section points per initial state.
        transient: periods integrated and discarded first.
        t0: initial time.
        substeps: fixed steps per period.
        solver: physnet stepper name.

    Returns:
        Section points ``(n_periods, d)`` or ``(B, n_periods, d)``.

    Raises:
        ConfigError: for a non-positive period or counts.
    """
    number("stroboscopic_section", "period", period, positive=True)
    integer("stroboscopic_section", "n_periods", n_periods, low=1)
    integer("stroboscopic_section", "transient", transient, low=0)
    ts = t0 + period * jnp.arange(transient + n_periods + 1, dtype=jnp.float64)
    y0 = jnp.asarray(y0, dtype=jnp.float64)
    run = jax.jit(jax.vmap(lambda y: solve(field, y, ts, solver=solver, substeps=int(substeps))))
    ys = run(jnp.atleast_2d(y0))[:, transient : transient + n_periods]
    return ys[0] if y0.ndim == 1 else ys


def largest_lyapunov_exponent(
    field,
    y0: Array,
    *,
    t1: float,
    renormalise_every: float = 1.0,
    transient: float = 0.0,
    t0: float = 0.0,
    substeps: int = 100,
    key: Array | None = None,
) -> float:
    r"""The largest Lyapunov exponent of a vector field along an orbit.

    The largest Lyapunov exponent of ``field`` along the orbit from ``y0``, by the
    variational equation and periodic renormalisation (Benettin et al., 1980):

    .. math:: \dot y = f(t, y), \quad \dot v = \partial_y f(t, y)\, v, \qquad
        \lambda_1 = \frac{1}{t_1} \sum_k \log |v(t_k)| \ \text{(v renormalised at each } t_k).

    The tangent v is advanced with ``jax.jvp`` of the field (exact Jacobian-vector products)
    by RK4 alongside the state.

    Args:
        field: ``f(t, y, args)``.
        y0: initial state ``(d,)``.
        t1: averaging time after the transient.
        renormalise_every: time between renormalisations.
        transient: time integrated first (tangent aligned, not counted).
        t0: initial time.
        substeps: RK4 steps per renormalisation interval.
        key: PRNG key of the initial tangent (default ``jax.random.key(0)``).

    Returns:
        λ₁ in units of 1/time, a Python float.

    Raises:
        ConfigError: for non-positive times.
    """
    number("largest_lyapunov_exponent", "t1", t1, positive=True)
    number("largest_lyapunov_exponent", "renormalise_every", renormalise_every, positive=True)
    y0 = jnp.asarray(y0, dtype=jnp.float64)
    key = jax.random.key(0) if key is None else key
    v0 = jax.random.normal(key, y0.shape, dtype=jnp.float64)
    v0 = v0 / jnp.linalg.norm(v0)

    def joint(t, z, args=None):
        y, v = z[: y0.size], z[y0.size :]
        fy, fv = jax.jvp(lambda y_: field(t, y_, None), (y,), (v,))
        return jnp.concatenate([fy, fv])

    dt = float(renormalise_every)

    @jax.jit
    def interval(t, z):
        out = solve(joint, z, jnp.stack([t, t + dt]), solver="rk4", substeps=int(substeps))[-1]
        y, v = out[: y0.size], out[y0.size :]
        growth = jnp.linalg.norm(v)
        return jnp.concatenate([y, v / growth]), jnp.log(growth)

    z = jnp.concatenate([y0, v0])
    t = jnp.asarray(t0, dtype=jnp.float64)
    for _ in range(int(round(transient / dt))):
        z, _ = interval(t, z)
        t = t + dt
    total = 0.0
    n = max(1, int(round(t1 / dt)))
    for _ in range(n):
        z, log_growth = interval(t, z)
        total += float(log_growth)
        t = t + dt
    return total / (n * dt)


def error_growth(learned: Array, true: Array) -> Array:
    """The median distance between learned and true rollouts at every time.

    The median over initial states of |learned(t) - true(t)| per time, shape ``(T,)``
    (for rollouts ``(B, T, d)``); compare its log-slope with the largest Lyapunov exponent."""
    learned, true = jnp.asarray(learned), jnp.asarray(true)
    if learned.shape != true.shape or learned.ndim != 3:
        raise ConfigError(
            f"error_growth: rollouts must share a shape (B, T, d), got {learned.shape} and "
            f"{true.shape}"
        )
    return jnp.median(jnp.linalg.norm(learned - true, axis=-1), axis=0)
