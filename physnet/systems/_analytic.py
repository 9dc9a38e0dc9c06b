"""Systems with closed-form solutions or simple structure, used to test physnet."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from .._checks import number
from ._base import AbstractSystem


class HarmonicOscillator(AbstractSystem):
    r"""q̈ = -ω² q, H = p²/2 + ω² q²/2, with the exact solution :meth:`solution`."""

    name = "harmonic"
    dof = 1

    def __init__(self, omega: float = 1.0):
        self.omega = number("HarmonicOscillator", "omega", omega, positive=True)

    def parameters(self) -> dict[str, float]:
        return {"omega": self.omega}

    def vector_field(self, t, y: Array, args=None) -> Array:
        return jnp.stack([y[1], -(self.omega**2) * y[0]])

    def energy(self, y: Array) -> Array:
        return 0.5 * y[1] ** 2 + 0.5 * self.omega**2 * y[0] ** 2

    def solution(self, y0: Array, ts: Array) -> Array:
        """Exact states at times ``ts`` (shape ``(T,)``) from ``y0``; returns ``(T, 2)``."""
        w = self.omega
        c, s = jnp.cos(w * ts), jnp.sin(w * ts)
        q = y0[0] * c + y0[1] / w * s
        p = -y0[0] * w * s + y0[1] * c
        return jnp.stack([q, p], axis=-1)


class Pendulum(AbstractSystem):
    r"""The simple pendulum of mass m on a massless rod of length l.

    .. math::
        H(q, p) = \frac{p^2}{2 m l^2} + m l^2 \frac{g}{l} (1 - \cos q), \qquad
        \ddot q = -\frac{g}{l} \sin q, \qquad p = m l^2 \dot q .

    The defaults (m = l = 1) give H = p²/2 + (g/l)(1 - cos q). The HNN paper's pendulum
    H = 3(1 - cos q) + p² (Greydanus et al. 2019) is ``Pendulum(g_over_l=6.0, mass=0.5)``.

    Args:
        g_over_l: g/l (> 0).
        mass: bob mass m (> 0).
        length: rod length l (> 0).
    """

    name = "pendulum"
    dof = 1

    def __init__(self, g_over_l: float = 1.0, mass: float = 1.0, length: float = 1.0):
        for arg, value in (("g_over_l", g_over_l), ("mass", mass), ("length", length)):
            number("Pendulum", arg, value, positive=True)
        self.g_over_l = float(g_over_l)
        self.mass = float(mass)
        self.length = float(length)

    @property
    def inertia(self) -> float:
        """m l²."""
        return self.mass * self.length**2

    @property
    def unit_mass(self) -> bool:
        return self.inertia == 1.0

    def parameters(self) -> dict[str, float]:
        return {"g_over_l": self.g_over_l, "mass": self.mass, "length": self.length}

    def mass_matrix(self, q: Array) -> Array:
        return jnp.full((1, 1), self.inertia, dtype=jnp.result_type(q, jnp.float64))

    def acceleration(self, q: Array, qdot: Array) -> Array:
        return -self.g_over_l * jnp.sin(q)

    def vector_field(self, t, y: Array, args=None) -> Array:
        return jnp.stack([y[1] / self.inertia, -self.inertia * self.g_over_l * jnp.sin(y[0])])

    def energy(self, y: Array) -> Array:
        i = self.inertia
        return 0.5 * y[1] ** 2 / i + i * self.g_over_l * (1.0 - jnp.cos(y[0]))
