"""Hamiltonian neural network."""

from __future__ import annotations

from typing import Any

from jax import Array

from .._errors import ConfigError
from ..approximators import NONSMOOTH_ACTIVATIONS, AbstractApproximator
from ._base import AbstractEnergyModel
from ._mechanics import symplectic_gradient


def check_scalar_energy(owner: str, name: str, approx) -> None:
    """Validate an approximator used as a scalar energy (H or L)."""
    if not isinstance(approx, AbstractApproximator):
        raise ConfigError(f"{owner}: {name} must be an approximator, got {type(approx).__name__}")
    if approx.out_features != 1:
        raise ConfigError(
            f"{owner}: {name} must have a scalar output (out_features=1), got "
            f"out_features={approx.out_features}"
        )
    if approx.in_features % 2:
        raise ConfigError(
            f"{owner}: {name} must take an even-sized state (q, p), got "
            f"in_features={approx.in_features}"
        )
    nonsmooth = [a for a in approx.activation_names() if a in NONSMOOTH_ACTIVATIONS]
    if nonsmooth:
        activation = nonsmooth[0]
        raise ConfigError(
            f"{owner}: {name} uses the non-smooth activation {activation!r}; its derivatives "
            "define the dynamics, so use a smooth one (tanh, softplus, silu)"
        )


class HNN(AbstractEnergyModel):
    r"""Hamiltonian neural network (Greydanus et al., 2019).

    A learned scalar H_NN(q, p) defines du/dt = J∇H_NN, J = [[0, I], [-I, 0]], computed by
    autodiff. dH_NN/dt = ∇Hᵀ J ∇H = 0 exactly, and the flow is time reversible.

    Args:
        hamiltonian: approximator ``(2N,) -> (1,)`` with a smooth activation.
    """

    name = "hnn"

    def __init__(self, hamiltonian: AbstractApproximator):
        check_scalar_energy("HNN", "hamiltonian", hamiltonian)
        self.hamiltonian = hamiltonian
        self.state_size = hamiltonian.in_features

    def energy(self, y: Array) -> Array:
        return self.hamiltonian(y)[0]

    def __call__(self, t, y: Array, args=None) -> Array:
        return symplectic_gradient(self.energy, y)

    def config(self) -> dict[str, Any]:
        return {}

    def submodules(self):
        return {"hamiltonian": self.hamiltonian}

    @classmethod
    def build(cls, state_size: int, approximator) -> HNN:
        """``HNN(approximator(state_size, 1))`` (see :func:`physnet.build_model`)."""
        return cls(approximator(state_size, 1))
