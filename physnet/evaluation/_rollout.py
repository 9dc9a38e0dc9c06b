"""Rolling learned (or known) vector fields out in time."""

from __future__ import annotations

import functools

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ..integrators import DIFFRAX_SOLVERS as DIFFRAX_SOLVERS
from ..integrators import SOLVERS as SOLVERS
from ..integrators import AbstractStepper, get_solver, solve
from ..models import Ensemble, check_input_port
from ..signals import is_batch


@functools.partial(
    jax.jit,
    static_argnames=("graphdef", "solver", "substeps", "rtol", "atol", "max_steps", "throw"),
)
def _rollout_module(
    graphdef, state, y0, ts, args, inputs, *, solver, substeps, rtol, atol, max_steps, throw
):
    model = nnx.merge(graphdef, state)
    return _rollout_field(
        model, y0, ts, args, inputs, solver=solver, substeps=substeps, rtol=rtol, atol=atol,
        max_steps=max_steps, throw=throw,
    )  # fmt: skip


def _rollout_field(f, y0, ts, args, inputs, **options):
    if inputs is None:
        return jax.vmap(lambda y: solve(f, y, ts, args=args, **options))(y0)
    axis = 0 if is_batch(inputs) else None
    return jax.vmap(lambda y, u: solve(f, y, ts, inputs=u, **options), in_axes=(0, axis))(
        y0, inputs
    )


def rollout(
    model,
    y0: Array,
    ts: Array,
    *,
    solver: AbstractStepper | diffrax.AbstractSolver | str = "rk4",
    substeps: int = 1,
    rtol: float = 1e-10,
    atol: float = 1e-10,
    max_steps: int = 1_000_000,
    args=None,
    inputs=None,
    throw: bool = True,
) -> Array:
    """Integrate a model (or any vector field ``f(t, y, args)``) from one or many states.

    Args:
        model: a physnet model, an :class:`~physnet.models.Ensemble` (all members are rolled
            out at once and the result gains a leading member axis), or any callable with the
            diffrax signature (for example ``system.vector_field``).
        y0: initial state ``(d,)`` or a batch ``(B, d)`` (vmapped).
        ts: recording times ``(T,)``; ``ts[0]`` is the initial time.
        solver: physnet stepper name or object (``"rk4"`` default, ``"leapfrog"``,
            ``"implicit-midpoint"``, ...), or a diffrax solver object or name (``"tsit5"``,
            ``"dopri5"``, ``"dopri8"``: adaptive with ``rtol``/``atol``); integrated by
            :func:`physnet.integrators.solve`.
        substeps: fixed steps per recording interval for fixed-step methods (``ts`` may be
            non-uniform).
        rtol, atol: tolerances of adaptive diffrax solvers.
        max_steps: step budget of diffrax solvers.
        throw: ``True`` (default) raises when an adaptive solve fails (its step budget
            exhausted, typically a learned field that blows up); ``False`` returns ``inf``
            states for the failed initial states only, so a batch of rollouts can count its
            blow-ups (as a fixed-step solver's non-finite states do).
        args: passed through to the vector field (autonomous models).
        inputs: for a model with an input port (``model.input_size = m > 0``): the input
            signal u(t) (:mod:`physnet.signals`), evaluated inside the integrator; one signal
            for every initial state, or for ``y0`` ``(B, d)`` a batch of B signals (leading
            axis B, e.g. ``data.input_signals()`` of held-out trajectories).

    Raises:
        ConfigError: for invalid times or shapes, or inputs that do not fit the model's input
            port (inputs for a model without one, none for a model with one).

    Returns:
        States ``(T, d)`` or ``(B, T, d)`` (with a leading ``(members,)`` axis for an
        ensemble).
    """
    solver = get_solver(solver)
    if int(substeps) != substeps or substeps < 1:
        raise ConfigError(f"rollout: substeps must be a positive integer, got {substeps!r}")
    y0 = jnp.asarray(y0)
    ts = jnp.asarray(ts)
    if not isinstance(ts, jax.core.Tracer):
        times = np.asarray(ts)
        if times.ndim != 1 or times.size < 1 or not np.all(np.isfinite(times)):
            raise ConfigError(f"rollout: ts must be a 1-D array of finite times, got {times!r}")
        if np.any(np.diff(times) <= 0):
            raise ConfigError("rollout: ts must be strictly increasing")
    single = y0.ndim == 1
    batch = y0[None] if single else y0
    if batch.ndim != 2:
        raise ConfigError(f"rollout: y0 must have shape (d,) or (B, d), got {y0.shape}")
    options = dict(
        solver=solver,
        substeps=int(substeps),
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        throw=bool(throw),
    )
    if isinstance(model, nnx.Module):
        one = model.member(0) if isinstance(model, Ensemble) else model
        check_input_port("rollout", one, 0 if inputs is None else inputs.input_size)
    if inputs is not None and args is not None:
        raise ConfigError("rollout: pass either inputs (a signal) or args, not both")
    if isinstance(model, Ensemble):
        ys = jax.vmap(
            lambda s: _rollout_module(model.graphdef, s, batch, ts, args, inputs, **options)
        )(model.state)
        return ys[:, 0] if single else ys
    if isinstance(model, nnx.Module):
        graphdef, state = nnx.split(model)
        ys = _rollout_module(graphdef, state, batch, ts, args, inputs, **options)
    else:
        ys = jax.jit(lambda y, u: _rollout_field(model, y, ts, args, u, **options))(batch, inputs)
    return ys[0] if single else ys
