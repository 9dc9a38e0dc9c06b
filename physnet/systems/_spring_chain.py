"""A chain of masses joined by linear springs between two walls."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ._base import AbstractSystem


class SpringChain(AbstractSystem):
    r"""A chain of N equal masses joined by springs between two fixed walls.

    N equal masses m on a line, joined to each other and to two fixed walls by N + 1
    springs of stiffness k (q_i the displacements from equilibrium, q_0 = q_{N+1} = 0).

    .. math::
        H(q, p) = \sum_{i=1}^N \frac{p_i^2}{2m} + \frac{k}{2} \sum_{i=0}^{N} (q_{i+1} - q_i)^2,
        \qquad \ddot q_i = \frac{k}{m} (q_{i-1} - 2 q_i + q_{i+1}) .

    State ``(q_1..q_N, p_1..p_N)``; a generic N-degree-of-freedom test system with known
    normal modes ω_j = 2 √(k/m) sin(jπ / (2(N + 1))).

    Args:
        n: number of masses N (an integer >= 1).
        mass: m (> 0).
        stiffness: k (> 0).
    """

    name = "spring-chain"

    def __init__(self, n: float = 3, mass: float = 1.0, stiffness: float = 1.0):
        if not (float(n) == int(n) and int(n) >= 1):
            raise ConfigError(f"SpringChain: n must be an integer >= 1, got {n!r}")
        number("SpringChain", "mass", mass, positive=True)
        number("SpringChain", "stiffness", stiffness, positive=True)
        self.n = int(n)
        self.dof = self.n
        self.mass = float(mass)
        self.stiffness = float(stiffness)

    @property
    def unit_mass(self) -> bool:
        return self.mass == 1.0

    def parameters(self) -> dict[str, float]:
        return {"n": self.n, "mass": self.mass, "stiffness": self.stiffness}

    def mass_matrix(self, q: Array) -> Array:
        return self.mass * jnp.eye(self.n, dtype=jnp.result_type(q, jnp.float64))

    def acceleration(self, q: Array, qdot: Array) -> Array:
        padded = jnp.pad(q, 1)
        return self.stiffness / self.mass * (padded[:-2] - 2 * q + padded[2:])

    def vector_field(self, t, y: Array, args=None) -> Array:
        q, p = y[: self.n], y[self.n :]
        return jnp.concatenate([p / self.mass, self.mass * self.acceleration(q, p)])

    def energy(self, y: Array) -> Array:
        q, p = y[: self.n], y[self.n :]
        stretch = jnp.diff(jnp.pad(q, 1))
        return 0.5 * jnp.sum(p**2) / self.mass + 0.5 * self.stiffness * jnp.sum(stretch**2)
