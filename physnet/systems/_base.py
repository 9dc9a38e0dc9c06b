"""The abstract physical system."""

from __future__ import annotations

import abc

import jax.numpy as jnp
from jax import Array


class AbstractSystem(abc.ABC):
    """A known dynamical system with canonical state ``y = (q, p)``.

    Subclasses provide the exact vector field with the diffrax signature
    ``vector_field(t, y, args) -> dy/dt`` on ONE state of shape ``(2 * dof,)``, and the energy.
    Systems are immutable; their parameters are plain Python floats available from
    :meth:`parameters`.
    """

    #: number of degrees of freedom N (the state has 2N components)
    dof: int = 1

    @property
    def state_size(self) -> int:
        return 2 * self.dof

    @abc.abstractmethod
    def vector_field(self, t, y: Array, args=None) -> Array:
        """dy/dt at state ``y`` of shape ``(2N,)``."""

    @abc.abstractmethod
    def energy(self, y: Array) -> Array:
        """Scalar energy of one state ``y`` of shape ``(2N,)``."""

    @abc.abstractmethod
    def parameters(self) -> dict[str, float]:
        """The system's parameters by name."""

    def acceleration(self, q: Array, qdot: Array) -> Array:
        """q̈ for a mechanical system with unit mass, where p = q̇.

        The default uses dp/dt of the vector field at ``(q, qdot)``, which is exact for every
        system in physnet (all have p = q̇).
        """
        y = jnp.concatenate([jnp.atleast_1d(q), jnp.atleast_1d(qdot)])
        return self.vector_field(0.0, y)[self.dof :]

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.parameters().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.parameters() == other.parameters()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.parameters().items()))))
