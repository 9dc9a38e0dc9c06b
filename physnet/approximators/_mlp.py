"""Multilayer perceptron."""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
from flax import nnx
from jax import Array

from .._checks import choice, integer
from ._activations import SOFT_EXPONENTIAL, SoftExponential, get_activation
from ._base import AbstractApproximator

INITIALIZATIONS = ("lecun", "lnn")


class MLP(AbstractApproximator):
    """A fully connected network acting on one input vector.

    ``depth`` hidden layers of ``width`` neurons with ``activation``, then a linear output
    layer: ``MLP(2, 1, width=32, depth=2)`` is the source's 2-32-32-1 network.

    Args:
        in_features: input size.
        out_features: output size.
        width: neurons per hidden layer.
        depth: number of hidden layers (>= 1).
        activation: ``"tanh"`` (default), ``"softplus"``, ``"silu"``, ``"relu"``, ``"gelu"``,
            ``"sin"`` or ``"soft_exponential"`` (a learnable α per neuron, initialised at 0).
        init: ``"lecun"`` (default: LeCun-normal weights, zero biases) or ``"lnn"`` (the
            per-layer scales of Cranmer et al. 2020 that keep a Lagrangian and its Hessian
            O(1): weight std 2.2/√n for the first layer, 0.58·i/√n for hidden layer i and
            √n for the output layer, n the fan-in).
        param_dtype: parameter dtype (float64 by default).
        rngs: random number streams for initialisation (keyword-only, required).

    Shapes: ``(in_features,) -> (out_features,)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        width: int = 32,
        depth: int = 2,
        activation: str = "tanh",
        init: str = "lecun",
        param_dtype=jnp.float64,
        rngs: nnx.Rngs,
    ):
        for name, value in (
            ("in_features", in_features),
            ("out_features", out_features),
            ("width", width),
            ("depth", depth),
        ):
            integer("MLP", name, value, low=1)
        choice("MLP", "init", init, INITIALIZATIONS)
        if activation != SOFT_EXPONENTIAL:
            self._activation_fn = get_activation(activation)
        self.in_features = in_features
        self.out_features = out_features
        self.width = width
        self.depth = depth
        self.activation = activation
        self.init = init
        self.param_dtype = jnp.dtype(param_dtype).name
        sizes = [in_features] + [width] * depth + [out_features]
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(
                nnx.Linear(
                    n_in,
                    n_out,
                    kernel_init=self._kernel_init(i, n_in),
                    param_dtype=param_dtype,
                    dtype=param_dtype,
                    rngs=rngs,
                )
            )
        self.layers = nnx.List(layers)
        if activation == SOFT_EXPONENTIAL:
            self.activations = nnx.List(
                [SoftExponential(width, param_dtype=param_dtype) for _ in range(depth)]
            )

    def _kernel_init(self, layer: int, fan_in: int):
        if self.init == "lecun":
            return nnx.initializers.lecun_normal()
        if layer == 0:
            std = 2.2 / math.sqrt(fan_in)
        elif layer < self.depth:
            std = 0.58 * layer / math.sqrt(fan_in)
        else:
            std = math.sqrt(fan_in)
        return nnx.initializers.normal(std)

    def __call__(self, x: Array) -> Array:
        if x.shape != (self.in_features,):
            raise ValueError(
                f"MLP expects one input of shape ({self.in_features},), got {x.shape}; "
                "use jax.vmap for batches"
            )
        for i, layer in enumerate(self.layers[:-1]):
            x = layer(x)
            if self.activation == SOFT_EXPONENTIAL:
                x = self.activations[i](x)
            else:
                x = self._activation_fn(x)
        return self.layers[-1](x)

    def activation_names(self) -> tuple[str, ...]:
        return (self.activation,)

    def config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "width": self.width,
            "depth": self.depth,
            "activation": self.activation,
            "init": self.init,
            "param_dtype": self.param_dtype,
        }
