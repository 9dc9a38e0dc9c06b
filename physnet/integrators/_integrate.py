"""Fixed-step integration with ``lax.scan``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._errors import ConfigError
from ._steppers import AbstractStepper, get_stepper


def integrate(
    f,
    y0: Array,
    ts: Array,
    *,
    stepper: AbstractStepper | str = "rk4",
    substeps: int = 1,
    args=None,
) -> Array:
    """Integrate ``dy/dt = f(t, y, args)`` from ``y0`` and record the state at times ``ts``.

    Between consecutive recording times ``ts[i]`` and ``ts[i+1]`` the stepper takes
    ``substeps`` equal steps, so ``ts`` may be non-uniform. The loop is a ``lax.scan`` over
    intervals with a ``fori_loop`` over substeps: it compiles to one loop whatever the length,
    and is differentiable (reverse mode through the scan).

    Args:
        f: vector field with the diffrax signature ``f(t, y, args) -> dy/dt`` on one state.
        y0: initial state, shape ``(d,)``; ``ts[0]`` is its time.
        ts: increasing recording times, shape ``(T,)``.
        stepper: an :class:`AbstractStepper` or its name (``"rk4"``, ``"leapfrog"``,
            ``"implicit-midpoint"``, ...).
        substeps: steps per recording interval (>= 1).
        args: passed through to ``f``.

    Returns:
        States at ``ts``, shape ``(T, d)``; row 0 is ``y0``.

    Use ``jax.vmap(lambda y: integrate(f, y, ts))`` for a batch of initial conditions.
    """
    stepper = get_stepper(stepper)
    if int(substeps) != substeps or substeps < 1:
        raise ConfigError(f"integrate: substeps must be a positive integer, got {substeps!r}")
    y0 = jnp.asarray(y0)
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < 1:
        raise ConfigError(f"integrate: ts must be a 1-D array of times, got shape {ts.shape}")
    substeps = int(substeps)

    def interval(y, t_pair):
        ta, tb = t_pair
        h = (tb - ta) / substeps

        def body(i, y):
            return stepper.step(f, ta + i * h, y, h, args)

        y = jax.lax.fori_loop(0, substeps, body, y)
        return y, y

    _, ys = jax.lax.scan(interval, y0, (ts[:-1], ts[1:]))
    return jnp.concatenate([y0[None], ys], axis=0)
