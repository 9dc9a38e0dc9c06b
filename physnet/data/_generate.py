"""Generate trajectory data sets from a known system."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._errors import ConfigError
from ..integrators import integrate
from ..systems import AbstractSystem
from ..systems._registry import system_metadata
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
    coordinates: str = "canonical",
    initial_states: Array | None = None,
) -> Trajectories:
    """Simulate a system from random initial conditions (SPEC.md section 2).

    Initial states are the system's :meth:`~AbstractSystem.sample_initial_states` (N(0,
    y0_std²) in every component unless the system has its own distribution, e.g. the
    near-circular orbits of :class:`~physnet.systems.TwoBody`) or ``initial_states``; each
    trajectory is solved
    with classical RK4 (``substeps`` steps between consecutive recording times, so the data are
    accurate to about 1e-10 at the default settings) and recorded at ``n_points`` equally spaced
    times in ``[t0, t1]``. Derivatives are the system's exact vector field at the recorded
    states. With ``coordinates="velocity"`` the states are (q, q̇), q̇ = M(q)⁻¹ p, and the
    derivatives (q̇, q̈) with the system's exact accelerations (data for Lagrangian models;
    no unit-mass assumption); the metadata records ``"coordinates"`` and ``"unit_mass"``.
    Any :class:`AbstractSystem` subclass works, registered or not; for one that is not
    registered the metadata also record ``"system_class"``, its import path ``module:Class``.

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
        coordinates: ``"canonical"`` (states (q, p)) or ``"velocity"`` (states (q, q̇)).
        initial_states: canonical initial states ``(B, 2N)`` instead of random ones (then
            ``n_trajectories`` must equal B).

    Returns:
        :class:`Trajectories` with ``states`` and ``derivatives`` of shape ``(B, T, 2N)``.

    Raises:
        ConfigError: on sizes, times, ``coordinates`` or ``initial_states`` that do not fit.
    """
    if n_trajectories < 1 or n_points < 2 or not t1 > t0:
        raise ConfigError(
            "generate: need n_trajectories >= 1, n_points >= 2 and t1 > t0, got "
            f"n_trajectories={n_trajectories}, n_points={n_points}, t0={t0}, t1={t1}"
        )
    if coordinates not in ("canonical", "velocity"):
        raise ConfigError(
            f"generate: coordinates must be 'canonical' or 'velocity', got {coordinates!r}"
        )
    if coordinates == "velocity" and not system.autonomous:
        raise ConfigError(
            f"generate: coordinates='velocity' needs an autonomous system, got {system.name!r}; "
            "use system.in_velocity_coordinates() with coordinates='canonical'"
        )
    d = system.state_size
    if initial_states is None:
        y0 = system.sample_initial_states(key, n_trajectories, y0_std)
    else:
        y0 = jnp.asarray(initial_states, dtype=jnp.float64)
        if y0.shape != (n_trajectories, d):
            raise ConfigError(
                f"generate: initial_states must have shape (n_trajectories, state_size) = "
                f"({n_trajectories}, {d}), got {y0.shape}"
            )
    ts = jnp.linspace(t0, t1, n_points, dtype=jnp.float64)

    @jax.jit
    def solve(y0):
        def one(y):
            ys = integrate(system.vector_field, y, ts, stepper=stepper, substeps=substeps)
            dys = jax.vmap(system.vector_field)(ts, ys)
            if coordinates == "velocity":
                ys = jax.vmap(system.to_velocity)(ys)
                n = system.dof
                acc = jax.vmap(lambda x: system.acceleration(x[:n], x[n:]))(ys)
                dys = jnp.concatenate([ys[:, n:], jnp.reshape(acc, (-1, n))], axis=-1)
            return ys, dys

        return jax.vmap(one)(y0)

    states, derivatives = solve(y0)
    metadata = {
        **system_metadata(system),  # a user's own class: also its import path
        "noise": 0.0,
        "coordinates": coordinates,
        "unit_mass": bool(system.unit_mass),
        "integrator": f"{stepper}, {substeps} substeps per interval",
    }
    return Trajectories(ts=ts, states=states, derivatives=derivatives, metadata=metadata)
