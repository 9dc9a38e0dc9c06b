"""The Acrobot: a two-link pendulum driven by a torque at the elbow only."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import number
from ._base import AbstractSystem


class Acrobot(AbstractSystem):
    r"""The Acrobot: two rigid links hanging from a fixed pivot, a torque τ = u at the elbow.

    Link i has mass m_i, length l_i, its centre of mass lc_i from its proximal joint and the
    moment of inertia I_i about that centre; the shoulder is passive, the elbow actuated.
    Generalised coordinates q = (θ1, θ2): the first link's angle from the downward vertical
    and the second link's angle relative to the first (θ = (0, 0) hanging, (π, 0) upright).

    .. math::
        M(q) = \begin{pmatrix} d_1 & d_2 \\ d_2 & m_2 l_{c2}^2 + I_2 \end{pmatrix},\quad
        d_1 = m_1 l_{c1}^2 + m_2 (l_1^2 + l_{c2}^2 + 2 l_1 l_{c2} \cos\theta_2) + I_1 + I_2,
        \quad d_2 = m_2 (l_{c2}^2 + l_1 l_{c2} \cos\theta_2) + I_2,

        V(q) = -(m_1 l_{c1} + m_2 l_1) g \cos\theta_1 - m_2 l_{c2} g \cos(\theta_1 + \theta_2),

        H = \tfrac12 p^\top M(q)^{-1} p + V(q), \qquad p = M(q) \dot q,

    and the generalised force Q = (0, u) (B = (0, 1)ᵀ, G = (0, 0, 0, 1)ᵀ on the canonical
    state (θ1, θ2, p1, p2)), so along solutions dH/dt = θ̇2 u: the torque's power, no loss.
    The closed form of the Euler-Lagrange equations (:meth:`acceleration`) is Sutton &
    Barto's (1998, section 11.3; Spong 1995, "The swing up control problem for the Acrobot",
    IEEE Control Systems Magazine 15(1)):

    .. math::
        \phi_2 = m_2 l_{c2} g \sin(\theta_1 + \theta_2), \qquad
        \phi_1 = -m_2 l_1 l_{c2} \sin\theta_2\, (\dot\theta_2^2 + 2 \dot\theta_1 \dot\theta_2)
            + (m_1 l_{c1} + m_2 l_1) g \sin\theta_1 + \phi_2,

        \ddot\theta_2 = \frac{u + \frac{d_2}{d_1}\phi_1 - m_2 l_1 l_{c2} \dot\theta_1^2
            \sin\theta_2 - \phi_2}{m_2 l_{c2}^2 + I_2 - d_2^2 / d_1}, \qquad
        \ddot\theta_1 = -\frac{d_2 \ddot\theta_2 + \phi_1}{d_1} .

    The defaults are Sutton & Barto's: m1 = m2 = 1, l1 = l2 = 1, lc1 = lc2 = 0.5,
    I1 = I2 = 1, g = 9.8. The length l2 enters only the tip's height (:meth:`tip_height`),
    not the dynamics. M(q) is positive definite for every q when the masses and the
    centre-of-mass distances are positive and the inertias non-negative.

    Args:
        m1, m2: link masses (> 0).
        l1, l2: link lengths (> 0).
        lc1, lc2: distances from each link's proximal joint to its centre of mass (> 0).
        i1, i2: moments of inertia about the links' centres of mass (>= 0).
        g: gravitational acceleration (>= 0).
    """

    name = "acrobot"
    dof = 2
    input_size: ClassVar[int] = 1

    def __init__(
        self,
        m1: float = 1.0,
        m2: float = 1.0,
        l1: float = 1.0,
        l2: float = 1.0,
        lc1: float = 0.5,
        lc2: float = 0.5,
        i1: float = 1.0,
        i2: float = 1.0,
        g: float = 9.8,
    ):
        for arg, value in (("m1", m1), ("m2", m2), ("l1", l1), ("l2", l2), ("lc1", lc1),
                           ("lc2", lc2)):  # fmt: skip
            number("Acrobot", arg, value, positive=True)
        for arg, value in (("i1", i1), ("i2", i2), ("g", g)):
            number("Acrobot", arg, value, low=0)
        self.m1, self.m2, self.l1, self.l2 = map(float, (m1, m2, l1, l2))
        self.lc1, self.lc2, self.i1, self.i2, self.g = map(float, (lc1, lc2, i1, i2, g))

    def parameters(self) -> dict[str, float]:
        return {
            "m1": self.m1,
            "m2": self.m2,
            "l1": self.l1,
            "l2": self.l2,
            "lc1": self.lc1,
            "lc2": self.lc2,
            "i1": self.i1,
            "i2": self.i2,
            "g": self.g,
        }

    @property
    def unit_mass(self) -> bool:
        return False

    def _d(self, q: Array) -> tuple[Array, Array, Array]:
        """d1(θ2), d2(θ2) and the constant m2 lc2² + I2."""
        m2, l1, lc2 = self.m2, self.l1, self.lc2
        c = jnp.cos(q[1])
        d1 = self.m1 * self.lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * c) + self.i1 + self.i2
        d2 = m2 * (lc2**2 + l1 * lc2 * c) + self.i2
        return d1, d2, (m2 * lc2**2 + self.i2) * jnp.ones_like(c)

    def mass_matrix(self, q: Array) -> Array:
        d1, d2, d22 = self._d(q)
        return jnp.stack([jnp.stack([d1, d2]), jnp.stack([d2, d22])])

    def potential(self, q: Array) -> Array:
        """V(q) = -(m1 lc1 + m2 l1) g cos θ1 - m2 lc2 g cos(θ1 + θ2)."""
        return -(self.m1 * self.lc1 + self.m2 * self.l1) * self.g * jnp.cos(q[0]) - (
            self.m2 * self.lc2 * self.g * jnp.cos(q[0] + q[1])
        )

    def tip_height(self, q: Array) -> Array:
        """The free end's height above the pivot, -l1 cos θ1 - l2 cos(θ1 + θ2)."""
        return -self.l1 * jnp.cos(q[0]) - self.l2 * jnp.cos(q[0] + q[1])

    def lagrangian(self, q: Array, qdot: Array) -> Array:
        """L(q, q̇) = ½ q̇ᵀ M(q) q̇ - V(q)."""
        return 0.5 * qdot @ self.mass_matrix(q) @ qdot - self.potential(q)

    def energy(self, y: Array) -> Array:
        q, p = y[:2], y[2:]
        return 0.5 * p @ jnp.linalg.solve(self.mass_matrix(q), p) + self.potential(q)

    def input_matrix(self, y: Array) -> Array:
        return jnp.asarray([[0.0], [0.0], [0.0], [1.0]], dtype=jnp.result_type(y, jnp.float64))

    def vector_field(self, t, y: Array, args=None) -> Array:
        dh = jax.grad(self.energy)(y)
        torque = 0.0 if args is None else jnp.reshape(args, (-1,))[0]
        elbow = jnp.asarray([0.0, 1.0], dtype=dh.dtype)  # B = (0, 1)ᵀ: Q = B u
        return jnp.concatenate([dh[2:], -dh[:2] + elbow * torque])

    def acceleration(self, q: Array, qdot: Array, u=None) -> Array:
        """q̈ = (θ̈1, θ̈2) from Sutton & Barto's closed form above (``u``: ``(1,)`` or
        ``None``, no torque)."""
        torque = 0.0 if u is None else jnp.reshape(u, (-1,))[0]
        m2, l1, lc2, g = self.m2, self.l1, self.lc2, self.g
        d1, d2, d22 = self._d(q)
        s2 = jnp.sin(q[1])
        phi2 = m2 * lc2 * g * jnp.sin(q[0] + q[1])
        phi1 = (
            -m2 * l1 * lc2 * s2 * (qdot[1] ** 2 + 2 * qdot[0] * qdot[1])
            + (self.m1 * self.lc1 + m2 * l1) * g * jnp.sin(q[0])
            + phi2
        )
        ddot2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * qdot[0] ** 2 * s2 - phi2) / (
            d22 - d2**2 / d1
        )
        return jnp.stack([-(d2 * ddot2 + phi1) / d1, ddot2])
