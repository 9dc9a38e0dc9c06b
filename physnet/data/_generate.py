"""Generate trajectory data sets from a known system."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._errors import ConfigError
from ..integrators import integrate
from ..systems import AbstractSystem
from ._trajectories import Trajectories


def generate(
    system: AbstractSystem,
    n_trajectories: int = 100,
    t1: float = 5.0,
    n_points: int = 50,
    *,
    key: Array,
    t0: float = 0.0,
    y0_std: float = 1.0,
    substeps: int = 100,
    stepper: str = "rk4",
) -> Trajectories:
    """Simulate a system from random initial conditions (SPEC.md section 2).

    Initial states are drawn from N(0, y0_std²) in every component; each trajectory is solved
    with classical RK4 (``substeps`` steps between consecutive recording times, so the data are
    accurate to about 1e-10 at the default settings) and recorded at ``n_points`` equally spaced
    times in ``[t0, t1]``. Derivatives are the system's exact vector field at the recorded
    states.

    Args:
        system: the system to simulate.
        n_trajectories: number of trajectories B.
        t1: final time.
        n_points: recording times per trajectory T (including t0 and t1).
        key: PRNG key for the initial conditions.
        t0: initial time.
        y0_std: standard deviation of the initial conditions.
        substeps: integrator steps per recording interval.
        stepper: integrator name (default ``"rk4"``, as in the source).

    Returns:
        :class:`Trajectories` with ``states`` and ``derivatives`` of shape ``(B, T, 2N)``.
    """
    if n_trajectories < 1 or n_points < 2 or not t1 > t0:
        raise ConfigError(
            "generate: need n_trajectories >= 1, n_points >= 2 and t1 > t0, got "
            f"n_trajectories={n_trajectories}, n_points={n_points}, t0={t0}, t1={t1}"
        )
    d = system.state_size
    y0 = y0_std * jax.random.normal(key, (n_trajectories, d), dtype=jnp.float64)
    ts = jnp.linspace(t0, t1, n_points, dtype=jnp.float64)

    @jax.jit
    def solve(y0):
        def one(y):
            ys = integrate(system.vector_field, y, ts, stepper=stepper, substeps=substeps)
            dys = jax.vmap(lambda y_: system.vector_field(0.0, y_))(ys)
            return ys, dys

        return jax.vmap(one)(y0)

    states, derivatives = solve(y0)
    metadata = {
        "system": system.name,
        "parameters": system.parameters(),
        "noise": 0.0,
        "integrator": f"{stepper}, {substeps} substeps per interval",
    }
    return Trajectories(ts=ts, states=states, derivatives=derivatives, metadata=metadata)
