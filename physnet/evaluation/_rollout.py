"""Rolling learned (or known) vector fields out in time."""

from __future__ import annotations

import functools

import diffrax
import jax
import jax.numpy as jnp
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ..integrators import STEPPERS, AbstractStepper, get_stepper, integrate
from ..models import Ensemble

DIFFRAX_SOLVERS = {
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "heun": diffrax.Heun,
    "bosh3": diffrax.Bosh3,
}

SOLVERS = (*STEPPERS, *DIFFRAX_SOLVERS)


def _resolve_solver(solver):
    if isinstance(solver, AbstractStepper | diffrax.AbstractSolver):
        return solver
    if isinstance(solver, str):
        if solver in STEPPERS:
            return get_stepper(solver)
        if solver in DIFFRAX_SOLVERS:
            return DIFFRAX_SOLVERS[solver]()
    raise ConfigError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")


def _solve_one(f, y0, ts, solver, substeps, rtol, atol, max_steps, args):
    if isinstance(solver, AbstractStepper):
        return integrate(f, y0, ts, stepper=solver, substeps=substeps, args=args)
    adaptive = isinstance(solver, diffrax.AbstractAdaptiveSolver)
    if adaptive:
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
        dt0 = None
    else:
        controller = diffrax.ConstantStepSize()
        dt0 = (ts[1] - ts[0]) / substeps
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(f),
        solver,
        t0=ts[0],
        t1=ts[-1],
        dt0=dt0,
        y0=y0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        max_steps=max_steps,
    )
    return sol.ys


@functools.partial(
    jax.jit, static_argnames=("graphdef", "solver", "substeps", "rtol", "atol", "max_steps")
)
def _rollout_module(graphdef, state, y0, ts, args, *, solver, substeps, rtol, atol, max_steps):
    model = nnx.merge(graphdef, state)

    def one(y):
        return _solve_one(model, y, ts, solver, substeps, rtol, atol, max_steps, args)

    return jax.vmap(one)(y0)


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
            ``"dopri5"``, ``"dopri8"``: adaptive with ``rtol``/``atol``).
        substeps: fixed steps per recording interval for fixed-step methods.
        rtol, atol: tolerances of adaptive diffrax solvers.
        max_steps: step budget of diffrax solvers.

    Returns:
        States ``(T, d)`` or ``(B, T, d)`` (with a leading ``(members,)`` axis for an
        ensemble).
    """
    solver = _resolve_solver(solver)
    if int(substeps) != substeps or substeps < 1:
        raise ConfigError(f"rollout: substeps must be a positive integer, got {substeps!r}")
    y0 = jnp.asarray(y0)
    ts = jnp.asarray(ts)
    single = y0.ndim == 1
    batch = y0[None] if single else y0
    if batch.ndim != 2:
        raise ConfigError(f"rollout: y0 must have shape (d,) or (B, d), got {y0.shape}")
    options = dict(solver=solver, substeps=int(substeps), rtol=rtol, atol=atol, max_steps=max_steps)
    if isinstance(model, Ensemble):
        ys = jax.vmap(lambda s: _rollout_module(model.graphdef, s, batch, ts, args, **options))(
            model.state
        )
        return ys[:, 0] if single else ys
    if isinstance(model, nnx.Module):
        graphdef, state = nnx.split(model)
        ys = _rollout_module(graphdef, state, batch, ts, args, **options)
    else:
        run = jax.jit(
            jax.vmap(
                lambda y: _solve_one(
                    model, y, ts, solver, int(substeps), rtol, atol, max_steps, args
                )
            )
        )
        ys = run(batch)
    return ys[0] if single else ys
