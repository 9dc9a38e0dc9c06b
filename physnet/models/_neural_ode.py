"""The unstructured neural ODE baseline."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jax import Array

from .._checks import integer
from .._errors import ConfigError
from ..approximators import AbstractApproximator
from ._base import AbstractVectorField, Part


class NeuralODE(AbstractVectorField):
    """dy/dt = f_NN(y), or f_NN(y, u) with an input port (Chen et al., 2018).

    No structure is imposed, so energy drifts on long rollouts; the baseline for the
    structure-preserving models. With ``input_size = m > 0`` the approximator reads the state
    and the input concatenated, ``(d + m,) -> (d,)``, and the model is called as
    ``model(t, y, u)`` with ``u`` of shape ``(m,)`` (``None``: zero input).

    Args:
        vector_field: approximator ``(d + m,) -> (d,)``.
        input_size: number of input channels m >= 0 (default 0: autonomous).
    """

    name = "node"
    scaling = "components"

    def __init__(self, vector_field: AbstractApproximator, input_size: int = 0):
        input_size = integer("NeuralODE", "input_size", input_size, low=0)
        if not isinstance(vector_field, AbstractApproximator):
            raise ConfigError(
                f"NeuralODE: vector_field must be an approximator, got {type(vector_field).__name__}"
            )
        if vector_field.in_features != vector_field.out_features + input_size:
            raise ConfigError(
                "NeuralODE: the approximator must map the state (and the input) to the state's "
                f"derivative (in_features == out_features + input_size = "
                f"{vector_field.out_features + input_size}), got {vector_field.in_features} -> "
                f"{vector_field.out_features}"
            )
        self.vector_field = vector_field
        self.state_size = vector_field.out_features
        self.input_size = input_size

    def __call__(self, t, y: Array, args=None) -> Array:
        if not self.input_size:
            return self.vector_field(y)
        u = jnp.zeros((self.input_size,), y.dtype) if args is None else jnp.reshape(args, (-1,))
        return self.vector_field(jnp.concatenate([y, u]))

    def config(self) -> dict[str, Any]:
        return {"input_size": self.input_size} if self.input_size else {}

    def submodules(self):
        return {"vector_field": self.vector_field}

    def parts(self) -> tuple[Part, ...]:
        return (Part("f", "vector_field", self.vector_field, "the vector-field network"),)

    @classmethod
    def build(cls, state_size: int, approximator, *, input_size: int = 0) -> NeuralODE:
        """``NeuralODE(approximator(state_size + input_size, state_size), input_size)`` (see
        :func:`physnet.build_model`)."""
        return cls(approximator(state_size + input_size, state_size), input_size)
