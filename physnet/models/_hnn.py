"""Hamiltonian neural network."""

from __future__ import annotations

from typing import Any

from jax import Array

from ..approximators import AbstractApproximator
from ._base import AbstractEnergyModel, Part
from ._base import check_scalar_energy as check_scalar_energy
from ._mechanics import symplectic_gradient


class HNN(AbstractEnergyModel):
    r"""Hamiltonian neural network (Greydanus et al., 2019).

    A learned scalar H_NN(q, p) defines du/dt = J∇H_NN, J = [[0, I], [-I, 0]], computed by
    autodiff. dH_NN/dt = ∇Hᵀ J ∇H = 0 exactly, and the flow is time reversible.

    Args:
        hamiltonian: approximator ``(2N,) -> (1,)`` with a smooth activation.
    """

    name = "hnn"
    scaling = "canonical"

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

    def parts(self) -> tuple[Part, ...]:
        return (Part("H", "hamiltonian", self.hamiltonian, "the H network"),)

    @classmethod
    def build(cls, state_size: int, approximator) -> HNN:
        """``HNN(approximator(state_size, 1))`` (see :func:`physnet.build_model`)."""
        return cls(approximator(state_size, 1))
