"""One entry point for integrating an ODE: physnet's steppers and diffrax's solvers alike."""

from __future__ import annotations

import diffrax
import jax.numpy as jnp
from jax import Array

from .._errors import ConfigError
from ..signals import driven
from ._integrate import integrate
from ._steppers import STEPPERS, AbstractStepper

DIFFRAX_SOLVERS = {
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "heun": diffrax.Heun,
    "bosh3": diffrax.Bosh3,
}
"""The diffrax solvers by name (all adaptive, with an embedded error estimate)."""

SOLVERS = (*STEPPERS, *DIFFRAX_SOLVERS)
"""Every solver name :func:`solve` accepts: physnet steppers first, then diffrax solvers."""

ADJOINTS = ("recursive", "backsolve")
"""The accepted string values of ``solve(adjoint=...)``."""


def get_solver(name_or_solver) -> AbstractStepper | diffrax.AbstractSolver:
    """A solver from its name (see :data:`SOLVERS`) or the object itself.

    Args:
        name_or_solver: a name such as ``"rk4"``, ``"leapfrog"``, ``"tsit5"``, an
            :class:`AbstractStepper` or a ``diffrax.AbstractSolver``.

    Returns:
        The stepper or diffrax solver object.

    Raises:
        ConfigError: for an unknown name or another type, listing the names.
    """
    if isinstance(name_or_solver, AbstractStepper | diffrax.AbstractSolver):
        return name_or_solver
    if isinstance(name_or_solver, str):
        if name_or_solver in STEPPERS:
            return STEPPERS[name_or_solver]()
        if name_or_solver in DIFFRAX_SOLVERS:
            return DIFFRAX_SOLVERS[name_or_solver]()
    raise ConfigError(
        f"unknown solver {name_or_solver!r}; choose one of {', '.join(SOLVERS)}, or pass a "
        "physnet AbstractStepper or a diffrax.AbstractSolver"
    )


def get_adjoint(adjoint, solver) -> diffrax.AbstractAdjoint | None:
    """The diffrax adjoint for ``solver``: ``None`` for physnet's steppers.

    Args:
        adjoint: ``None`` (diffrax's default, ``RecursiveCheckpointAdjoint``), ``"recursive"``,
            ``"backsolve"`` (``diffrax.BacksolveAdjoint``) or a ``diffrax.AbstractAdjoint``.
        solver: the solver object (from :func:`get_solver`).

    Returns:
        ``None`` for a physnet stepper (differentiated through its ``lax.scan``), otherwise
        the adjoint object.

    Raises:
        ConfigError: if an adjoint is given for a physnet stepper, or the adjoint is unknown.
    """
    if isinstance(solver, AbstractStepper):
        if adjoint is not None:
            raise ConfigError(
                f"adjoint={adjoint!r} applies to diffrax solvers only; physnet's steppers "
                f"({type(solver).__name__}) are differentiated through their lax.scan; "
                "drop adjoint or choose a diffrax solver"
            )
        return None
    if isinstance(adjoint, diffrax.AbstractAdjoint):
        return adjoint
    if adjoint is None or adjoint == "recursive":
        return diffrax.RecursiveCheckpointAdjoint()
    if adjoint == "backsolve":
        return diffrax.BacksolveAdjoint()
    raise ConfigError(
        f"unknown adjoint {adjoint!r}; choose one of {', '.join(ADJOINTS)} "
        "or pass a diffrax.AbstractAdjoint"
    )


def substep_times(ts: Array, substeps: int) -> Array:
    """The step grid of a fixed-step method: ``substeps`` equal steps in each interval.

    ``t_{i,k} = t_i + (k / substeps)(t_{i+1} - t_i)`` for k = 0..substeps-1, then ``t_{T-1}``.

    Args:
        ts: increasing recording times ``(T,)``, T >= 2.
        substeps: steps per recording interval.

    Returns:
        ``((T - 1) * substeps + 1,)`` times containing every ``ts[i]`` exactly.
    """
    fractions = jnp.arange(substeps, dtype=ts.dtype) / substeps
    inner = ts[:-1, None] + (ts[1:] - ts[:-1])[:, None] * fractions[None, :]
    return jnp.concatenate([inner.reshape(-1), ts[-1:]])


