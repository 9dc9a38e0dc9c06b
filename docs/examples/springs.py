"""Two uncoupled springs: a system of your own (springs:TwoSprings)."""

import jax.numpy as jnp

import physnet as pn


class TwoSprings(pn.systems.AbstractSystem):
    """Two uncoupled oscillators of stiffness k and mass m."""

    dof = 2

    def __init__(self, k: float = 1.0, m: float = 1.0):
        self.k, self.m = float(k), float(m)

    def parameters(self):
        return {"k": self.k, "m": self.m}

    def vector_field(self, t, y, args=None):
        q, p = y[:2], y[2:]
        return jnp.concatenate([p / self.m, -self.k * q])

    def energy(self, y):
        q, p = y[:2], y[2:]
        return 0.5 * jnp.sum(p**2) / self.m + 0.5 * self.k * jnp.sum(q**2)
