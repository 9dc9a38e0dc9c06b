"""The planar N-link chain pendulum, in angle coordinates and in Cartesian coordinates with
holonomic constraints."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import number
from ._base import AbstractSystem
from ._constraints import ChainConstraints, constrained_hamiltonian_field, links


class ChainPendulum(AbstractSystem):
    r"""A chain of N equal point masses on N massless rods of equal length, under gravity.

    Angles θ_i from the downward vertical (absolute, as in
    :class:`~physnet.systems.DoublePendulum`); mass k sits at
    r_k = Σ_{i<=k} l (sin θ_i, -cos θ_i). With μ_i = (N - i + 1) m the mass hanging from
    rod i,

    .. math::
        M_{ij}(\theta) = l^2 \mu_{\max(i, j)} \cos(\theta_i - \theta_j), \qquad
        V(\theta) = -g\, l \sum_i \mu_i \cos\theta_i,

        H = \tfrac12 p^\top M(\theta)^{-1} p + V(\theta), \qquad p = M(\theta)\,\dot\theta .

    The canonical state is ``(θ_1..θ_N, p_1..p_N)``. For N = 2 this is
    :class:`~physnet.systems.DoublePendulum` with m1 = m2 = m, l1 = l2 = l (same mass
    matrix, potential and state). :meth:`to_cartesian` and :meth:`from_cartesian` convert to
    and from the Cartesian state of :class:`CartesianChainPendulum`.

    Args:
        n: number of links N (an integer >= 1).
        mass: m of every bob (> 0).
        length: l of every rod (> 0).
        g: gravitational acceleration (>= 0).
    """

    name = "chain-pendulum"

    def __init__(self, n: float = 2, mass: float = 1.0, length: float = 1.0, g: float = 9.8):
        self.n = links("ChainPendulum", n)
        self.dof = self.n
        self.mass = number("ChainPendulum", "mass", mass, positive=True)
        self.length = number("ChainPendulum", "length", length, positive=True)
        self.g = number("ChainPendulum", "g", g, low=0)

    @property
    def unit_mass(self) -> bool:
        return False

    def parameters(self) -> dict[str, float]:
        return {"n": self.n, "mass": self.mass, "length": self.length, "g": self.g}

    @property
    def hanging_mass(self) -> Array:
        """μ_i = (N - i + 1) m, the mass below rod i, shape ``(N,)``."""
        return self.mass * jnp.arange(self.n, 0, -1, dtype=jnp.float64)

    @property
    def max_potential_energy(self) -> float:
        """max V = g l Σ μ_i (every rod up): 29.4 for the LNN paper's double pendulum."""
        return self.g * self.length * self.mass * self.n * (self.n + 1) / 2

    def mass_matrix(self, q: Array) -> Array:
        mu = self.hanging_mass
        i = jnp.arange(self.n)
        below = mu[jnp.maximum(i[:, None], i[None, :])]
        return self.length**2 * below * jnp.cos(q[:, None] - q[None, :])

    def potential(self, q: Array) -> Array:
        """V(θ)."""
        return -self.g * self.length * jnp.dot(self.hanging_mass, jnp.cos(q))

    def lagrangian(self, q: Array, qdot: Array) -> Array:
        """L(θ, θ̇) = ½ θ̇ᵀ M(θ) θ̇ - V(θ)."""
        return 0.5 * qdot @ self.mass_matrix(q) @ qdot - self.potential(q)

    def energy(self, y: Array) -> Array:
        q, p = y[: self.n], y[self.n :]
        return 0.5 * p @ jnp.linalg.solve(self.mass_matrix(q), p) + self.potential(q)

    def vector_field(self, t, y: Array, args=None) -> Array:
        dh = jax.grad(self.energy)(y)
        return jnp.concatenate([dh[self.n :], -dh[: self.n]])

    def acceleration(self, q: Array, qdot: Array) -> Array:
        r"""θ̈ from M θ̈ = -l² (μ_max(i,j) sin(θ_i - θ_j)) θ̇² - g l μ ∘ sin θ (the
        Euler-Lagrange equations in closed form), shape ``(N,)``."""
        mu = self.hanging_mass
        i = jnp.arange(self.n)
        below = mu[jnp.maximum(i[:, None], i[None, :])]
        coriolis = self.length**2 * (below * jnp.sin(q[:, None] - q[None, :])) @ qdot**2
        rhs = -coriolis - self.g * self.length * mu * jnp.sin(q)
        return jnp.linalg.solve(self.mass_matrix(q), rhs)

    def sample_initial_states(self, key: Array, n: int, y0_std: float = 1.0) -> Array:
        """``n`` canonical states with angles and angular velocities N(0, y0_std²) (Finzi et
        al. 2020 draw both from N(0, 1)), returned as ``(θ, p)``, shape ``(n, 2N)``."""
        x = y0_std * jax.random.normal(key, (n, 2 * self.n), dtype=jnp.float64)
        return jax.vmap(lambda x_: self.to_canonical(x_[: self.n], x_[self.n :]))(x)

    def positions(self, q: Array) -> Array:
        """The bobs' positions r_k, flattened ``(x_1, y_1, ..., x_N, y_N)``, shape ``(2N,)``."""
        steps = self.length * jnp.stack([jnp.sin(q), -jnp.cos(q)], axis=-1)
        return jnp.cumsum(steps, axis=0).reshape(-1)

    def to_cartesian(self, y: Array) -> Array:
        """The Cartesian state ``(x, P)`` of :class:`CartesianChainPendulum` (positions
        ``(2N,)``, then momenta P = m ẋ) of a canonical state ``y = (θ, p)``; shape ``(4N,)``."""
        q, qdot = y[: self.n], self.to_velocity(y)[self.n :]
        x, xdot = jax.jvp(self.positions, (q,), (qdot,))
        return jnp.concatenate([x, self.mass * xdot])

    def from_cartesian(self, z: Array) -> Array:
        """The canonical state ``(θ, p)`` of a Cartesian state ``z = (x, P)`` on the
        constraint manifold (the inverse of :meth:`to_cartesian`); shape ``(2N,)``."""
        r = z[: 2 * self.n].reshape(self.n, 2)
        v = z[2 * self.n :].reshape(self.n, 2) / self.mass
        dr = jnp.concatenate([r[:1], r[1:] - r[:-1]])
        dv = jnp.concatenate([v[:1], v[1:] - v[:-1]])
        q = jnp.arctan2(dr[:, 0], -dr[:, 1])
        # d/dt (l sin θ, -l cos θ) = l θ̇ (cos θ, sin θ)
        qdot = (dv[:, 0] * jnp.cos(q) + dv[:, 1] * jnp.sin(q)) / self.length
        return self.to_canonical(q, qdot)

    def cartesian(self) -> CartesianChainPendulum:
        """The same chain in Cartesian coordinates with explicit constraints."""
        return CartesianChainPendulum(n=self.n, mass=self.mass, length=self.length, g=self.g)


