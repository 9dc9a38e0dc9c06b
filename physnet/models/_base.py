"""Abstract learned vector fields."""

from __future__ import annotations

import abc
from typing import Any

from flax import nnx
from jax import Array


class AbstractVectorField(nnx.Module, abc.ABC):
    """A learned ODE ``dy/dt = model(t, y, args)`` on ONE state of shape ``(state_size,)``.

    The diffrax signature, so a model drops into ``diffrax.ODETerm`` and physnet's steppers.
    Batching is ``jax.vmap``.
    """

    state_size: int

    @abc.abstractmethod
    def __call__(self, t, y: Array, args=None) -> Array: ...

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments other than the sub-modules."""

    @abc.abstractmethod
    def submodules(self) -> dict[str, nnx.Module]:
        """The learnable parts by constructor argument name (for checkpoints)."""


class AbstractEnergyModel(AbstractVectorField):
    """A vector field built from a learned scalar energy, exposed by :meth:`energy`."""

    @abc.abstractmethod
    def energy(self, y: Array) -> Array:
        """The model's learned energy of one state (a scalar)."""
