"""Dissipative Hamiltonian neural network."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ..approximators import AbstractApproximator
from ._base import AbstractEnergyModel
from ._hnn import check_scalar_energy
from ._mechanics import symplectic_gradient

#: the accepted string values of ``DissipativeHNN(dissipation=...)``
DISSIPATION_FORMS = ("friction", "none")


def _inverse_softplus(x: float) -> float:
    """raw with softplus(raw) = x, for x > 0."""
    return x + math.log(-math.expm1(-x))


class DissipativeHNN(AbstractEnergyModel):
    r"""Hamiltonian neural network with learned dissipation that can only remove energy.

    The vector field is du/dt = (J + D(u)) ∇H_NN(u), J = [[0, I], [-I, 0]], with a negative
    semi-definite D by construction, so

    .. math::
        \frac{dH_{NN}}{dt} = \nabla H^\top J \nabla H + \nabla H^\top D \nabla H
        = \nabla H^\top D \nabla H \le 0

    for every parameter value: dissipation comes from the parameterisation, never from a
    penalty. Two forms (SPEC.md section 1):

    - **small-friction form** (``dissipation="friction"``, the default; eq. 11):
      D = [[0, 0], [0, -γ I]], i.e. dq/dt = ∂H/∂p, dp/dt = -∂H/∂q - γ ∂H/∂p, with one learned
      damping γ = softplus(raw) >= 0, readable as :attr:`gamma`. For the Duffing oscillator
      (H = p²/2 + V(q)) this is exactly q̈ = -V'(q) - γ q̇, so γ is the physical damping.
    - **general form** (``dissipation=`` an approximator; eqs. 8-10): D(u) = -A(u)ᵀA(u) with
      A(u) the approximator's output reshaped row-major to ``(k, 2N)``; then
      dH/dt = -|A(u)∇H|² <= 0.

    ``dissipation="none"`` switches dissipation off (the model is an :class:`HNN`, dH/dt = 0).

    Args:
        hamiltonian: approximator ``(2N,) -> (1,)`` with a smooth activation.
        dissipation: ``"friction"``, ``"none"``, or an approximator ``(2N,) -> (k·2N,)``
            (k >= 1 rows of A) for the general form.
        gamma_init: initial damping γ > 0 of the friction form (ignored otherwise). The default
            0.01 starts nearly conservative, so the early fit of H is not distorted by a large
            spurious damping (a start at γ = 0.5 ran away to γ ≈ 1 on the Duffing data).
            While γ is small, softplus(raw) ≈ e^raw and Adam moves raw by about its learning
            rate η per step, so γ changes by at most a factor e every 1/η steps: start near
            the expected magnitude if it is known and far from 0.01.

    Raises:
        ConfigError: if an approximator has the wrong sizes or a non-smooth activation, if
            ``dissipation`` is not one of the accepted values, or if ``gamma_init`` is not a
            finite number > 0.

    Reference: Yaguchi (2025), eqs. 8-11; Sosanya & Greydanus, "Dissipative Hamiltonian Neural
    Networks", 2022 (which leaves the sign of the dissipation free, unlike this model).
    """

    name = "dhnn"

    def __init__(
        self,
        hamiltonian: AbstractApproximator,
        dissipation: AbstractApproximator | str = "friction",
        *,
        gamma_init: float = 0.01,
    ):
        check_scalar_energy("DissipativeHNN", "hamiltonian", hamiltonian)
        self.hamiltonian = hamiltonian
        self.state_size = hamiltonian.in_features
        d = self.state_size
        if isinstance(dissipation, AbstractApproximator):
            if dissipation.in_features != d or dissipation.out_features % d:
                raise ConfigError(
                    "DissipativeHNN: the dissipation approximator must map the state to the "
                    f"k·{d} entries of A (in_features={d}, out_features a multiple of {d}), "
                    f"got {dissipation.in_features} -> {dissipation.out_features}"
                )
            self.form = "general"
            self.dissipation = dissipation
        elif isinstance(dissipation, str) and dissipation in DISSIPATION_FORMS:
            self.form = dissipation
            self.dissipation = None
        else:
            raise ConfigError(
                "DissipativeHNN: dissipation must be an approximator (general form) or one of "
                f"{', '.join(map(repr, DISSIPATION_FORMS))}, got {dissipation!r}"
            )
        if not (isinstance(gamma_init, int | float) and math.isfinite(gamma_init)):
            raise ConfigError(
                f"DissipativeHNN: gamma_init must be a finite number, got {gamma_init!r}"
            )
        if not gamma_init > 0:
            raise ConfigError(
                f"DissipativeHNN: gamma_init must be > 0 (γ = softplus(raw)), got {gamma_init!r}"
            )
        self.gamma_init = float(gamma_init)
        if self.form == "friction":
            dtype = getattr(hamiltonian, "param_dtype", "float64")
            self.raw_gamma = nnx.Param(jnp.asarray(_inverse_softplus(self.gamma_init), dtype=dtype))

    @property
    def gamma(self) -> Array:
        """The learned damping γ = softplus(raw) >= 0 (a scalar array); 0 when
        ``dissipation="none"``.

        Raises:
            ConfigError: for the general form, whose dissipation -AᵀA depends on the state
                (use :meth:`dissipation_matrix`).
        """
        if self.form == "friction":
            return jax.nn.softplus(self.raw_gamma[...])
        if self.form == "none":
            return jnp.zeros((), dtype=jnp.float64)
        raise ConfigError(
            "DissipativeHNN: gamma is defined for the friction form only; the general form's "
            "dissipation depends on the state, see dissipation_matrix(y)"
        )

    def energy(self, y: Array) -> Array:
        return self.hamiltonian(y)[0]

    def dissipation_matrix(self, y: Array) -> Array:
        """The negative semi-definite matrix D(y), shape ``(2N, 2N)``, of du/dt = (J + D)∇H."""
        d, n = self.state_size, self.state_size // 2
        if self.form == "general":
            a = self._a_matrix(y)
            return -a.T @ a
        if self.form == "friction":
            damping = jnp.concatenate([jnp.zeros((n,)), jnp.full((n,), self.gamma)])
            return -jnp.diag(damping)
        return jnp.zeros((d, d), dtype=y.dtype)

    def _a_matrix(self, y: Array) -> Array:
        return jnp.reshape(self.dissipation(y), (-1, self.state_size))

    def conservative_field(self, y: Array) -> Array:
        """The Hamiltonian part J∇H(y), shape ``(2N,)`` (conserves H exactly)."""
        return symplectic_gradient(self.energy, y)

    def dissipative_field(self, y: Array) -> Array:
        """The dissipative part D(y)∇H(y), shape ``(2N,)`` (never increases H)."""
        return self._dissipate(y, jax.grad(self.energy)(y))

    def _dissipate(self, y: Array, grad_h: Array) -> Array:
        if self.form == "general":
            a = self._a_matrix(y)
            return -a.T @ (a @ grad_h)
        n = self.state_size // 2
        if self.form == "friction":
            return jnp.concatenate([jnp.zeros_like(grad_h[:n]), -self.gamma * grad_h[n:]])
        return jnp.zeros_like(grad_h)

    def __call__(self, t, y: Array, args=None) -> Array:
        grad_h = jax.grad(self.energy)(y)
        n = self.state_size // 2
        conservative = jnp.concatenate([grad_h[n:], -grad_h[:n]])
        return conservative + self._dissipate(y, grad_h)

    def config(self) -> dict[str, Any]:
        if self.form == "general":
            return {}
        return {"dissipation": self.form, "gamma_init": self.gamma_init}

    def submodules(self):
        if self.form == "general":
            return {"hamiltonian": self.hamiltonian, "dissipation": self.dissipation}
        return {"hamiltonian": self.hamiltonian}

    @classmethod
    def build(
        cls,
        state_size: int,
        approximator,
        *,
        dissipation: str = "friction",
        dissipation_rank: int | None = None,
        gamma_init: float = 0.01,
    ) -> DissipativeHNN:
        """A dissipative HNN from options (see :func:`physnet.build_model`): H is
        ``approximator(state_size, 1)``; ``dissipation`` is ``"friction"`` (learned γ),
        ``"none"``, or ``"general"``, where A is a second ``approximator(state_size,
        dissipation_rank * state_size)`` with ``dissipation_rank`` rows (default the state
        size)."""
        hamiltonian = approximator(state_size, 1)
        if dissipation == "general":
            rank = state_size if dissipation_rank is None else dissipation_rank
            if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
                raise ConfigError(f"dissipation_rank must be a positive integer, got {rank!r}")
            return cls(hamiltonian, approximator(state_size, rank * state_size), gamma_init=gamma_init)
        if dissipation_rank is not None:
            raise ConfigError(
                f"dissipation_rank applies to dissipation='general' only, not {dissipation!r}"
            )
        return cls(hamiltonian, dissipation, gamma_init=gamma_init)
