"""Activation functions, including the learnable soft-exponential of Godfrey & Gashler (2016)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax import Array

from .._errors import ConfigError

ACTIVATIONS = {
    "tanh": jnp.tanh,
    "softplus": jax.nn.softplus,
    "silu": jax.nn.silu,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "sin": jnp.sin,
}
"""The activation functions by name (``MLP(activation=NAME)``, ``--activation NAME``)."""

NONSMOOTH_ACTIVATIONS = frozenset({"relu"})
"""Activations with a discontinuous derivative: fine for a NeuralODE, not for ∇H or ∂²L."""

SOFT_EXPONENTIAL = "soft_exponential"

_SMALL_ALPHA = 1e-6


def soft_exponential(alpha: Array, x: Array, *, alpha_max: float = 1.0, eps: float = 1e-6) -> Array:
    r"""The soft-exponential activation f(α, x) (Godfrey & Gashler, 2016).

    .. math::
        f(α, x) = \begin{cases} -\ln(1 - α(x + α))/α & α < 0 \\ x & α = 0 \\
        (e^{αx} - 1)/α + α & α > 0 \end{cases}

    It moves continuously from logarithmic through linear to exponential. For numerical
    safety α is clipped to ``[-alpha_max, alpha_max]``, the logarithm's argument is floored at
    ``eps`` (its domain is ``1 - α(x + α) > 0``), and for ``|α| < 1e-6`` the first-order
    expansion x + α(1 + x²/2) is used, which both branches share, so f and its gradients are
    finite and continuous at α = 0.

    Args:
        alpha: the shape parameter, broadcastable against ``x``.
        x: input.
    """
    alpha = jnp.clip(alpha, -alpha_max, alpha_max)
    small = jnp.abs(alpha) < _SMALL_ALPHA
    safe = jnp.where(small, _SMALL_ALPHA, alpha)  # keeps the unused branches finite
    pos = jnp.expm1(safe * x) / safe + safe
    neg = -jnp.log(jnp.maximum(1.0 - safe * (x + safe), eps)) / safe
    series = x + alpha * (1.0 + 0.5 * x**2)
    return jnp.where(small, series, jnp.where(alpha > 0, pos, neg))


class SoftExponential(nnx.Module):
    """Soft-exponential activation with one learnable α per neuron, initialised at 0.

    Args:
        features: number of neurons (the size of α).
        alpha_max: α is clipped to ``[-alpha_max, alpha_max]`` in the forward pass.
        param_dtype: dtype of α.
    """

    def __init__(self, features: int, *, alpha_max: float = 1.0, param_dtype=jnp.float64):
        if not alpha_max > 0:
            raise ConfigError(f"SoftExponential: alpha_max must be > 0, got {alpha_max!r}")
        self.alpha = nnx.Param(jnp.zeros((features,), dtype=param_dtype))
        self.alpha_max = float(alpha_max)

    def __call__(self, x: Array) -> Array:
        return soft_exponential(self.alpha[...], x, alpha_max=self.alpha_max)


def get_activation(name: str):
    """The fixed activation function called ``name``."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        choices = ", ".join([*ACTIVATIONS, SOFT_EXPONENTIAL])
        raise ConfigError(f"unknown activation {name!r}; choose one of {choices}") from None
