"""A system seen on the state (q, q̇) instead of its canonical (q, p)."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from ._base import AbstractSystem


class VelocityCoordinates(AbstractSystem):
    r"""``system`` on the state x = (q, q̇): dx/dt = (q̇, q̈(q, q̇)), energy H(q, M(q) q̇).

    The coordinates of Lagrangian data (Cranmer et al. 2020): a Lagrangian model's vector
    field acts on (q, q̇), so data for it, and the true system it is evaluated against, use
    these coordinates. Data files record them as ``metadata["coordinates"] = "velocity"`` and
    :func:`~physnet.systems.system_from_metadata` returns this wrapper for them. The mass matrix
    of the wrapped state is the identity in the sense that its second half is q̇ itself.

    Args:
        system: the canonical system.
    """

    def __init__(self, system: AbstractSystem):
        self.system = system
        self.name = system.name
        self.dof = system.dof

    def parameters(self) -> dict[str, float]:
        return self.system.parameters()

    def vector_field(self, t, y: Array, args=None) -> Array:
        q, qdot = y[: self.dof], y[self.dof :]
        return jnp.concatenate([qdot, jnp.atleast_1d(self.system.acceleration(q, qdot))])

    def energy(self, y: Array) -> Array:
        return self.system.energy(self.system.to_canonical(y[: self.dof], y[self.dof :]))

    def acceleration(self, q: Array, qdot: Array) -> Array:
        return self.system.acceleration(q, qdot)

    def sample_initial_states(self, key: Array, n: int, y0_std: float = 1.0) -> Array:
        import jax

        y = self.system.sample_initial_states(key, n, y0_std)
        return jax.vmap(self.system.to_velocity)(y)

    def in_velocity_coordinates(self) -> AbstractSystem:
        return self

    def __repr__(self) -> str:
        return f"VelocityCoordinates({self.system!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, VelocityCoordinates) and self.system == other.system

    def __hash__(self) -> int:
        return hash(("VelocityCoordinates", hash(self.system)))
