"""The unstructured neural ODE baseline."""

from __future__ import annotations

from typing import Any

from jax import Array

from .._errors import ConfigError
from ..approximators import AbstractApproximator
from ._base import AbstractVectorField, Part


class NeuralODE(AbstractVectorField):
    """dy/dt = f_NN(y): the approximator is the vector field (Chen et al., 2018).

    No structure is imposed, so energy drifts on long rollouts; the baseline for the
    structure-preserving models.

    Args:
        vector_field: approximator with ``in_features == out_features`` (the state size).
    """

    name = "node"
    scaling = "components"

    def __init__(self, vector_field: AbstractApproximator):
        if not isinstance(vector_field, AbstractApproximator):
            raise ConfigError(
                f"NeuralODE: vector_field must be an approximator, got {type(vector_field).__name__}"
            )
        if vector_field.in_features != vector_field.out_features:
            raise ConfigError(
                "NeuralODE: the approximator must map the state to its derivative "
                f"(in_features == out_features), got {vector_field.in_features} -> "
                f"{vector_field.out_features}"
            )
        self.vector_field = vector_field
        self.state_size = vector_field.in_features

    def __call__(self, t, y: Array, args=None) -> Array:
        return self.vector_field(y)

    def config(self) -> dict[str, Any]:
        return {}

    def submodules(self):
        return {"vector_field": self.vector_field}

    def parts(self) -> tuple[Part, ...]:
        return (Part("f", "vector_field", self.vector_field, "the vector-field network"),)

    @classmethod
    def build(cls, state_size: int, approximator) -> NeuralODE:
        """``NeuralODE(approximator(state_size, state_size))`` (see :func:`physnet.build_model`)."""
        return cls(approximator(state_size, state_size))
