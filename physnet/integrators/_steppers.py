"""One-step methods: explicit Runge-Kutta and symplectic steppers.

A stepper advances ONE state ``y`` by one step of size ``h`` of a vector field
``f(t, y, args)``. Steppers are small immutable objects, hashable so they can be static
arguments of compiled functions.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array

from .._errors import ConfigError
from ._tableau import (
    EULER_TABLEAU,
    HEUN3_TABLEAU,
    MIDPOINT_TABLEAU,
    RK4_TABLEAU,
    ButcherTableau,
)


class AbstractStepper(abc.ABC):
    """A one-step integration method."""

    #: the method's order of accuracy
    order: int
    #: whether the method is symplectic for Hamiltonian vector fields
    symplectic: bool = False

    @abc.abstractmethod
    def step(self, f, t, y: Array, h, args=None) -> Array:
        """Advance ``y`` from ``t`` to ``t + h``."""


@dataclasses.dataclass(frozen=True)
class ExplicitRungeKutta(AbstractStepper):
    """Explicit Runge-Kutta method defined by a :class:`ButcherTableau`."""

    tableau: ButcherTableau

    @property
    def order(self) -> int:  # type: ignore[override]
        return self.tableau.order

    def step(self, f, t, y, h, args=None):
        tab = self.tableau
        ks = []
        for i in range(tab.stages):
            yi = y
            for j in range(i):
                if tab.a[i][j] != 0.0:
                    yi = yi + (h * tab.a[i][j]) * ks[j]
            ks.append(f(t + tab.c[i] * h, yi, args))
        incr = sum(bi * k for bi, k in zip(tab.b, ks, strict=True) if bi != 0.0)
        return y + h * incr


def Euler() -> ExplicitRungeKutta:
    """Forward Euler (order 1)."""
    return ExplicitRungeKutta(EULER_TABLEAU)


def Midpoint() -> ExplicitRungeKutta:
    """Explicit midpoint rule (order 2)."""
    return ExplicitRungeKutta(MIDPOINT_TABLEAU)


def Heun3() -> ExplicitRungeKutta:
    """Heun's third-order method."""
    return ExplicitRungeKutta(HEUN3_TABLEAU)


def RK4() -> ExplicitRungeKutta:
    """The classical fourth-order Runge-Kutta method."""
    return ExplicitRungeKutta(RK4_TABLEAU)


@dataclasses.dataclass(frozen=True)
class Leapfrog(AbstractStepper):
    r"""Störmer-Verlet (leapfrog, kick-drift-kick) for separable Hamiltonians.

    For ``y = (q, p)`` and a vector field whose dq/dt depends on p only and dp/dt on q only
    (H = T(p) + V(q)):

    .. math::
        p_{1/2} = p + \tfrac h2 \dot p(q), \quad q' = q + h \dot q(p_{1/2}), \quad
        p' = p_{1/2} + \tfrac h2 \dot p(q').

    Symplectic, time reversible, order 2. On a non-separable field it is still a consistent
    first-order splitting but loses these properties; use :class:`ImplicitMidpoint` there.
    """

    order: ClassVar[int] = 2
    symplectic: ClassVar[bool] = True

    def step(self, f, t, y, h, args=None):
        n = y.shape[-1] // 2
        q, p = y[:n], y[n:]
        p_half = p + 0.5 * h * f(t, y, args)[n:]
        q_new = q + h * f(t + 0.5 * h, jnp.concatenate([q, p_half]), args)[:n]
        p_new = p_half + 0.5 * h * f(t + h, jnp.concatenate([q_new, p_half]), args)[n:]
        return jnp.concatenate([q_new, p_new])


@dataclasses.dataclass(frozen=True)
class ImplicitMidpoint(AbstractStepper):
    r"""The implicit midpoint rule ``y' = y + h f(t + h/2, (y + y')/2)``.

    Symplectic for every Hamiltonian (separable or not), time reversible, order 2; it
    conserves every quadratic invariant exactly. The implicit equation is solved with Newton's
    method (Jacobian by forward-mode autodiff, a dense linear solve) started from an explicit
    Euler predictor, until the update is below ``rtol * (1 + |y'|)`` or ``max_iterations`` is
    reached.

    Args:
        rtol: relative tolerance of the Newton iteration.
        max_iterations: cap on Newton iterations per step.
    """

    rtol: float = 1e-13
    max_iterations: int = 20
    order: ClassVar[int] = 2
    symplectic: ClassVar[bool] = True

    def __post_init__(self):
        if not self.rtol > 0 or self.max_iterations < 1:
            raise ConfigError(
                "ImplicitMidpoint: rtol must be > 0 and max_iterations >= 1, got "
                f"rtol={self.rtol!r}, max_iterations={self.max_iterations!r}"
            )

    def step(self, f, t, y, h, args=None):
        tm = t + 0.5 * h

        def residual(y1):
            return y1 - y - h * f(tm, 0.5 * (y + y1), args)

        def cond(state):
            i, _, delta = state
            return (i < self.max_iterations) & (delta > 0.0)

        def body(state):
            i, y1, _ = state
            r = residual(y1)
            jac = jax.jacfwd(residual)(y1)
            dy = jnp.linalg.solve(jac, r)
            y1 = y1 - dy
            small = jnp.max(jnp.abs(dy)) <= self.rtol * (1.0 + jnp.max(jnp.abs(y1)))
            return i + 1, y1, jnp.where(small, 0.0, 1.0)

        y_pred = y + h * f(t, y, args)
        _, y1, _ = jax.lax.while_loop(cond, body, (0, y_pred, jnp.asarray(1.0, y.dtype)))
        return y1


STEPPERS = {
    "euler": Euler,
    "midpoint": Midpoint,
    "heun3": Heun3,
    "rk4": RK4,
    "leapfrog": Leapfrog,
    "implicit-midpoint": ImplicitMidpoint,
}
"""physnet's own steppers by name (explicit Runge-Kutta and symplectic)."""


def get_stepper(name_or_stepper) -> AbstractStepper:
    """Return a stepper from its name (``rk4``, ``leapfrog``, ``implicit-midpoint``, ...)."""
    if isinstance(name_or_stepper, AbstractStepper):
        return name_or_stepper
    try:
        return STEPPERS[name_or_stepper]()
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown stepper {name_or_stepper!r}; choose one of {', '.join(STEPPERS)}"
        ) from None
