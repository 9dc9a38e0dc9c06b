"""Structured models of natural mechanical systems: a learned mass matrix M(q), positive
definite by construction, and a learned potential V(q), in Lagrangian (DeLaN) and Hamiltonian
form."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ..approximators import NONSMOOTH_ACTIVATIONS, AbstractApproximator
from ._base import AbstractComponent, AbstractEnergyModel, Part
from ._mechanics import symplectic_gradient


def cholesky_mass_matrix(entries: Array, n: int, epsilon: float) -> Array:
    r"""M = L Lᵀ + εI from the n(n+1)/2 ``entries`` of a lower-triangular L.

    The first n entries give the diagonal through softplus (so L_ii > 0), the rest fill the
    strict lower triangle row by row. M is symmetric positive definite for every value of the
    entries, with smallest eigenvalue >= ε (Lutter, Ritter & Peters 2019, "Deep Lagrangian
    Networks").

    Args:
        entries: shape ``(n(n+1)/2,)``.
        n: the number of degrees of freedom.
        epsilon: ε >= 0.

    Returns:
        M, shape ``(n, n)``.
    """
    rows, cols = jnp.tril_indices(n, -1)
    lower = jnp.zeros((n, n), entries.dtype).at[rows, cols].set(entries[n:])
    lower = lower + jnp.diag(jax.nn.softplus(entries[:n]))
    return lower @ lower.T + epsilon * jnp.eye(n, dtype=entries.dtype)


def _check_part(owner: str, name: str, approx, in_features: int, out_features: int) -> None:
    if not isinstance(approx, AbstractApproximator):
        raise ConfigError(f"{owner}: {name} must be an approximator, got {type(approx).__name__}")
    if (approx.in_features, approx.out_features) != (in_features, out_features):
        raise ConfigError(
            f"{owner}: {name} must map ({in_features},) -> ({out_features},), got "
            f"({approx.in_features},) -> ({approx.out_features},)"
        )
    nonsmooth = [a for a in approx.activation_names() if a in NONSMOOTH_ACTIVATIONS]
    if nonsmooth:
        raise ConfigError(
            f"{owner}: {name} uses the non-smooth activation {nonsmooth[0]!r}; its derivatives "
            "define the dynamics, so use a smooth one (tanh, softplus, silu)"
        )


class NaturalSystem(AbstractComponent):
    r"""A learned mass matrix M(q) = L(q)L(q)ᵀ + εI and potential V(q) of N coordinates.

    The shared part of :class:`DeLaN` and :class:`StructuredHNN`: kinetic energy
    T = ½ q̇ᵀ M(q) q̇ = ½ pᵀ M(q)⁻¹ p, M positive definite by construction
    (:func:`cholesky_mass_matrix`) whatever the parameters.

    Args:
        mass: approximator ``(N,) -> (N(N+1)/2,)``, the Cholesky factor's entries.
        potential: approximator ``(N,) -> (1,)``, V.
        epsilon: ε > 0, the smallest eigenvalue M can take (default 1e-3).

    Raises:
        ConfigError: for approximators of the wrong shapes, non-smooth activations, or ε <= 0.
    """

    def __init__(
        self,
        mass: AbstractApproximator,
        potential: AbstractApproximator,
        *,
        epsilon: float = 1e-3,
        periodic: bool = False,
    ):
        inputs = getattr(potential, "in_features", 0)
        if periodic and inputs % 2:
            raise ConfigError(
                f"NaturalSystem: with periodic=True the approximators take (cos q, sin q), an "
                f"even input size, got in_features={inputs}"
            )
        n = inputs // 2 if periodic else inputs
        _check_part("NaturalSystem", "potential", potential, inputs, 1)
        _check_part("NaturalSystem", "mass", mass, inputs, n * (n + 1) // 2)
        self.mass = mass
        self.potential = potential
        self.dof = n
        self.periodic = bool(periodic)
        self.epsilon = number("NaturalSystem", "epsilon", epsilon, positive=True)

    def _features(self, q: Array) -> Array:
        return jnp.concatenate([jnp.cos(q), jnp.sin(q)]) if self.periodic else q

    def mass_matrix(self, q: Array) -> Array:
        """M(q), shape ``(N, N)``, symmetric positive definite."""
        return cholesky_mass_matrix(self.mass(self._features(q)), self.dof, self.epsilon)

    def potential_energy(self, q: Array) -> Array:
        """V(q), a scalar."""
        return self.potential(self._features(q))[0]

    def config(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "periodic": self.periodic}

    def submodules(self) -> dict[str, nnx.Module]:
        return {"mass": self.mass, "potential": self.potential}

    def parts(self) -> tuple[Part, ...]:
        """V, then the Cholesky factor's entries, as functions of q (``"configuration"``) or,
        with ``periodic``, of (cos q, sin q) (``"angles"``)."""
        inputs = "angles" if self.periodic else "configuration"
        return (
            Part("V", "potential", self.potential, "the potential network V(q)", inputs),
            Part("Lm", "mass_factor", self.mass, "the mass network (M's Cholesky factor)", inputs),
        )


def _build_parts(state_size: int, approximator, periodic: bool):
    n = state_size // 2
    inputs = 2 * n if periodic else n
    return approximator(inputs, n * (n + 1) // 2), approximator(inputs, 1)


class _NaturalModel(AbstractEnergyModel):
    """What :class:`DeLaN` and :class:`StructuredHNN` share: a :class:`NaturalSystem` (learned
    M(q) and V(q)) on states whose first half is q; each form adds its energy and field."""

    def __init__(
        self,
        mass: AbstractApproximator,
        potential: AbstractApproximator,
        *,
        epsilon: float = 1e-3,
        periodic: bool = False,
    ):
        self.natural = NaturalSystem(mass, potential, epsilon=epsilon, periodic=periodic)
        self.epsilon = self.natural.epsilon
        self.periodic = self.natural.periodic
        self.state_size = 2 * self.natural.dof

    def mass_matrix(self, y: Array) -> Array:
        """M(q) at one state ``y`` (q its first half), shape ``(N, N)``."""
        return self.natural.mass_matrix(y[: self.natural.dof])

    def config(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "periodic": self.periodic}

    def submodules(self):
        return {"mass": self.natural.mass, "potential": self.natural.potential}

    def parts(self) -> tuple[Part, ...]:
        return self.natural.parts()

    @classmethod
    def build(cls, state_size: int, approximator, *, epsilon: float = 1e-3, periodic: bool = False):
        """The model of ``approximator(K, N(N+1)/2)`` (M's Cholesky factor) and
        ``approximator(K, 1)`` (V) with N = state_size / 2 and K = 2N if ``periodic`` else N
        (see :func:`physnet.build_model`)."""
        mass, potential = _build_parts(state_size, approximator, periodic)
        return cls(mass, potential, epsilon=epsilon, periodic=periodic)


class DeLaN(_NaturalModel):
    r"""Deep Lagrangian network (Lutter, Ritter & Peters 2019) on the state y = (q, q̇).

    L = ½ q̇ᵀ M(q) q̇ - V(q) with M = LLᵀ + εI (:class:`NaturalSystem`); the Euler-Lagrange
    equations solved for the acceleration,

    .. math::
        \ddot q = M^{-1}\left(-\nabla V - \dot M \dot q
        + \tfrac12 \nabla_q (\dot q^\top M \dot q)\right), \qquad
        \dot M = \textstyle\sum_k \partial_{q_k} M\, \dot q_k,

    with a Cholesky solve (M is positive definite, so never singular, unlike the LNN's
    ∂²L/∂q̇²). The energy E = ½ q̇ᵀMq̇ + V is conserved by the exact flow.

    Args:
        mass: approximator ``(N,) -> (N(N+1)/2,)`` for M's Cholesky factor.
        potential: approximator ``(N,) -> (1,)`` for V.
        epsilon: ε > 0 (default 1e-3).
        periodic: the coordinates are angles (M and V see (cos q, sin q); default False).
    """

    name = "delan"
    scaling = "configuration"

    @classmethod
    def unsuitable(cls, state_size: int, velocity_coordinates: bool | None) -> str | None:
        """DeLaN's state is (q, q̇): an even state size whose second half is dq/dt."""
        if state_size % 2:
            return f"DeLaN needs states (q, q̇), an even state size, not {state_size}"
        if velocity_coordinates is False:
            return "DeLaN needs states (q, q̇), and the second half of these states is not dq/dt"
        return None

    def lagrangian_at(self, q: Array, qdot: Array) -> Array:
        """L(q, q̇) = ½ q̇ᵀ M(q) q̇ - V(q)."""
        return 0.5 * qdot @ self.natural.mass_matrix(q) @ qdot - self.natural.potential_energy(q)

    def acceleration(self, q: Array, qdot: Array) -> Array:
        """q̈ of shape ``(N,)`` from the Euler-Lagrange equations."""
        nat = self.natural
        mass, mass_dot = jax.jvp(nat.mass_matrix, (q,), (qdot,))
        kinetic_grad = jax.grad(lambda q_: 0.5 * qdot @ nat.mass_matrix(q_) @ qdot)(q)
        rhs = -jax.grad(nat.potential_energy)(q) - mass_dot @ qdot + kinetic_grad
        return jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(mass, lower=True), rhs)

    def energy(self, y: Array) -> Array:
        """E = ½ q̇ᵀ M(q) q̇ + V(q) of one state ``y = (q, q̇)``."""
        n = self.natural.dof
        q, qdot = y[:n], y[n:]
        return 0.5 * qdot @ self.natural.mass_matrix(q) @ qdot + self.natural.potential_energy(q)

    def __call__(self, t, y: Array, args=None) -> Array:
        n = self.natural.dof
        return jnp.concatenate([y[n:], self.acceleration(y[:n], y[n:])])


class StructuredHNN(_NaturalModel):
    r"""A Hamiltonian network of a natural system on the canonical state y = (q, p).

    H = ½ pᵀ M(q)⁻¹ p + V(q) and Hamilton's equations ẏ = J∇H by autodiff, so H is conserved
    exactly by the learned field. The Hamiltonian twin of :class:`DeLaN` (Finzi et al. 2020
    use this form, with a constant M, inside their constrained CHNN).

    With ``inverse_mass=True`` (the default) the Cholesky form LLᵀ + εI of
    :class:`NaturalSystem` is the inverse mass matrix M⁻¹(q) itself: the kinetic energy needs
    no solve, and q̇ = M⁻¹p stays as large as the network makes it (ε bounds M above by
    1/ε). With ``inverse_mass=False`` it is M, and M⁻¹p a Cholesky solve: a learned M
    approaching ε·I makes q̇ up to 1/ε times larger, which diverged training at learning
    rate 3e-3 on the chain pendulum (FINZI-CHAINS) where the inverse form trains.

    Args:
        mass: approximator ``(N,) -> (N(N+1)/2,)`` for the Cholesky factor of M⁻¹ (or of M).
        potential: approximator ``(N,) -> (1,)`` for V.
        epsilon: ε > 0 (default 1e-3).
        periodic: the coordinates are angles (M and V see (cos q, sin q); default False).
        inverse_mass: learn M⁻¹ (default True) or M.
    """

    name = "structured-hnn"
    scaling = "canonical"
    config_added = {"inverse_mass": False}  # checkpoints written before the option learned M

    def __init__(
        self,
        mass: AbstractApproximator,
        potential: AbstractApproximator,
        *,
        epsilon: float = 1e-3,
        periodic: bool = False,
        inverse_mass: bool = True,
    ):
        super().__init__(mass, potential, epsilon=epsilon, periodic=periodic)
        if not isinstance(inverse_mass, bool | np.bool_):
            raise ConfigError(
                f"StructuredHNN: inverse_mass must be True or False, got {inverse_mass!r}"
            )
        self.inverse_mass = bool(inverse_mass)

    def mass_matrix(self, y: Array) -> Array:
        """M(q) at one state ``y`` (q its first half), shape ``(N, N)`` (the inverse of the
        learned matrix when ``inverse_mass``)."""
        learned = self.natural.mass_matrix(y[: self.natural.dof])
        return jnp.linalg.inv(learned) if self.inverse_mass else learned

    def config(self) -> dict[str, Any]:
        return super().config() | {"inverse_mass": self.inverse_mass}

    @classmethod
    def build(
        cls,
        state_size: int,
        approximator,
        *,
        epsilon: float = 1e-3,
        periodic: bool = False,
        inverse_mass: bool = True,
    ):
        """The model of ``approximator(K, N(N+1)/2)`` (the Cholesky factor of M⁻¹, or of M
        with ``inverse_mass=False``) and ``approximator(K, 1)`` (V) with N = state_size / 2 and
        K = 2N if ``periodic`` else N (see :func:`physnet.build_model`)."""
        mass, potential = _build_parts(state_size, approximator, periodic)
        return cls(mass, potential, epsilon=epsilon, periodic=periodic, inverse_mass=inverse_mass)

    def energy(self, y: Array) -> Array:
        """H = ½ pᵀ M(q)⁻¹ p + V(q) of one state ``y = (q, p)``."""
        n = self.natural.dof
        q, p = y[:n], y[n:]
        learned = self.natural.mass_matrix(q)
        if self.inverse_mass:
            kinetic = 0.5 * p @ learned @ p
        else:
            kinetic = (
                0.5
                * p
                @ jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(learned, lower=True), p)
            )
        return kinetic + self.natural.potential_energy(q)

    def __call__(self, t, y: Array, args=None) -> Array:
        return symplectic_gradient(self.energy, y)