class CartesianChainPendulum(AbstractSystem):
    r"""The N-link chain pendulum in Cartesian coordinates with holonomic rod constraints.

    State z = (x, P): the bobs' positions x = (x_1, y_1, ..., x_N, y_N) and momenta P = m ẋ,
    shape ``(4N,)``. The unconstrained Hamiltonian is H = |P|²/2m + m g Σ_k y_k, and the rods
    enter only as the constraints φ(x) = 0 of :class:`~physnet.systems.ChainConstraints`; the
    flow is Hamilton's equations projected onto the constraint manifold
    (:func:`~physnet.systems.constrained_hamiltonian_field`, Finzi et al. 2020). It is the same
    motion as :class:`ChainPendulum` (:meth:`ChainPendulum.to_cartesian` maps one flow onto the
    other), and initial states are drawn in angles and mapped.

    Args:
        n: number of links N (an integer >= 1).
        mass: m of every bob (> 0).
        length: l of every rod (> 0).
        g: gravitational acceleration (>= 0).
    """

    name = "chain-pendulum-cartesian"

    def __init__(self, n: float = 2, mass: float = 1.0, length: float = 1.0, g: float = 9.8):
        self.angles = ChainPendulum(n, mass, length, g)
        self.n = self.angles.n
        self.dof = 2 * self.n
        self.mass, self.length, self.g = self.angles.mass, self.angles.length, self.angles.g
        self.constraints = ChainConstraints(self.n, self.length)

    @property
    def unit_mass(self) -> bool:
        return self.mass == 1.0

    def parameters(self) -> dict[str, float]:
        return self.angles.parameters()

    def mass_matrix(self, q: Array) -> Array:
        return self.mass * jnp.eye(self.dof, dtype=jnp.result_type(q, jnp.float64))

    def potential(self, x: Array) -> Array:
        """V(x) = m g Σ_k y_k."""
        return self.mass * self.g * jnp.sum(x[1::2])

    def energy(self, y: Array) -> Array:
        x, p = y[: self.dof], y[self.dof :]
        return 0.5 * jnp.dot(p, p) / self.mass + self.potential(x)

    def vector_field(self, t, y: Array, args=None) -> Array:
        return constrained_hamiltonian_field(self.energy, self.constraints, y)

    def sample_initial_states(self, key: Array, n: int, y0_std: float = 1.0) -> Array:
        """Angle-coordinate states (:meth:`ChainPendulum.sample_initial_states`) mapped to
        Cartesian coordinates, so every one is on the constraint manifold; ``(n, 4N)``."""
        y = self.angles.sample_initial_states(key, n, y0_std)
        return jax.vmap(self.angles.to_cartesian)(y)
