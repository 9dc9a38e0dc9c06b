"""The mass on a linear spring."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from .._checks import number
from ._base import AbstractSystem


class MassSpring(AbstractSystem):
    r"""A mass m on a spring of stiffness k.

    .. math::
        H(q, p) = \frac{p^2}{2m} + \frac{k q^2}{2}, \qquad \dot q = p / m, \qquad
        \ddot q = -\frac{k}{m} q .

    The defaults (m = 1/2, k = 2) are the HNN paper's H = q² + p² (Greydanus et al. 2019), so
    p = q̇/2 and the angular frequency is 2.

    Args:
        mass: m (> 0).
        stiffness: k (> 0).
    """

    name = "mass-spring"
    dof = 1

    def __init__(self, mass: float = 0.5, stiffness: float = 2.0):
        self.mass = number("MassSpring", "mass", mass, positive=True)
        self.stiffness = number("MassSpring", "stiffness", stiffness, positive=True)

    @property
    def unit_mass(self) -> bool:
        return self.mass == 1.0

    def parameters(self) -> dict[str, float]:
        return {"mass": self.mass, "stiffness": self.stiffness}

    def mass_matrix(self, q: Array) -> Array:
        return jnp.full((1, 1), self.mass, dtype=jnp.result_type(q, jnp.float64))

    def acceleration(self, q: Array, qdot: Array) -> Array:
        return -self.stiffness / self.mass * q

    def vector_field(self, t, y: Array, args=None) -> Array:
        return jnp.stack([y[1] / self.mass, -self.stiffness * y[0]])

    def energy(self, y: Array) -> Array:
        return 0.5 * y[1] ** 2 / self.mass + 0.5 * self.stiffness * y[0] ** 2
