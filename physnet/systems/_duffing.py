"""The Duffing oscillator."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ._base import AbstractSystem


class Duffing(AbstractSystem):
    r"""The (unforced) Duffing oscillator.

    .. math::
        \ddot q = -\alpha q - \beta q^3 - \gamma \dot q, \qquad p = \dot q, \qquad
        H(q, p) = \tfrac{\alpha}{2} q^2 + \tfrac{\beta}{4} q^4 + \tfrac12 p^2 .

    H is conserved for ``gamma = 0`` and decays as dH/dt = -γ p² for ``gamma > 0``.

    Args:
        alpha: linear stiffness α.
        beta: cubic stiffness β.
        gamma: linear damping γ (must be >= 0).
    """

    name = "duffing"
    dof = 1

    def __init__(self, alpha: float = 1.0, beta: float = 2.0, gamma: float = 0.0):
        for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            number("Duffing", name, value)
        if gamma < 0:
            raise ConfigError(f"Duffing: gamma must be >= 0 (damping), got {gamma!r}")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.gamma = float(gamma)

    def parameters(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma}

    def force(self, q: Array) -> Array:
        """Conservative force -dV/dq = -α q - β q³."""
        return -self.alpha * q - self.beta * q**3

    def acceleration(self, q: Array, qdot: Array) -> Array:
        return self.force(q) - self.gamma * qdot

    def vector_field(self, t, y: Array, args=None) -> Array:
        q, p = y[0], y[1]
        return jnp.stack([p, self.acceleration(q, p)])

    def energy(self, y: Array) -> Array:
        q, p = y[0], y[1]
        return 0.5 * self.alpha * q**2 + 0.25 * self.beta * q**4 + 0.5 * p**2

    def lagrangian(self, q: Array, qdot: Array) -> Array:
        """L(q, q̇) = q̇²/2 - α q²/2 - β q⁴/4."""
        return 0.5 * qdot**2 - 0.5 * self.alpha * q**2 - 0.25 * self.beta * q**4
