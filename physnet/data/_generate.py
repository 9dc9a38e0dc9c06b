"""Generate trajectory data sets from a known system."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import ConfigError
from ..integrators import integrate
from ..signals import INTERPOLATIONS, AbstractSignal, Expression, driven
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
    inputs=None,
    input_interpolation: str = "cubic",
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
        inputs: for a system with an input port (``system.input_size = m > 0``): the input
            u(t), one :class:`physnet.signals.AbstractSignal` for every trajectory, a
            formula of ``t`` (``"0.5*sin(1.3*t)"``, :class:`~physnet.signals.Expression`),
            a function ``t -> (m,)``, or a sequence of B signals of one kind (e.g. B
            :meth:`~physnet.signals.Multisine.random` excitations from split keys), evaluated
            exactly at every stage of the integrator and recorded at the recording times as
            ``Trajectories.inputs`` ``(B, T, m)``. ``None``: no input (a driven system runs
            free, and the data have no inputs).
        input_interpolation: what the recorded inputs do between samples for the models
            trained on them (``metadata["input_interpolation"]``; default ``"cubic"``, right
            for smooth inputs; ``"zoh"`` for steps held between samples).

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
    signal, batched = _input_signal(system, inputs, n_trajectories)
    if input_interpolation not in INTERPOLATIONS:
        raise ConfigError(
            f"generate: input_interpolation must be one of {', '.join(INTERPOLATIONS)}, got "
            f"{input_interpolation!r}"
        )
    if coordinates == "velocity" and signal is not None and not system.unit_mass:
        raise ConfigError(
            "generate: coordinates='velocity' with inputs needs a unit-mass system (then "
            "(q, p) is (q, q̇)); use coordinates='canonical'"
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
    def solve(y0, signal):
        def one(y, signal):
            if signal is None:
                ys = integrate(system.vector_field, y, ts, stepper=stepper, substeps=substeps)
                dys = jax.vmap(system.vector_field)(ts, ys)
                return ys, dys, None
            f = driven(system.vector_field)
            ys = integrate(f, y, ts, stepper=stepper, substeps=substeps, args=signal)
            us = jax.vmap(signal)(ts)
            dys = jax.vmap(system.vector_field)(ts, ys, us)
            return ys, dys, us

        def one_autonomous(y, signal):
            ys, dys, us = one(y, signal)
            if coordinates == "velocity" and signal is None:
                ys = jax.vmap(system.to_velocity)(ys)
                n = system.dof
                acc = jax.vmap(lambda x: system.acceleration(x[:n], x[n:]))(ys)
                dys = jnp.concatenate([ys[:, n:], jnp.reshape(acc, (-1, n))], axis=-1)
            return ys, dys, us

        return jax.vmap(one_autonomous, in_axes=(0, 0 if batched else None))(y0, signal)

    states, derivatives, recorded = solve(y0, signal)
    metadata = {
        **system_metadata(system),  # a user's own class: also its import path
        "noise": 0.0,
        "coordinates": coordinates,
        "unit_mass": bool(system.unit_mass),
        "integrator": f"{stepper}, {substeps} substeps per interval",
    }
    if recorded is not None:
        metadata["input_interpolation"] = input_interpolation
    return Trajectories(
        ts=ts, states=states, derivatives=derivatives, metadata=metadata, inputs=recorded
    )


class _Function(AbstractSignal):
    """A user's function ``t -> (m,)`` as a signal (closed over, not traced as data)."""

    fn: Callable = eqx.field(static=True)
    m: int = eqx.field(static=True)

    @property
    def input_size(self) -> int:
        return self.m

    def __call__(self, t) -> Array:
        return jnp.reshape(jnp.asarray(self.fn(t), dtype=jnp.float64), (self.m,))


def _input_signal(system: AbstractSystem, inputs, n: int):
    """The signal (a batch of ``n`` when given as a sequence) and whether it is batched."""
    m = system.input_size
    if inputs is None:  # the free system (a driven one with no input): data without inputs
        return None, False
    if not m:
        raise ConfigError(
            f"generate: system {system.name!r} has no input port (input_size = 0), but inputs "
            "were given; choose a driven system (driven-pendulum, mass-spring-damper, "
            "driven-duffing) or drop the inputs"
        )
    batched = isinstance(inputs, list | tuple)
    if batched:
        if len(inputs) != n:
            raise ConfigError(
                f"generate: inputs must be one signal or n_trajectories = {n} signals, got "
                f"{len(inputs)}"
            )
        signals = [_one_signal(s) for s in inputs]
        signal = jax.tree.map(lambda *leaves: jnp.stack(leaves), *signals)
        size = signals[0].input_size
    else:
        signal = _one_signal(inputs)
        size = signal.input_size
    if size != m:
        raise ConfigError(
            f"generate: system {system.name!r} takes {m} input(s), the signal gives {size}"
        )
    return signal, batched


def _one_signal(inputs) -> AbstractSignal:
    if isinstance(inputs, AbstractSignal):
        return inputs
    if isinstance(inputs, str):
        return Expression(inputs)
    if callable(inputs):
        return _Function(inputs, int(np.size(inputs(0.0))))
    raise ConfigError(
        "generate: inputs must be a signal (physnet.signals), a formula of t, a function of t "
        f"or a list of signals, got {type(inputs).__name__}"
    )
