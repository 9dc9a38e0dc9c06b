r"""The sparsity regulariser of KANs: L1 of edge magnitudes plus their entropy per layer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import number
from .._errors import ConfigError, DataError
from ..approximators import KAN


def _check_kan(kan, function: str) -> None:
    if not isinstance(kan, KAN):
        raise ConfigError(f"{function}: kan must be a physnet KAN, got {type(kan).__name__}")


def _check_batch(kan, xs, function: str) -> Array:
    xs = jnp.asarray(xs)
    if xs.ndim != 2 or xs.shape[1] != kan.in_features or xs.shape[0] < 1:
        raise DataError(
            f"{function}: xs must have shape (n, {kan.in_features}) with n >= 1, got {xs.shape}"
        )
    return xs


def edge_activations(kan, xs: Array) -> list[Array]:
    """Every edge function of every layer on a batch: ``[(n, in_l, out_l), ...]``.

    ``out_l`` counts the layer's sums (a multiplication node of arity a has a sums), i.e. the
    layer's ``out_features``. Pruned (masked) edges are exactly zero. Traceable (jit, grad).
    """
    inputs = jax.vmap(kan.layer_inputs)(xs)
    return [jax.vmap(layer.edges)(h) for layer, h in zip(kan.layers, inputs, strict=True)]


def _xlogx(p: Array) -> Array:
    """p·log p with 0·log 0 = 0 and a finite (zero) gradient at p = 0."""
    positive = p > 0
    return jnp.where(positive, p * jnp.log(jnp.where(positive, p, 1.0)), 0.0)


def kan_regularization(kan, xs: Array, *, l1: float = 1.0, entropy: float = 2.0) -> Array:
    r"""Sparsity penalty of a KAN on a batch (Liu et al. 2024, eq. 2.17-2.20; pykan's ``reg``).

    For layer l with edge functions φ_{io}, the magnitude of an edge is its mean absolute
    activation over the batch, the layer's L1 norm their sum, and the entropy that of the
    normalised magnitudes:

    .. math::
        |φ_{io}|_1 = \frac{1}{N}\sum_{s=1}^{N} |φ_{io}(x^{(s)}_i)|, \qquad
        |Φ_l|_1 = \sum_{i,o} |φ_{io}|_1, \qquad
        S(Φ_l) = -\sum_{i,o} \frac{|φ_{io}|_1}{|Φ_l|_1} \log \frac{|φ_{io}|_1}{|Φ_l|_1},

    .. math::
        R = \sum_l \big(μ_1 |Φ_l|_1 + μ_2 S(Φ_l)\big).

    The L1 term pulls edges to zero; the entropy term concentrates each layer's activity on
    few edges. Multiply by an overall weight λ and add to the data loss (pykan's
    ``lamb``; its tutorials use λ ~ 1e-3 to 1e-2). Natural logarithm, 0·log 0 = 0 (so masked,
    exactly-zero edges contribute nothing and have finite gradients); a layer whose edges are
    all zero contributes 0. For multiplication nodes the edges into each factor are counted
    like any other edge. pykan 0.2 measures edges by their standard deviation over input
    standard deviation instead; the paper's mean magnitude is used here, since it also pushes
    constant edges to zero, which pruning then removes exactly.

    Use it in training with :func:`physnet.training.fit_function`::

        fit_function(kan, x, y, steps=..., regularization=lambda f, b: 1e-3 * kan_regularization(f, b["x"]))

    Args:
        kan: a :class:`~physnet.KAN`.
        xs: samples of the network input, shape ``(n, in_features)``.
        l1: weight μ_1 of the L1 term (pykan's ``lamb_l1``, default 1).
        entropy: weight μ_2 of the entropy term (pykan's ``lamb_entropy``, default 2).

    Returns:
        The scalar R (jit- and grad-traceable; differentiate with respect to the KAN's
        parameters through :func:`nnx.grad` or a split/merge as in training).

    Raises:
        DataError: (a ValueError) if ``xs`` is badly shaped.
        ConfigError: (a ValueError) if a weight is negative or not finite.

    References: Liu et al. (2024), KAN: Kolmogorov-Arnold Networks, arXiv:2404.19756,
    section 2.5.1; pykan (github.com/KindXiaoming/pykan), ``MultKAN.reg``.
    """
    _check_kan(kan, "kan_regularization")
    for name, value in (("l1", l1), ("entropy", entropy)):
        number("kan_regularization", name, value, low=0)
    xs = _check_batch(kan, xs, "kan_regularization")
    total = jnp.zeros((), dtype=xs.dtype)
    for acts in edge_activations(kan, xs):
        magnitude = jnp.mean(jnp.abs(acts), axis=0)  # (in, out)
        norm = jnp.sum(magnitude)
        p = magnitude / jnp.where(norm > 0, norm, 1.0)
        total = total + l1 * norm - entropy * jnp.sum(_xlogx(p))
    return total
