"""Neural symplectic form: Hamiltonian dynamics in coordinates that are not canonical."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ..approximators import NONSMOOTH_ACTIVATIONS, AbstractApproximator
from ._base import AbstractEnergyModel, Part, check_condition, check_scalar_energy, matrices_at


def symplectic_form(one_form, y: Array) -> Array:
    r"""The 2-form W = dθ of a 1-form θ at one state, as the skew matrix W = ∂θ/∂uᵀ - ∂θ/∂u.

    .. math:: W_{ij}(u) = \frac{\partial \theta_j}{\partial u_i}
        - \frac{\partial \theta_i}{\partial u_j},

    skew-symmetric and closed (dW = ddθ = 0) by construction. For the canonical 1-form
    θ = p dq (θ = (p, 0) on u = (q, p)) W is -J, so W⁻¹∇H = J∇H are Hamilton's equations.

    Args:
        one_form: ``θ(u)``, a function ``(n,) -> (n,)``.
        y: the state u, shape ``(n,)``.

    Returns:
        W(u), shape ``(n, n)``.
    """
    jac = jax.jacfwd(one_form)(y)
    return jac.T - jac


def solve_skew(w: Array, rhs: Array) -> Array:
    """W⁻¹ rhs by an LU solve with partial pivoting; NaN in every component where W is
    singular to working precision (its smallest pivot at most ``n·eps`` times its largest),
    never a pseudo-inverse."""
    lu, piv = jax.scipy.linalg.lu_factor(w)
    out = jax.scipy.linalg.lu_solve((lu, piv), rhs)
    pivots = jnp.abs(jnp.diagonal(lu))
    tolerance = w.shape[-1] * jnp.finfo(lu.dtype).eps * jnp.max(pivots)
    return jnp.where(jnp.min(pivots) <= tolerance, jnp.nan, out)


class NeuralSymplecticForm(AbstractEnergyModel):
    r"""Neural symplectic form (Chen, Matsubara & Yaguchi, 2021).

    A learned 1-form θ(u) and a learned energy H(u) on ANY coordinates u (angles and angular
    velocities, not only canonical (q, p)) define the symplectic 2-form
    W(u) = ∂θ/∂uᵀ - ∂θ/∂u (:func:`symplectic_form`; skew and closed by construction), and

    .. math:: W(u)\, \dot u = \nabla H(u), \qquad \dot u = W(u)^{-1} \nabla H(u),

    solved per state by LU. Then dH/dt = ∇Hᵀ W⁻¹ ∇H = 0 exactly (W⁻¹ is skew) for every
    parameter value, and the flow is symplectic for the learned form. In canonical coordinates
    with θ = p dq this is the :class:`HNN`; in (q, q̇) the true form is dθ with
    θ = M(q)q̇ · dq, which an HNN (fixed W = -J) cannot represent but this model can.

    **Singular form.** W must be invertible (the state size must be even; a 2-form on an odd
    space is always singular). Where W is singular to working precision the field is NaN
    (no pseudo-inverse), so training stops with :class:`~physnet.TrainingDivergedError` and
    rollouts show NaN; outside ``jit``, :meth:`check_form` raises :class:`ConfigError` naming
    the state, as :meth:`LNN.check_mass_matrix` does.

    **Canonical reference term.** ``canonical=c > 0`` learns θ = c·(p, 0) + θ_NN(u) (with u
    split as (q, p) halves): no loss of generality (θ_NN can cancel it), but with a
    small-output approximator at initialisation W starts near -c·J, invertible everywhere;
    without it a random θ_NN usually starts with W singular on a curve through the data
    (the analogue of the LNN's kinetic term). It is a prior the paper does not have; the
    paper's form is ``canonical=0``.

    **Lagrangian chart.** ``lagrangian=True`` restricts the learned 1-form to
    θ = a(q, q̇)·dq (no dq̇ components; the approximator then maps ``(n,) -> (n/2,)``), with the
    reference term a = c·q̇ + a_NN. Every Lagrangian system written in (q, q̇) has this form,
    θ = ∂L/∂q̇·dq (the Poincaré-Cartan form), so no such system is lost, while forms that no
    mechanical system in velocity coordinates has are excluded; W is then invertible exactly
    where ∂a/∂q̇ is, the analogue of the LNN's mass matrix. A prior the paper does not have (its
    θ has all n components); for canonical (q, p) data it also holds (θ = p·dq).

    Args:
        one_form: approximator ``(n,) -> (n,)`` for θ_NN (``(n,) -> (n/2,)`` with
            ``lagrangian=True``), with a smooth activation.
        hamiltonian: approximator ``(n,) -> (1,)`` for H, with a smooth activation.
        canonical: coefficient c >= 0 of the canonical reference 1-form (default 0).
        lagrangian: learn only the dq components of θ (default False, the paper's form).

    Raises:
        ConfigError: for sizes that do not fit, an odd state size, a non-smooth activation,
            or a negative/non-finite ``canonical``.

    Reference: Chen, Matsubara, Yaguchi, "Neural Symplectic Form: Learning Hamiltonian
    Equations on General Coordinate Systems", NeurIPS 2021.
    """

    name = "nsf"
    scaling = "components"

    def __init__(
        self,
        one_form: AbstractApproximator,
        hamiltonian: AbstractApproximator,
        *,
        canonical: float = 0.0,
        lagrangian: bool = False,
    ):
        check_scalar_energy("NeuralSymplecticForm", "hamiltonian", hamiltonian)
        if not isinstance(one_form, AbstractApproximator):
            raise ConfigError(
                "NeuralSymplecticForm: one_form must be an approximator, got "
                f"{type(one_form).__name__}"
            )
        n = hamiltonian.in_features
        if not isinstance(lagrangian, bool):
            raise ConfigError(
                f"NeuralSymplecticForm: lagrangian must be True or False, got {lagrangian!r}"
            )
        if lagrangian and n % 2:
            raise ConfigError(
                f"NeuralSymplecticForm: lagrangian=True needs an even state size (q, q̇), got {n}"
            )
        width = n // 2 if lagrangian else n
        if one_form.in_features != n or one_form.out_features != width:
            what = "the dq components of a 1-form" if lagrangian else "a 1-form"
            raise ConfigError(
                f"NeuralSymplecticForm: one_form must map the state to {what} ({n} -> {width}), "
                f"got {one_form.in_features} -> {one_form.out_features}"
            )
        nonsmooth = [a for a in one_form.activation_names() if a in NONSMOOTH_ACTIVATIONS]
        if nonsmooth:
            raise ConfigError(
                f"NeuralSymplecticForm: one_form uses the non-smooth activation "
                f"{nonsmooth[0]!r}; W is its derivative, so use a smooth one (tanh, softplus)"
            )
        number("NeuralSymplecticForm", "canonical", canonical, low=0)
        self.one_form = one_form
        self.hamiltonian = hamiltonian
        self.state_size = n
        self.canonical = float(canonical)
        self.lagrangian = lagrangian

    def theta(self, y: Array) -> Array:
        """The 1-form θ(y) = canonical·(p, 0) + θ_NN(y), shape ``(n,)``."""
        value = self.one_form(y)
        n = self.state_size // 2
        if self.lagrangian:
            return jnp.concatenate([value + self.canonical * y[n:], jnp.zeros_like(y[:n])])
        if self.canonical:
            value = value + self.canonical * jnp.concatenate([y[n:], jnp.zeros_like(y[:n])])
        return value

    def form(self, y: Array) -> Array:
        """The skew matrix W(y) = ∂θ/∂yᵀ - ∂θ/∂y, shape ``(n, n)``."""
        return symplectic_form(self.theta, y)

    def energy(self, y: Array) -> Array:
        return self.hamiltonian(y)[0]

    def __call__(self, t, y: Array, args=None) -> Array:
        return solve_skew(self.form(y), jax.grad(self.energy)(y))

    def check_form(self, ys: Array, *, max_condition: float = 1e8) -> np.ndarray:
        """Check that W is safely invertible at the states ``ys`` (outside ``jit``).

        The check fails where W is non-finite, where its condition number (largest over
        smallest singular value) exceeds ``max_condition``, or where the sign of its Pfaffian
        (det W = Pf(W)², so the sign of Pf is what continuity keeps) differs between states: by
        continuity W is then singular somewhere in between. For n = 2, Pf(W) = W₁₂.

        Args:
            ys: states ``(n,)`` or ``(S, n)``.
            max_condition: largest accepted condition number.

        Returns:
            The condition numbers per state, shape ``(S,)``.

        Raises:
            ConfigError: naming the failing state and its condition number.
        """
        what = "NeuralSymplecticForm: the 2-form W"
        ys, forms = matrices_at(
            "NeuralSymplecticForm.check_form", what, self.form, ys, self.state_size
        )
        sv = np.linalg.svd(forms, compute_uv=False)
        condition = check_condition(
            what,
            ys,
            sv[:, 0],
            sv[:, -1],
            max_condition,
            "start from canonical=1.0 or lower the learning rate",
        )
        if self.state_size == 2:
            sign = np.sign(forms[:, 0, 1])
            if np.any(sign != sign[0]):
                i = int(np.flatnonzero(sign != sign[0])[0])
                raise ConfigError(
                    f"NeuralSymplecticForm: W₁₂ changes sign between state 0 and state {i} "
                    f"({ys[i].tolist()}), so W is singular somewhere in between"
                )
        return condition

    def config(self) -> dict[str, Any]:
        return {"canonical": self.canonical, "lagrangian": self.lagrangian}

    def submodules(self):
        return {"one_form": self.one_form, "hamiltonian": self.hamiltonian}

    def parts(self) -> tuple[Part, ...]:
        """H (in the model's own coordinates, scaled with its form) first, then θ_NN."""
        return (
            Part("H", "hamiltonian", self.hamiltonian, "the H network"),
            Part("theta", "one_form", self.one_form, "the 1-form network"),
        )

    @classmethod
    def build(
        cls,
        state_size: int,
        approximator,
        *,
        canonical: float = 0.0,
        lagrangian: bool = False,
    ) -> NeuralSymplecticForm:
        """``NeuralSymplecticForm(approximator(n, n or n/2), approximator(n, 1), canonical=...,
        lagrangian=...)`` (see :func:`physnet.build_model`)."""
        width = state_size // 2 if lagrangian else state_size
        return cls(
            approximator(state_size, width),
            approximator(state_size, 1),
            canonical=canonical,
            lagrangian=lagrangian,
        )
