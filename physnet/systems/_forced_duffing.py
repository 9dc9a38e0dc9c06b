"""The forced (driven, damped) Duffing oscillator: a non-autonomous system."""

from __future__ import annotations

import math
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ._base import AbstractSystem


class ForcedDuffing(AbstractSystem):
    r"""The Duffing oscillator driven by a periodic force (non-autonomous).

    The forced Duffing oscillator, dy/dt = f(t, y):

    .. math::
        \ddot q = -\delta \dot q - \alpha q - \beta q^3 + \gamma \cos(\omega t), \qquad
        p = \dot q, \qquad
        H(q, p) = \tfrac12 p^2 + \tfrac{\alpha}{2} q^2 + \tfrac{\beta}{4} q^4,

    with :meth:`energy` the energy H of the unforced part, so dH/dt = -δp² + γ cos(ωt) p.
    The defaults are the port-HNN paper's settings (α = -1, β = 1, δ = 0.3, γ = 0.2,
    ω = 1.2; γ = 0.5 is its second case); :meth:`chaotic` gives its chaotic case
    ẍ = x - x³ - 0.1ẋ + 0.39 cos 1.4t. Initial states are uniform on
    [-2.5·y0_std, 2.5·y0_std]² (the paper's U[-2.5, 2.5]² at ``y0_std=1``). The mass is 1, so
    the canonical state (q, p) is already (q, q̇): :meth:`in_velocity_coordinates` is the
    system itself.

    Args:
        alpha: linear stiffness α.
        beta: cubic stiffness β.
        delta: linear damping δ >= 0.
        gamma: forcing amplitude γ.
        omega: forcing angular frequency ω > 0.

    Raises:
        ConfigError: for a non-finite parameter, δ < 0 or ω <= 0.

    Reference: Desai et al., "Port-Hamiltonian neural networks for learning explicit
    time-dependent dynamical systems", Phys. Rev. E 104, 034312 (2021), section IV.
    """

    name = "forced-duffing"
    dof = 1
    autonomous: ClassVar[bool] = False

    def __init__(
        self,
        alpha: float = -1.0,
        beta: float = 1.0,
        delta: float = 0.3,
        gamma: float = 0.2,
        omega: float = 1.2,
    ):
        values = {"alpha": alpha, "beta": beta, "delta": delta, "gamma": gamma, "omega": omega}
        for name, value in values.items():
            number("ForcedDuffing", name, value)
        if delta < 0:
            raise ConfigError(f"ForcedDuffing: delta must be >= 0 (damping), got {delta!r}")
        if not omega > 0:
            raise ConfigError(f"ForcedDuffing: omega must be > 0 (frequency), got {omega!r}")
        self.alpha, self.beta, self.delta = float(alpha), float(beta), float(delta)
        self.gamma, self.omega = float(gamma), float(omega)

    @classmethod
    def chaotic(cls) -> ForcedDuffing:
        """The chaotic case ẍ = x - x³ - 0.1ẋ + 0.39 cos(1.4t)."""
        return cls(alpha=-1.0, beta=1.0, delta=0.1, gamma=0.39, omega=1.4)

    def parameters(self) -> dict[str, float]:
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "delta": self.delta,
            "gamma": self.gamma,
            "omega": self.omega,
        }

    @property
    def period(self) -> float:
        """The forcing period 2π/ω (the stroboscopic Poincaré section's step)."""
        return 2 * math.pi / self.omega

    def force(self, t) -> Array:
        """The external force γ cos(ωt)."""
        return self.gamma * jnp.cos(self.omega * t)

    def acceleration(self, q: Array, qdot: Array, t=0.0) -> Array:
        """q̈ at time ``t`` (default 0)."""
        return -self.alpha * q - self.beta * q**3 - self.delta * qdot + self.force(t)

    def vector_field(self, t, y: Array, args=None) -> Array:
        q, p = y[0], y[1]
        return jnp.stack([p, self.acceleration(q, p, t)])

    def energy(self, y: Array) -> Array:
        q, p = y[0], y[1]
        return 0.5 * p**2 + 0.5 * self.alpha * q**2 + 0.25 * self.beta * q**4

    def sample_initial_states(self, key: Array, n: int, y0_std: float = 1.0) -> Array:
        """``n`` states uniform on [-2.5·y0_std, 2.5·y0_std]², shape ``(n, 2)``."""
        bound = 2.5 * y0_std
        return jax.random.uniform(key, (n, 2), jnp.float64, minval=-bound, maxval=bound)

    def in_velocity_coordinates(self) -> AbstractSystem:
        return self
