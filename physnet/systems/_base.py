"""The abstract physical system."""

from __future__ import annotations

import abc
import inspect
from typing import ClassVar

import jax.numpy as jnp
from jax import Array


class AbstractSystem(abc.ABC):
    """A known dynamical system with canonical state ``y = (q, p)``.

    Subclasses provide the exact vector field with the diffrax signature
    ``vector_field(t, y, args) -> dy/dt`` on ONE state of shape ``(2 * dof,)``, and the energy.
    Systems are immutable; their parameters are plain Python floats available from
    :meth:`parameters`.
    """

    #: the system's registry name (``physnet simulate --system NAME``, data files' metadata)
    name: ClassVar[str]
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

    @classmethod
    def parameter_defaults(cls) -> dict[str, float]:
        """The constructor's parameters and their defaults (what the CLI offers as flags)."""
        return {
            k: p.default
            for k, p in inspect.signature(cls.__init__).parameters.items()
            if k != "self" and p.default is not inspect.Parameter.empty
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.parameters().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.parameters() == other.parameters()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.parameters().items()))))
