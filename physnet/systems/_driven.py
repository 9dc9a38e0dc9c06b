"""Mechanical systems driven by a measured input: a torque or a force on the momenta."""

from __future__ import annotations

import abc
from typing import ClassVar

import jax.numpy as jnp
from jax import Array

from .._checks import number
from ._base import AbstractSystem


class AbstractDriven(AbstractSystem):
    r"""A one-degree-of-freedom mechanical system with a force input on the momentum.

    .. math::
        \dot q = \frac{p}{M}, \qquad \dot p = -V'(q) - \frac{c}{M} p + u, \qquad
        H = \frac{p^2}{2M} + V(q), \qquad G = (0, 1)^\top,

    so along solutions dH/dt = -c q̇² + q̇ u (the input's power minus the damping's). The
    vector field is ``vector_field(t, y, u)`` with ``u`` of shape ``(1,)`` (``None``: no
    input, the free system).
    """

    dof = 1
    input_size: ClassVar[int] = 1

    @property
    @abc.abstractmethod
    def inertia(self) -> float:
        """M (mass or moment of inertia), p = M q̇."""

    @property
    @abc.abstractmethod
    def damping(self) -> float:
        """c >= 0, the viscous friction on q̇."""

    @abc.abstractmethod
    def potential(self, q: Array) -> Array:
        """V(q)."""

    @abc.abstractmethod
    def potential_force(self, q: Array) -> Array:
        """-V'(q)."""

    @property
    def unit_mass(self) -> bool:
        return self.inertia == 1.0

    def mass_matrix(self, q: Array) -> Array:
        return jnp.full((1, 1), self.inertia, dtype=jnp.result_type(q, jnp.float64))

    def input_matrix(self, y: Array) -> Array:
        return jnp.asarray([[0.0], [1.0]], dtype=jnp.result_type(y, jnp.float64))

    def acceleration(self, q: Array, qdot: Array, u=None) -> Array:
        """q̈ at ``q``, ``qdot`` under the input ``u`` (default none)."""
        force = self.potential_force(q) - self.damping * qdot
        if u is not None:
            force = force + jnp.reshape(u, jnp.shape(force))
        return force / self.inertia

    def vector_field(self, t, y: Array, args=None) -> Array:
        q, p = y[0], y[1]
        dp = self.potential_force(q) - self.damping * p / self.inertia
        if args is not None:
            dp = dp + jnp.reshape(args, (-1,))[0]
        return jnp.stack([p / self.inertia, dp])

    def energy(self, y: Array) -> Array:
        return 0.5 * y[1] ** 2 / self.inertia + self.potential(y[0])


class DrivenPendulum(AbstractDriven):
    r"""A pendulum driven by a torque τ = u at its pivot.

    .. math::
        m l^2 \ddot q = -m g l \sin q - b \dot q + u, \qquad p = m l^2 \dot q, \qquad
        H = \frac{p^2}{2 m l^2} + m g l (1 - \cos q),

    q = 0 hanging down, q = π upright (energy 2mgl). The swing-up problem of SymODEN
    (Zhong et al. 2020) uses m = l = 1 and a torque input.

    Args:
        mass: m (> 0).
        length: l (> 0).
        gravity: g (> 0; default 9.81).
        friction: b >= 0 (default 0).
    """

    name = "driven-pendulum"

    def __init__(
        self, mass: float = 1.0, length: float = 1.0, gravity: float = 9.81, friction: float = 0.0
    ):
        self.mass = number("DrivenPendulum", "mass", mass, positive=True)
        self.length = number("DrivenPendulum", "length", length, positive=True)
        self.gravity = number("DrivenPendulum", "gravity", gravity, positive=True)
        self.friction = number("DrivenPendulum", "friction", friction, low=0)

    @property
    def inertia(self) -> float:
        return self.mass * self.length**2

    @property
    def damping(self) -> float:
        return self.friction

    def potential(self, q):
        return self.mass * self.gravity * self.length * (1.0 - jnp.cos(q))

    def potential_force(self, q):
        return -self.mass * self.gravity * self.length * jnp.sin(q)

    def parameters(self) -> dict[str, float]:
        return {
            "mass": self.mass,
            "length": self.length,
            "gravity": self.gravity,
            "friction": self.friction,
        }


class MassSpringDamper(AbstractDriven):
    r"""A mass on a linear spring with a viscous damper, driven by a force u.

    .. math:: m \ddot q = -k q - c \dot q + u, \qquad p = m \dot q, \qquad
        H = \frac{p^2}{2m} + \frac{k q^2}{2}.

    Args:
        mass: m (> 0; default 1).
        stiffness: k (> 0; default 1).
        damping: c >= 0 (default 0.1).
    """

    name = "mass-spring-damper"

    def __init__(self, mass: float = 1.0, stiffness: float = 1.0, damping: float = 0.1):
        self.mass = number("MassSpringDamper", "mass", mass, positive=True)
        self.stiffness = number("MassSpringDamper", "stiffness", stiffness, positive=True)
        self.c = number("MassSpringDamper", "damping", damping, low=0)

    @property
    def inertia(self) -> float:
        return self.mass

    @property
    def damping(self) -> float:
        return self.c

    def potential(self, q):
        return 0.5 * self.stiffness * q**2

    def potential_force(self, q):
        return -self.stiffness * q

    def parameters(self) -> dict[str, float]:
        return {"mass": self.mass, "stiffness": self.stiffness, "damping": self.c}


class DrivenDuffing(AbstractDriven):
    r"""The Duffing oscillator driven by a measured force u (unit mass).

    .. math:: \ddot q = -\delta \dot q - \alpha q - \beta q^3 + u, \qquad
        H = \frac{p^2}{2} + \frac{\alpha}{2} q^2 + \frac{\beta}{4} q^4 .

    The defaults are those of :class:`ForcedDuffing` (α = -1, β = 1, δ = 0.3: a double well),
    whose force γ cos(ωt) is here any input.

    Args:
        alpha, beta: linear and cubic stiffness.
        delta: damping δ >= 0.
    """

    name = "driven-duffing"

    def __init__(self, alpha: float = -1.0, beta: float = 1.0, delta: float = 0.3):
        self.alpha = number("DrivenDuffing", "alpha", alpha)
        self.beta = number("DrivenDuffing", "beta", beta)
        self.delta = number("DrivenDuffing", "delta", delta, low=0)

    @property
    def inertia(self) -> float:
        return 1.0

    @property
    def damping(self) -> float:
        return self.delta

    def potential(self, q):
        return 0.5 * self.alpha * q**2 + 0.25 * self.beta * q**4

    def potential_force(self, q):
        return -self.alpha * q - self.beta * q**3

    def parameters(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta, "delta": self.delta}
