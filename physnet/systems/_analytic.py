"""Systems with closed-form solutions or simple structure, used to test physnet."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from .._errors import ConfigError
from ._base import AbstractSystem


class HarmonicOscillator(AbstractSystem):
    r"""q̈ = -ω² q, H = p²/2 + ω² q²/2, with the exact solution :meth:`solution`."""

    name = "harmonic"
    dof = 1

    def __init__(self, omega: float = 1.0):
        if not omega > 0:
            raise ConfigError(f"HarmonicOscillator: omega must be > 0, got {omega!r}")
        self.omega = float(omega)

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
    r"""The simple pendulum: q̈ = -(g/l) sin q, H = p²/2 + (g/l)(1 - cos q)."""

    name = "pendulum"
    dof = 1

    def __init__(self, g_over_l: float = 1.0):
        if not g_over_l > 0:
            raise ConfigError(f"Pendulum: g_over_l must be > 0, got {g_over_l!r}")
        self.g_over_l = float(g_over_l)

    def parameters(self) -> dict[str, float]:
        return {"g_over_l": self.g_over_l}

    def vector_field(self, t, y: Array, args=None) -> Array:
        return jnp.stack([y[1], -self.g_over_l * jnp.sin(y[0])])

    def energy(self, y: Array) -> Array:
        return 0.5 * y[1] ** 2 + self.g_over_l * (1.0 - jnp.cos(y[0]))
