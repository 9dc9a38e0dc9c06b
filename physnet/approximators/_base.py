"""The abstract approximator."""

from __future__ import annotations

import abc
from typing import Any

from flax import nnx
from jax import Array


class AbstractApproximator(nnx.Module, abc.ABC):
    """A learnable map from ONE input vector to ONE output vector.

    Shapes: ``__call__(x)`` takes ``x`` of shape ``(in_features,)`` and returns shape
    ``(out_features,)``. Batching is ``jax.vmap``. Implementations keep their parameters in
    float64 unless told otherwise, and record their constructor arguments in :meth:`config`
    so checkpoints can rebuild them without pickle.
    """

    in_features: int
    out_features: int
    #: name of the parameter dtype (subclasses set it from their ``param_dtype`` argument)
    param_dtype: str = "float64"

    def activation_names(self) -> tuple[str, ...]:
        """Names of the activation functions the approximator applies (``()`` if none), so
        models can refuse non-smooth ones where derivatives define the dynamics."""
        return ()

    @abc.abstractmethod
    def __call__(self, x: Array) -> Array: ...

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments (without ``rngs``)."""
