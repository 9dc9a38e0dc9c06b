"""The abstract physical system, and a system seen on the state (q, q̇) instead of its
canonical (q, p)."""

from __future__ import annotations

import abc
import inspect
import weakref
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array

from .._classpath import class_path

#: every AbstractSystem subclass defined in this process, by import path (``module:QualName``):
#: a data file's recorded class is found here without importing anything
_DEFINED: weakref.WeakValueDictionary[str, type] = weakref.WeakValueDictionary()


class AbstractSystem(abc.ABC):
    """A known dynamical system with canonical state ``y = (q, p)``.

    Subclasses provide the exact vector field with the diffrax signature
    ``vector_field(t, y, args) -> dy/dt`` on ONE state of shape ``(2 * dof,)``, and the energy.
    Systems are immutable; their parameters are plain Python floats available from
    :meth:`parameters`.
    """

    #: the system's name (``physnet simulate --system NAME`` for a registered system, data
    #: files' metadata); optional: a class that does not declare one is named after itself
    name: ClassVar[str]
    #: number of degrees of freedom N (the state has 2N components)
    dof: int = 1
    #: whether the vector field ignores t (False for forced systems such as ForcedDuffing)
    autonomous: ClassVar[bool] = True
    #: number of input channels m: 0 for a system without an input port; a driven system's
    #: vector field is ``vector_field(t, y, u)`` with ``u`` of shape ``(m,)`` the input at t
    #: (``None``: zero input), see :meth:`input_matrix`
    input_size: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:  # never required: a user's class is named after itself
            cls.name = cls.__name__
        _DEFINED[class_path(cls)] = cls

    @property
    def state_size(self) -> int:
        return 2 * self.dof

    @abc.abstractmethod
    def vector_field(self, t, y: Array, args=None) -> Array:
        """dy/dt at state ``y`` of shape ``(2N,)``."""

    @abc.abstractmethod
    def energy(self, y: Array) -> Array:
        """Scalar energy of one state ``y`` of shape ``(2N,)``."""

    def input_matrix(self, y: Array) -> Array:
        """The input matrix G(y) of shape ``(2N, m)``: how the input enters,
        dy/dt = f(y) + G(y) u (``(2N, 0)`` for a system without an input port)."""
        return jnp.zeros((self.state_size, self.input_size), dtype=jnp.result_type(y))

    @abc.abstractmethod
    def parameters(self) -> dict[str, float]:
        """The system's parameters by name."""

    @property
    def unit_mass(self) -> bool:
        """Whether the mass matrix is the identity everywhere, so that p = q̇ (then data in
        canonical coordinates (q, p) also hold accelerations q̈ = dp/dt). Systems that override
        :meth:`mass_matrix` override this too."""
        return True

    def mass_matrix(self, q: Array) -> Array:
        """The mass matrix M(q) of shape ``(N, N)`` with p = M(q) q̇ (default: the identity)."""
        return jnp.eye(self.dof, dtype=jnp.result_type(q, jnp.float64))

    def to_canonical(self, q: Array, qdot: Array) -> Array:
        """The canonical state y = (q, p), p = M(q) q̇, of positions ``q`` and velocities
        ``qdot`` (each ``(N,)``); returns ``(2N,)``."""
        q, qdot = jnp.atleast_1d(q), jnp.atleast_1d(qdot)
        return jnp.concatenate([q, self.mass_matrix(q) @ qdot])

    def to_velocity(self, y: Array) -> Array:
        """The state (q, q̇), q̇ = M(q)⁻¹ p, of a canonical state ``y = (q, p)`` of shape
        ``(2N,)``; the inverse of :meth:`to_canonical`."""
        q, p = y[: self.dof], y[self.dof :]
        return jnp.concatenate([q, jnp.linalg.solve(self.mass_matrix(q), p)])

    def acceleration(self, q: Array, qdot: Array) -> Array:
        r"""q̈ at positions ``q`` and velocities ``qdot`` (each ``(N,)``; returns ``(N,)``).

        .. math::
            \ddot q = \frac{d}{dt} f_q(y) = \left[\partial_y f(y)\, f(y)\right]_q,
            \qquad y = (q, M(q)\dot q),

        the q-part of the vector field's Jacobian applied to the field itself (one
        Jacobian-vector product), exact for every time-independent system whatever its mass
        matrix; for unit mass it is dp/dt. Systems with a closed form override it.
        """
        y = self.to_canonical(q, qdot)
        f = lambda y_: self.vector_field(0.0, y_)  # noqa: E731
        _, df = jax.jvp(f, (y,), (f(y),))
        return df[: self.dof]

    def sample_initial_states(self, key: Array, n: int, y0_std: float = 1.0) -> Array:
        """``n`` random canonical initial states ``(n, 2N)`` (default: N(0, y0_std²) in every
        component; systems with a natural distribution, e.g. near-circular orbits, override
        it)."""
        return y0_std * jax.random.normal(key, (n, self.state_size), dtype=jnp.float64)

    def in_velocity_coordinates(self) -> AbstractSystem:
        """The same system on the state (q, q̇) instead of (q, p): vector field (q̇, q̈),
        energy of the corresponding canonical state (what data for Lagrangian models and
        their evaluation use)."""
        return VelocityCoordinates(self)

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
