"""The planar double pendulum."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import number
from ._base import AbstractSystem


class DoublePendulum(AbstractSystem):
    r"""A double pendulum: two point masses on massless rods under gravity.

    Two point masses m1, m2 on massless rods l1, l2 under gravity g; angles from the
    downward vertical.

    .. math::
        M(q) = \begin{pmatrix} (m_1 + m_2) l_1^2 & m_2 l_1 l_2 \cos(\theta_1 - \theta_2) \\
               m_2 l_1 l_2 \cos(\theta_1 - \theta_2) & m_2 l_2^2 \end{pmatrix},\quad
        V(q) = -(m_1 + m_2) g l_1 \cos\theta_1 - m_2 g l_2 \cos\theta_2,

        L = \tfrac12 \dot q^\top M(q) \dot q - V(q), \qquad
        H = \tfrac12 p^\top M(q)^{-1} p + V(q), \qquad p = M(q) \dot q .

    The canonical state is ``(θ1, θ2, p1, p2)``; the Lagrangian road uses ``(θ1, θ2, θ̇1, θ̇2)``
    (:meth:`to_velocity`, :meth:`in_velocity_coordinates`). :meth:`acceleration` is the closed
    form of the Euler-Lagrange equations. The defaults are the LNN paper's (Cranmer et al.
    2020): m1 = m2 = l1 = l2 = 1, g = 9.8, so the potential ranges over [-29.4, 29.4].

    Args:
        m1, m2: masses (> 0).
        l1, l2: rod lengths (> 0).
        g: gravitational acceleration (>= 0).
    """

    name = "double-pendulum"
    dof = 2

    def __init__(
        self, m1: float = 1.0, m2: float = 1.0, l1: float = 1.0, l2: float = 1.0, g: float = 9.8
    ):
        for arg, value in (("m1", m1), ("m2", m2), ("l1", l1), ("l2", l2)):
            number("DoublePendulum", arg, value, positive=True)
        number("DoublePendulum", "g", g, low=0)
        self.m1, self.m2, self.l1, self.l2, self.g = map(float, (m1, m2, l1, l2, g))

    @property
    def unit_mass(self) -> bool:
        return False

    def parameters(self) -> dict[str, float]:
        return {"m1": self.m1, "m2": self.m2, "l1": self.l1, "l2": self.l2, "g": self.g}

    @property
    def max_potential_energy(self) -> float:
        """max V = (m1 + m2) g l1 + m2 g l2 (both rods up); 29.4 at the defaults."""
        return (self.m1 + self.m2) * self.g * self.l1 + self.m2 * self.g * self.l2

    def mass_matrix(self, q: Array) -> Array:
        c = self.m2 * self.l1 * self.l2 * jnp.cos(q[0] - q[1])
        a = (self.m1 + self.m2) * self.l1**2
        b = self.m2 * self.l2**2 * jnp.ones_like(c)
        return jnp.stack([jnp.stack([a * jnp.ones_like(c), c]), jnp.stack([c, b])])

    def potential(self, q: Array) -> Array:
        """V(q)."""
        return -(self.m1 + self.m2) * self.g * self.l1 * jnp.cos(q[0]) - (
            self.m2 * self.g * self.l2 * jnp.cos(q[1])
        )

    def lagrangian(self, q: Array, qdot: Array) -> Array:
        """L(q, q̇) = ½ q̇ᵀ M(q) q̇ - V(q)."""
        return 0.5 * qdot @ self.mass_matrix(q) @ qdot - self.potential(q)

    def energy(self, y: Array) -> Array:
        q, p = y[:2], y[2:]
        return 0.5 * p @ jnp.linalg.solve(self.mass_matrix(q), p) + self.potential(q)

    def vector_field(self, t, y: Array, args=None) -> Array:
        dh = jax.grad(self.energy)(y)
        return jnp.concatenate([dh[2:], -dh[:2]])

    def acceleration(self, q: Array, qdot: Array) -> Array:
        m1, m2, l1, l2, g = self.m1, self.m2, self.l1, self.l2, self.g
        t1, t2 = q[0], q[1]
        w1, w2 = qdot[0], qdot[1]
        d = t1 - t2
        den = 2 * m1 + m2 - m2 * jnp.cos(2 * d)
        a1 = (
            -g * (2 * m1 + m2) * jnp.sin(t1)
            - m2 * g * jnp.sin(t1 - 2 * t2)
            - 2 * jnp.sin(d) * m2 * (w2**2 * l2 + w1**2 * l1 * jnp.cos(d))
        ) / (l1 * den)
        a2 = (
            2
            * jnp.sin(d)
            * (w1**2 * l1 * (m1 + m2) + g * (m1 + m2) * jnp.cos(t1) + w2**2 * l2 * m2 * jnp.cos(d))
        ) / (l2 * den)
        return jnp.stack([a1, a2])
