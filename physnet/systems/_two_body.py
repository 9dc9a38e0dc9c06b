"""Two bodies in the plane under Newtonian gravity."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import number
from ._base import AbstractSystem


class TwoBody(AbstractSystem):
    r"""Two equal masses m in the plane attracting each other with gravitational constant G.

    .. math::
        H(q, p) = \frac{|p_1|^2 + |p_2|^2}{2m} - \frac{G m^2}{|q_1 - q_2|}, \qquad
        \dot q_i = p_i / m, \qquad \dot p_1 = -G m^2 \frac{q_1 - q_2}{|q_1 - q_2|^3} = -\dot p_2 .

    State layout, as in the HNN paper's code (Greydanus et al. 2019):
    ``y = (x1, x2, y1, y2, px1, px2, py1, py2)`` (positions by coordinate, then momenta).
    Total momentum and angular momentum :meth:`angular_momentum` are conserved. The default
    initial states are the paper's near-circular orbits (:meth:`sample_initial_states`).

    Args:
        mass: m of each body (> 0).
        gravity: G (> 0).
    """

    name = "two-body"
    dof = 4

    def __init__(self, mass: float = 1.0, gravity: float = 1.0):
        self.mass = number("TwoBody", "mass", mass, positive=True)
        self.gravity = number("TwoBody", "gravity", gravity, positive=True)

    @property
    def unit_mass(self) -> bool:
        return self.mass == 1.0

    def parameters(self) -> dict[str, float]:
        return {"mass": self.mass, "gravity": self.gravity}

    def mass_matrix(self, q: Array) -> Array:
        return self.mass * jnp.eye(4, dtype=jnp.result_type(q, jnp.float64))

    @staticmethod
    def positions(y: Array) -> tuple[Array, Array]:
        """Body positions ``(2,)`` each of a state ``(8,)`` (or of a q ``(4,)``)."""
        return jnp.stack([y[0], y[2]]), jnp.stack([y[1], y[3]])

    def _force_on_1(self, q: Array) -> Array:
        r1, r2 = self.positions(q)
        d = r1 - r2
        return -self.gravity * self.mass**2 * d / jnp.sum(d**2) ** 1.5

    def acceleration(self, q: Array, qdot: Array) -> Array:
        f = self._force_on_1(q) / self.mass
        return jnp.stack([f[0], -f[0], f[1], -f[1]])

    def vector_field(self, t, y: Array, args=None) -> Array:
        q, p = y[:4], y[4:]
        f = self._force_on_1(q)
        return jnp.concatenate([p / self.mass, jnp.stack([f[0], -f[0], f[1], -f[1]])])

    def energy(self, y: Array) -> Array:
        r1, r2 = self.positions(y)
        kinetic = 0.5 * jnp.sum(y[4:] ** 2) / self.mass
        return kinetic - self.gravity * self.mass**2 / jnp.sqrt(jnp.sum((r1 - r2) ** 2))

    def angular_momentum(self, y: Array) -> Array:
        """L = Σ_i (x_i p_{y,i} - y_i p_{x,i}) of one state ``(8,)``."""
        return y[0] * y[6] + y[1] * y[7] - y[2] * y[4] - y[3] * y[5]

    def sample_initial_states(
        self,
        key: Array,
        n: int,
        y0_std: float = 1.0,
        *,
        min_radius: float = 0.5,
        max_radius: float = 1.5,
        orbit_noise: float = 0.05,
    ) -> Array:
        r"""Near-circular orbits about the origin, the HNN paper's recipe.

        Body 1 at (x, y) with x, y ~ U[min_radius, max_radius], body 2 at -(x, y); velocities
        of the circular orbit, v_1 = (-y, x) √(G m / 4) / r^{3/2} (r = |(x, y)|), scaled by
        (1 + orbit_noise·N(0, 1)) and v_2 = -v_1. ``y0_std`` is unused (the distribution is
        the paper's).

        Returns:
            Canonical states ``(n, 8)``.
        """
        k_pos, k_noise = jax.random.split(key)
        pos = jax.random.uniform(
            k_pos, (n, 2), dtype=jnp.float64, minval=min_radius, maxval=max_radius
        )
        r = jnp.sqrt(jnp.sum(pos**2, axis=-1, keepdims=True))
        vel = (
            jnp.stack([-pos[:, 1], pos[:, 0]], axis=-1)
            * jnp.sqrt(self.gravity * self.mass / 4.0)
            / r**1.5
        )
        vel = vel * (1.0 + orbit_noise * jax.random.normal(k_noise, (n, 1), dtype=jnp.float64))
        x = jnp.stack([pos[:, 0], -pos[:, 0], pos[:, 1], -pos[:, 1]], axis=-1)
        v = jnp.stack([vel[:, 0], -vel[:, 0], vel[:, 1], -vel[:, 1]], axis=-1)
        return jnp.concatenate([x, self.mass * v], axis=-1)
