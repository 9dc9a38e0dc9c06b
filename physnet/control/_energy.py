r"""Energy shaping through the input port: drive H to a target level (swing-up).

For a port-Hamiltonian system ẏ = (J - R)∇H + G(y)u, dH/dt = -∇HᵀR∇H + y_outᵀu with the
collocated output y_out = Gᵀ∇H. The law

.. math:: u = \operatorname{sat}_{\bar u}\bigl(-k\,(H(y) - H^*)\, G(y)^\top \nabla H(y)\bigr)

gives, without dissipation and while unsaturated,

.. math:: \frac{d}{dt}(H - H^*) = -k\,(H - H^*)\,\lvert G^\top\nabla H\rvert^2,

so |H - H*| never grows (Åström & Furuta 2000, "Swinging up a pendulum by energy control",
Automatica 36). It is designed from H and G alone: a learned model's or a system's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ._base import AbstractController, energy_port


class EnergyShaping(AbstractController):
    """u = sat(-k (H(y) - H*) G(y)ᵀ∇H(y)) with H* = H(``target``).

    Args:
        source: a :class:`~physnet.models.PortHNN` with an input port (the learned H and G)
            or a system with an input (the true ones); see :func:`energy_port`.
        target: the state whose energy is the goal ``(d,)`` (the upright pendulum (π, 0)):
            H* = H(target), so a learned H's arbitrary offset cancels.
        gain: k > 0.
        bound: the input bound ū > 0 (every channel clipped to [-ū, ū]).

    Raises:
        ConfigError: for a source without an input port, a target of the wrong shape or a
            non-positive gain or bound.
    """

    def __init__(self, source, target, *, gain: float, bound: float):
        self.energy, self.input_matrix, self.input_size = energy_port(source)
        self.gain = number("EnergyShaping", "gain", gain, positive=True)
        self.bound = number("EnergyShaping", "bound", bound, positive=True)
        self.target = jnp.asarray(target, dtype=jnp.float64)
        size = self.input_matrix(self.target).shape[0] if self.target.ndim == 1 else None
        if size != self.target.shape[0]:
            raise ConfigError(
                f"EnergyShaping: target must be one state of the model's size, got shape "
                f"{self.target.shape}"
            )
        self.target_energy = self.energy(self.target)

    def output(self, y: Array) -> Array:
        """The collocated output G(y)ᵀ∇H(y) ``(m,)`` (the input's power is its product with u)."""
        return self.input_matrix(y).T @ jax.grad(self.energy)(y)

    def feedback(self, y: Array) -> Array:
        u = -self.gain * (self.energy(y) - self.target_energy) * self.output(y)
        return jnp.clip(u, -self.bound, self.bound)
