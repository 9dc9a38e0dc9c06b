"""The cart-pole: a pendulum on a cart pushed by a horizontal force."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import number
from ._base import AbstractSystem


class CartPole(AbstractSystem):
    r"""The cart-pole: a pendulum on a cart that a horizontal force u pushes along a rail.

    A point mass m on a massless rod of length l, pivoted on a cart of mass M; the rail is
    frictionless unless ``cart_friction`` > 0, the pivot unless ``pole_friction`` > 0.

    Generalised coordinates q = (x, θ): the cart's position and the rod's angle from the
    downward vertical (θ = 0 hanging, θ = π upright, as :class:`DrivenPendulum`). With the
    bob at (x + l sin θ, -l cos θ):

    .. math::
        M(q) = \begin{pmatrix} M + m & m l \cos\theta \\ m l \cos\theta & m l^2 \end{pmatrix},
        \qquad V(q) = -m g l \cos\theta,

        L = \tfrac12 \dot q^\top M(q) \dot q - V(q), \qquad
        H = \tfrac12 p^\top M(q)^{-1} p + V(q), \qquad p = M(q) \dot q,

    and the generalised forces Q = (u - b_x ẋ, -b_θ θ̇) (the input on the cart; B = (1, 0)ᵀ,
    G = (0, 0, 1, 0)ᵀ on the canonical state (x, θ, p_x, p_θ)), so along solutions

    .. math:: \frac{dH}{dt} = \dot x\, u - b_x \dot x^2 - b_\theta \dot\theta^2 .

    The Euler-Lagrange equations (Barto, Sutton & Anderson 1983; Florian 2007, "Correct
    equations for the dynamics of the cart-pole system", with the angle from the downward
    vertical and a point mass):

    .. math::
        (M + m)\ddot x + m l \cos\theta\, \ddot\theta - m l \sin\theta\, \dot\theta^2
            = u - b_x \dot x, \qquad
        m l \cos\theta\, \ddot x + m l^2 \ddot\theta + m g l \sin\theta = -b_\theta \dot\theta .

    Args:
        cart_mass: M (> 0; default 1).
        pole_mass: m (> 0; default 0.1).
        length: l (> 0; default 0.5).
        gravity: g (> 0; default 9.81).
        cart_friction: b_x >= 0 (default 0).
        pole_friction: b_θ >= 0 (default 0).
    """

    name = "cart-pole"
    dof = 2
    input_size: ClassVar[int] = 1

    def __init__(
        self,
        cart_mass: float = 1.0,
        pole_mass: float = 0.1,
        length: float = 0.5,
        gravity: float = 9.81,
        cart_friction: float = 0.0,
        pole_friction: float = 0.0,
    ):
        self.cart_mass = number("CartPole", "cart_mass", cart_mass, positive=True)
        self.pole_mass = number("CartPole", "pole_mass", pole_mass, positive=True)
        self.length = number("CartPole", "length", length, positive=True)
        self.gravity = number("CartPole", "gravity", gravity, positive=True)
        self.cart_friction = number("CartPole", "cart_friction", cart_friction, low=0)
        self.pole_friction = number("CartPole", "pole_friction", pole_friction, low=0)

    def parameters(self) -> dict[str, float]:
        return {
            "cart_mass": self.cart_mass,
            "pole_mass": self.pole_mass,
            "length": self.length,
            "gravity": self.gravity,
            "cart_friction": self.cart_friction,
            "pole_friction": self.pole_friction,
        }

    @property
    def unit_mass(self) -> bool:
        return False

    def mass_matrix(self, q: Array) -> Array:
        m, l = self.pole_mass, self.length
        c = m * l * jnp.cos(q[1])
        total = (self.cart_mass + m) * jnp.ones_like(c)
        return jnp.stack([jnp.stack([total, c]), jnp.stack([c, m * l**2 * jnp.ones_like(c)])])

    def potential(self, q: Array) -> Array:
        """V(q) = -m g l cos θ."""
        return -self.pole_mass * self.gravity * self.length * jnp.cos(q[1])

    def lagrangian(self, q: Array, qdot: Array) -> Array:
        """L(q, q̇) = ½ q̇ᵀ M(q) q̇ - V(q)."""
        return 0.5 * qdot @ self.mass_matrix(q) @ qdot - self.potential(q)

    def energy(self, y: Array) -> Array:
        q, p = y[:2], y[2:]
        return 0.5 * p @ jnp.linalg.solve(self.mass_matrix(q), p) + self.potential(q)

    def generalised_force(self, qdot: Array, u=None) -> Array:
        """Q = (u - b_x ẋ, -b_θ θ̇), shape ``(2,)`` (``u``: ``(1,)`` or ``None``, no force)."""
        push = 0.0 if u is None else jnp.reshape(u, (-1,))[0]
        return jnp.stack([push - self.cart_friction * qdot[0], -self.pole_friction * qdot[1]])

    def input_matrix(self, y: Array) -> Array:
        return jnp.asarray([[0.0], [0.0], [1.0], [0.0]], dtype=jnp.result_type(y, jnp.float64))

    def vector_field(self, t, y: Array, args=None) -> Array:
        dh = jax.grad(self.energy)(y)
        qdot = dh[2:]
        return jnp.concatenate([qdot, -dh[:2] + self.generalised_force(qdot, args)])

    def acceleration(self, q: Array, qdot: Array, u=None) -> Array:
        """q̈ = (ẍ, θ̈) from the equations of motion above (closed form)."""
        m, l, g = self.pole_mass, self.length, self.gravity
        s, c = jnp.sin(q[1]), jnp.cos(q[1])
        force = self.generalised_force(qdot, u)
        rhs_x = force[0] + m * l * s * qdot[1] ** 2
        rhs_t = force[1] - m * g * l * s
        a, b, d = self.cart_mass + m, m * l * c, m * l**2
        det = a * d - b * b  # = m l² (M + m sin²θ) > 0
        return jnp.stack([(d * rhs_x - b * rhs_t) / det, (a * rhs_t - b * rhs_x) / det])