def solve(
    f,
    y0: Array,
    ts: Array,
    *,
    solver: AbstractStepper | diffrax.AbstractSolver | str = "rk4",
    substeps: int = 1,
    rtol: float = 1e-10,
    atol: float = 1e-10,
    max_steps: int = 1_000_000,
    adjoint=None,
    args=None,
    throw: bool = True,
    inputs=None,
) -> Array:
    """Integrate ``dy/dt = f(t, y, args)`` from ONE state ``y0`` and record it at ``ts``.

    The single solver entry of physnet (rollouts and trajectory losses both call it):

    - physnet steppers (``"rk4"``, ``"leapfrog"``, ``"implicit-midpoint"``, ...): ``substeps``
      equal steps inside each recording interval [t_i, t_{i+1}] under ``lax.scan``
      (:func:`integrate`); differentiable in reverse mode through the scan (except the
      implicit midpoint rule, whose Newton iteration is a while loop).
    - adaptive diffrax solvers (every named one: ``"tsit5"``, ``"dopri5"``, ``"dopri8"``,
      ``"heun"``, ``"bosh3"``): a PID controller with ``rtol``/``atol``, output at ``ts``.
    - fixed-step diffrax solvers (``diffrax.Euler()``, ...): the same step grid as the
      steppers (:func:`substep_times`, ``diffrax.StepTo``), so uneven ``ts`` are exact too.

    For diffrax, ``adjoint`` chooses how reverse mode differentiates the solve; pass the
    parameters to differentiate through ``args`` (a backsolve adjoint sees only ``args``).

    Args:
        f: vector field ``f(t, y, args) -> dy/dt`` on one state.
        y0: initial state ``(d,)``; ``ts[0]`` is its time.
        ts: increasing recording times ``(T,)``, uniform or not.
        solver: a name from :data:`SOLVERS`, an :class:`AbstractStepper` or a
            ``diffrax.AbstractSolver``.
        substeps: fixed steps per recording interval (fixed-step methods).
        rtol, atol: tolerances of adaptive diffrax solvers.
        max_steps: step budget of diffrax solvers.
        adjoint: ``None``, ``"recursive"``, ``"backsolve"`` or a ``diffrax.AbstractAdjoint``;
            diffrax solvers only.
        args: passed through to ``f``.
        inputs: an input signal (:class:`physnet.signals.AbstractSignal`) for a vector field
            with an input port ``f(t, y, u)``: ``f`` is called with ``u = inputs(t)``
            evaluated at every stage time inside the integrator (the signal travels as the
            ODE's args, see :func:`physnet.signals.driven`, so ``args`` must be ``None``).
        throw: diffrax's flag. ``True`` raises on a failed solve (step budget exhausted);
            ``False`` returns ``inf`` states instead, so that a training loop sees a
            non-finite loss (divergence) and a vmapped batch fails per element.

    Returns:
        States at ``ts``, shape ``(T, d)``; row 0 is ``y0``.

    Raises:
        ConfigError: for an unknown solver or adjoint, an adjoint with a physnet stepper,
            ``substeps`` < 1, ``ts`` not 1-D, or both ``inputs`` and ``args``.

    Use ``jax.vmap(lambda y: solve(f, y, ts))`` for a batch of initial conditions.

    Reference: Kidger, "On neural differential equations" (2021), for diffrax.
    """
    if inputs is not None:
        if args is not None:
            raise ConfigError("solve: pass either inputs (a signal) or args, not both")
        f, args = driven(f), inputs
    solver = get_solver(solver)
    adjoint = get_adjoint(adjoint, solver)
    if isinstance(substeps, bool) or int(substeps) != substeps or substeps < 1:
        raise ConfigError(f"solve: substeps must be a positive integer, got {substeps!r}")
    substeps = int(substeps)
    y0 = jnp.asarray(y0)
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < 1:
        raise ConfigError(f"solve: ts must be a 1-D array of times, got shape {ts.shape}")
    if isinstance(solver, AbstractStepper):
        return integrate(f, y0, ts, stepper=solver, substeps=substeps, args=args)
    if ts.shape[0] == 1:
        return y0[None]
    if isinstance(solver, diffrax.AbstractAdaptiveSolver):
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
    else:
        controller = diffrax.StepTo(ts=substep_times(ts, substeps))
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(f),
        solver,
        t0=ts[0],
        t1=ts[-1],
        dt0=None,
        y0=y0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        adjoint=adjoint,
        max_steps=max_steps,
        throw=throw,
    )
    if throw:
        return sol.ys
    failed = sol.result != diffrax.RESULTS.successful
    return jnp.where(failed, jnp.inf, sol.ys)
