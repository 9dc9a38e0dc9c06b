"""Constrained Hamiltonian and Lagrangian networks in Cartesian coordinates with explicit
holonomic constraints (Finzi, Wang & Wilson 2020)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ..approximators import NONSMOOTH_ACTIVATIONS, AbstractApproximator
from ..systems import ChainConstraints, project_onto_manifold
from ..systems import constrained_acceleration as _constrained_acceleration
from ..systems import constrained_hamiltonian_field as _constrained_field
from ._base import AbstractEnergyModel, Part


class _Constrained(AbstractEnergyModel):
    """What the constrained models share: V(x), learned body masses, the constraints."""

    scaling = "none"

    def __init__(self, potential: AbstractApproximator, constraints, *, dim: int = 2):
        owner = type(self).__name__
        if isinstance(constraints, dict):  # from a checkpoint's config
            constraints = ChainConstraints(**constraints)
        if not isinstance(constraints, ChainConstraints):
            raise ConfigError(
                f"{owner}: constraints must be ChainConstraints(n, length), got {constraints!r}"
            )
        if not isinstance(potential, AbstractApproximator) or potential.out_features != 1:
            raise ConfigError(f"{owner}: potential must be an approximator (D,) -> (1,)")
        if potential.in_features != dim * constraints.n:
            raise ConfigError(
                f"{owner}: potential must take the {constraints.n} bodies' positions, "
                f"in_features={dim * constraints.n}, got {potential.in_features}"
            )
        if any(a in NONSMOOTH_ACTIVATIONS for a in potential.activation_names()):
            raise ConfigError(f"{owner}: potential needs a smooth activation (tanh, softplus)")
        self.potential = potential
        self.constraints = constraints
        self.dim = int(dim)
        self.positions_size = dim * constraints.n
        self.state_size = 2 * self.positions_size
        self.log_mass = nnx.Param(jnp.zeros(constraints.n, dtype=jnp.float64))

    @classmethod
    def build(cls, state_size: int, approximator, *, length: float = 1.0):
        """The model of a planar chain of ``state_size / 4`` bodies hung from the origin on
        rods of ``length`` (:class:`~physnet.systems.ChainConstraints`), its potential
        ``approximator(state_size / 2, 1)`` (see :func:`physnet.build_model`; ``physnet train
        --model chnn|clnn --length L``)."""
        reason = cls.unsuitable(state_size, None)
        if reason:
            raise ConfigError(reason)
        n = state_size // 4
        return cls(approximator(2 * n, 1), ChainConstraints(n, length))

    @classmethod
    def unsuitable(cls, state_size: int, velocity_coordinates: bool | None) -> str | None:
        """A planar chain's Cartesian state: positions and momenta (or velocities) of n bodies,
        4n components."""
        if state_size % 4:
            return (
                f"{cls.__name__} takes the Cartesian state of a planar chain (x_k, y_k of n "
                f"bodies, then their momenta or velocities: 4n components), not {state_size}"
            )
        return None

    def unsuitable_states(self, states) -> str | None:
        """Whether the observed positions lie on the rods: each link's length within 10 % of
        the model's rod length (noisy positions pass; another rod length or angle
        coordinates do not)."""
        c = self.constraints
        x = np.asarray(states)[:, : self.positions_size].reshape(-1, c.n, 2)
        d = np.linalg.norm(np.diff(x, axis=1, prepend=0.0), axis=-1)
        off = np.median(np.max(np.abs(d - c.length), axis=1)) / c.length
        if not np.isfinite(off) or off <= 0.1:
            return None
        return (
            f"{type(self).__name__}'s rods have length {c.length:g}, but the observed links "
            f"are {np.median(d):.4g} long (median; each state's worst link off by "
            f"{100 * off:.3g} % in the median); the states must be Cartesian positions "
            "(x_1, y_1, ..., x_n, y_n) of a chain hung from the origin, then momenta or "
            f"velocities: pass the rod length (build(..., length=L), physnet train --length L)"
        )

    def masses(self) -> Array:
        """The learned mass of each body, shape ``(n,)`` (exp of a parameter: positive)."""
        return jnp.exp(self.log_mass[...])

    def _coordinate_masses(self) -> Array:
        return jnp.repeat(self.masses(), self.dim)

    def potential_energy(self, x: Array) -> Array:
        """V(x) of the positions ``(D,)``."""
        return self.potential(x)[0]

    def constraint_values(self, y: Array) -> Array:
        """φ(x) at one state (zero on the constraint manifold), shape ``(C,)``."""
        return self.constraints(y[: self.positions_size])

    def config(self) -> dict[str, Any]:
        c = self.constraints
        return {"constraints": {"n": c.n, "length": c.length}, "dim": self.dim}

    def submodules(self):
        return {"potential": self.potential}

    def parts(self) -> tuple[Part, ...]:
        """V(x), a function of the positions (the masses are constants: :meth:`readout`)."""
        return (
            Part("V", "potential", self.potential, "the potential network V(x)", "configuration"),
        )

    def readout(self) -> dict[str, float]:
        """``mass_k``: the learned mass of body k (from 1)."""
        return {f"mass_{k + 1}": float(m) for k, m in enumerate(np.asarray(self.masses()))}


class ConstrainedHNN(_Constrained):
    r"""Constrained Hamiltonian neural network (CHNN, Finzi, Wang & Wilson 2020).

    On the Cartesian state z = (x, P) of ``n`` bodies in ``dim`` dimensions (positions, then
    momenta; shape ``(2·n·dim,)``), H = ½ Pᵀ M⁻¹ P + V(x) with learned constant body masses
    M = diag(m) (positive by an exponential) and a learned potential V; the rods enter as
    known constraints φ(x) = 0 and the flow is Hamilton's equations projected onto the
    constraint manifold (:func:`~physnet.systems.constrained_hamiltonian_field`), so H and the
    constraints are conserved by the learned flow. :meth:`project` puts a state back on the
    manifold (numerical rollouts drift off it at integrator accuracy:
    :func:`~physnet.systems.constraint_drift`).

    Args:
        potential: approximator ``(n·dim,) -> (1,)`` for V(x), with a smooth activation.
        constraints: :class:`~physnet.systems.ChainConstraints` (or its fields as a dict).
        dim: the bodies' space dimension (default 2).
    """

    name = "chnn"

    def energy(self, y: Array) -> Array:
        """H(x, P) = ½ Pᵀ M⁻¹ P + V(x)."""
        d = self.positions_size
        p = y[d:]
        return 0.5 * jnp.sum(p**2 / self._coordinate_masses()) + self.potential_energy(y[:d])

    def __call__(self, t, y: Array, args=None) -> Array:
        return _constrained_field(self.energy, self.constraints, y)

    def project(self, y: Array) -> Array:
        """``y`` moved onto the constraint manifold (positions, then Dφ M⁻¹ P = 0)."""
        metric = jnp.diag(1.0 / self._coordinate_masses())
        return project_onto_manifold(self.constraints, y, metric=metric)


class ConstrainedLNN(_Constrained):
    r"""Constrained Lagrangian neural network (CLNN, Finzi, Wang & Wilson 2020).

    On the Cartesian state (x, ẋ) (positions, then velocities), L = ½ ẋᵀ M ẋ - V(x) with
    learned constant body masses and potential, and the accelerations from the constrained
    Euler-Lagrange equations with multipliers for φ(x) = 0
    (:func:`~physnet.systems.constrained_acceleration`). The energy ½ẋᵀMẋ + V is conserved
    by the exact flow.

    Args:
        potential: approximator ``(n·dim,) -> (1,)`` for V(x), with a smooth activation.
        constraints: :class:`~physnet.systems.ChainConstraints` (or its fields as a dict).
        dim: the bodies' space dimension (default 2).
    """

    name = "clnn"

    @classmethod
    def unsuitable(cls, state_size: int, velocity_coordinates: bool | None) -> str | None:
        """The CLNN's state is (x, ẋ): positions, then velocities."""
        reason = super().unsuitable(state_size, velocity_coordinates)
        if reason is None and velocity_coordinates is False:
            return (
                "ConstrainedLNN's state is (x, ẋ), and the second half of these states is not "
                "dx/dt (momenta P = m ẋ?); train chnn on (x, P)"
            )
        return reason

    def lagrangian_at(self, x: Array, v: Array) -> Array:
        """L(x, ẋ) = ½ ẋᵀ M ẋ - V(x)."""
        return 0.5 * jnp.sum(self._coordinate_masses() * v**2) - self.potential_energy(x)

    def energy(self, y: Array) -> Array:
        """E = ½ ẋᵀ M ẋ + V(x)."""
        d = self.positions_size
        v = y[d:]
        return 0.5 * jnp.sum(self._coordinate_masses() * v**2) + self.potential_energy(y[:d])

    def __call__(self, t, y: Array, args=None) -> Array:
        d = self.positions_size
        x, v = y[:d], y[d:]
        return jnp.concatenate(
            [v, _constrained_acceleration(self.lagrangian_at, self.constraints, x, v)]
        )

    def project(self, y: Array) -> Array:
        """``y`` moved onto the constraint manifold (positions, then Dφ ẋ = 0)."""
        return project_onto_manifold(self.constraints, y)
