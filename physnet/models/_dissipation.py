r"""Dissipation components of :class:`~physnet.DissipativeHNN`: negative semi-definite D(u).

A component computes the dissipative term D(u)∇H of du/dt = (J + D(u))∇H. Every component
keeps D negative semi-definite for every parameter value, so ∇Hᵀ D ∇H <= 0 and the energy can
only decrease:

- :class:`Friction` — D = [[0, 0], [0, -γ I]] with one learned γ = softplus(raw) >= 0;
- :class:`LearnedDissipation` — D(u) = -A(u)ᵀA(u) with A(u) from an approximator;
- :class:`NoDissipation` — D = 0 (a plain HNN).

A new form is one subclass of :class:`AbstractDissipation`: its ``__call__``
and :meth:`~AbstractDissipation.matrix` plus the ``config``/``submodules`` pair checkpoints need;
a form with one scalar damping states it as :attr:`~AbstractDissipation.damping` (then
``gamma_hat`` is read out), one with learned functions lists them in ``parts``.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ..approximators import AbstractApproximator
from ._base import AbstractComponent, Part


def _inverse_softplus(x: float) -> float:
    """raw with softplus(raw) = x, for x > 0."""
    return x + math.log(-math.expm1(-x))


def check_gamma_init(gamma_init, owner: str = "Friction") -> float:
    """``gamma_init`` as a float, or :class:`ConfigError` unless it is a finite number > 0."""
    number(owner, "gamma_init", gamma_init)
    if not gamma_init > 0:
        raise ConfigError(
            f"{owner}: gamma_init must be > 0 (γ = softplus(raw)), got {gamma_init!r}"
        )
    return float(gamma_init)


class AbstractDissipation(AbstractComponent):
    """A negative semi-definite dissipation D(u) acting on ∇H (one state, no batch axis)."""

    #: the label :attr:`DissipativeHNN.form` reports (kept for code written against the
    #: string modes ``"friction"``, ``"general"``, ``"none"``)
    form: ClassVar[str] = "custom"

    @abc.abstractmethod
    def __call__(self, y: Array, grad_h: Array) -> Array:
        """D(y)·∇H, shape ``(2N,)``, from the state ``y`` and ``grad_h`` = ∇H(y), both ``(2N,)``."""

    @abc.abstractmethod
    def matrix(self, y: Array) -> Array:
        """The matrix D(y), shape ``(2N, 2N)``, negative semi-definite."""

    @property
    def damping(self) -> Array | None:
        """The one scalar damping γ >= 0 of D = [[0, 0], [0, -γ I]] (a scalar array), or
        ``None`` when D is not of that form (the default)."""
        return None

    def readout(self) -> dict[str, float]:
        """``{"gamma_hat": γ}`` when the form has a scalar :attr:`damping`, else ``{}``."""
        gamma = self.damping
        return {} if gamma is None else {"gamma_hat": float(gamma)}

    def readout_in(self, scales: np.ndarray) -> dict[str, float]:
        """γ in the data's units. With q_i = a_i q̃_i and p_i = b_i p̃_i (canonical scaling,
        H̃ = H / (a_i b_i)), ṗ_i = ... - γ̃ ∂H̃/∂p̃_i is ṗ_i = ... - γ̃ (b_i / a_i) ∂H/∂p_i: the
        damping is γ̃ b_i / a_i, one ``gamma_hat`` when equal for every i, else ``gamma_hat_i``
        per momentum (a scalar damping in scaled variables is not one in the file's)."""
        gamma = self.damping
        if gamma is None:
            return {}
        n = scales.size // 2
        g = float(gamma) * scales[n:] / scales[:n]
        if np.allclose(g, g[0], rtol=1e-12, atol=0.0):
            return {"gamma_hat": float(g[0])}
        return {f"gamma_hat_{i + 1}": float(v) for i, v in enumerate(g)}

    def check_state_size(self, state_size: int) -> None:
        """Raise :class:`ConfigError` if the component cannot act on states of this size."""


class NoDissipation(AbstractDissipation):
    """D = 0: the :class:`~physnet.DissipativeHNN` is an HNN and conserves H exactly."""

    form: ClassVar[str] = "none"

    def __call__(self, y: Array, grad_h: Array) -> Array:
        return jnp.zeros_like(grad_h)

    def matrix(self, y: Array) -> Array:
        d = y.shape[-1]
        return jnp.zeros((d, d), dtype=y.dtype)

    @property
    def damping(self) -> Array:
        """γ = 0."""
        return jnp.zeros((), dtype=jnp.float64)

    def config(self) -> dict[str, Any]:
        return {}


class Friction(AbstractDissipation):
    r"""Small friction on the momenta: D = [[0, 0], [0, -γ I]], γ = softplus(raw) >= 0.

    dq/dt = ∂H/∂p, dp/dt = -∂H/∂q - γ ∂H/∂p, so dH/dt = -γ |∂H/∂p|² <= 0. For
    H = p²/2 + V(q) this is q̈ = -V'(q) - γ q̇, so γ is the physical damping (SPEC eq. 11).

    Args:
        gamma_init: initial γ > 0. The default 0.01 starts nearly conservative (see
            :class:`~physnet.DissipativeHNN`).
        param_dtype: dtype of the raw parameter (float64 by default).

    Raises:
        ConfigError: if ``gamma_init`` is not a finite number > 0.
    """

    form: ClassVar[str] = "friction"

    def __init__(self, gamma_init: float = 0.01, *, param_dtype=jnp.float64):
        self.gamma_init = check_gamma_init(gamma_init)
        self.param_dtype = jnp.dtype(param_dtype).name
        self.raw_gamma = nnx.Param(
            jnp.asarray(_inverse_softplus(self.gamma_init), dtype=self.param_dtype)
        )

    @property
    def gamma(self) -> Array:
        """The damping γ = softplus(raw) >= 0 (a scalar array)."""
        return jax.nn.softplus(self.raw_gamma[...])

    @property
    def damping(self) -> Array:
        """γ (see :attr:`gamma`)."""
        return self.gamma

    def __call__(self, y: Array, grad_h: Array) -> Array:
        n = grad_h.shape[-1] // 2
        return jnp.concatenate([jnp.zeros_like(grad_h[:n]), -self.gamma * grad_h[n:]])

    def matrix(self, y: Array) -> Array:
        n = y.shape[-1] // 2
        damping = jnp.concatenate([jnp.zeros((n,)), jnp.full((n,), self.gamma)])
        return -jnp.diag(damping)

    def config(self) -> dict[str, Any]:
        return {"gamma_init": self.gamma_init, "param_dtype": self.param_dtype}


class LearnedDissipation(AbstractDissipation):
    r"""General state-dependent dissipation D(u) = -A(u)ᵀA(u) (SPEC eqs. 8-10).

    A(u) is the approximator's output reshaped row-major to ``(k, 2N)``, so
    dH/dt = -|A(u)∇H|² <= 0 whatever the parameters.

    Args:
        approximator: ``(2N,) -> (k·2N,)``, k >= 1 rows of A.

    Raises:
        ConfigError: if ``approximator`` is not an approximator, or (when placed in a model)
            its sizes do not fit the state.
    """

    form: ClassVar[str] = "general"

    def __init__(self, approximator: AbstractApproximator):
        if not isinstance(approximator, AbstractApproximator):
            raise ConfigError(
                "LearnedDissipation: approximator must be an approximator, got "
                f"{type(approximator).__name__}"
            )
        self.approximator = approximator

    def check_state_size(self, state_size: int) -> None:
        a = self.approximator
        if a.in_features != state_size or a.out_features % state_size:
            raise ConfigError(
                "DissipativeHNN: the dissipation approximator must map the state to the "
                f"k·{state_size} entries of A (in_features={state_size}, out_features a "
                f"multiple of {state_size}), got {a.in_features} -> {a.out_features}"
            )

    def a_matrix(self, y: Array) -> Array:
        """A(y), shape ``(k, 2N)``."""
        return jnp.reshape(self.approximator(y), (-1, y.shape[-1]))

    def __call__(self, y: Array, grad_h: Array) -> Array:
        a = self.a_matrix(y)
        return -a.T @ (a @ grad_h)

    def matrix(self, y: Array) -> Array:
        a = self.a_matrix(y)
        return -a.T @ a

    def config(self) -> dict[str, Any]:
        return {}

    def submodules(self) -> dict[str, nnx.Module]:
        return {"approximator": self.approximator}

    def parts(self) -> tuple[Part, ...]:
        return (Part("A", "dissipation", self.approximator, "the dissipation network A"),)
