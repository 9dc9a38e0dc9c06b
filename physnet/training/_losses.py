"""Training losses.

A loss is a small object with two parts: :meth:`prepare` turns :class:`Trajectories` into a
pytree of sample arrays (all with the sample index on axis 0, so minibatches are a gather),
and ``__call__(model, batch)`` returns the scalar loss of a model on such a batch.
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp
from jax import Array

from .._errors import ConfigError
from ..data import Trajectories


class AbstractLoss(abc.ABC):
    """A training objective on prepared sample arrays."""

    name: str

    @abc.abstractmethod
    def prepare(self, data: Trajectories, *, clean: bool = False):
        """Sample arrays for this loss, each with the sample index on axis 0."""

    @abc.abstractmethod
    def __call__(self, model, batch) -> Array:
        """Scalar loss of ``model`` on ``batch``."""


class DerivativeLoss(AbstractLoss):
    r"""Derivative matching (SPEC.md eq. 3/6): mean over samples and components of
    (f_θ(t, y) - dy/dt)², each sample at its recorded time t (autonomous models ignore it)."""

    name = "derivative"

    def prepare(self, data: Trajectories, *, clean: bool = False):
        y, dy = data.flat(clean=clean)
        return {"t": data.flat_times(), "y": y, "dy": dy}

    def __call__(self, model, batch) -> Array:
        pred = jax.vmap(lambda t, y: model(t, y))(sample_times(batch), batch["y"])
        return jnp.mean((pred - batch["dy"]) ** 2)


class Regularized(AbstractLoss):
    r"""A loss plus a penalty: ``loss(model, batch) + penalty(model, batch)``.

    Works with any :class:`AbstractLoss`; :meth:`prepare` is the inner loss's, so the penalty
    sees the same (mini)batch as the loss. Use it with :func:`physnet.fit` (``loss=``) or as
    :func:`~physnet.training.fit_function`'s ``regularization=``.

    Args:
        loss: the data loss (an :class:`AbstractLoss` or a loss name).
        penalty: ``(model, batch) -> scalar``, already weighted; traceable by ``jax.jit``
            (e.g. ``lambda f, b: 1e-3 * kan_regularization(f, b["x"])``).

    Raises:
        ConfigError: if ``penalty`` is not callable.
    """

    def __init__(self, loss, penalty):
        if not callable(penalty):
            raise ConfigError(
                f"Regularized: penalty must be a callable (model, batch) -> scalar, got {penalty!r}"
            )
        self.loss = get_loss(loss)
        self.penalty = penalty
        self.name = f"{self.loss.name}+penalty"

    def prepare(self, data, *, clean: bool = False):
        return self.loss.prepare(data, clean=clean)

    def __call__(self, model, batch) -> Array:
        return self.loss(model, batch) + self.penalty(model, batch)


def sample_times(batch) -> Array:
    """The per-sample times ``batch["t"]`` ``(S,)`` of a prepared batch, zeros where a batch
    built by hand carries none (autonomous models ignore the time)."""
    if "t" in batch:
        return batch["t"]
    return jnp.zeros(batch["y"].shape[:1], dtype=batch["y"].dtype)


LOSSES: dict[str, type[AbstractLoss]] = {"derivative": DerivativeLoss}


def get_loss(name_or_loss) -> AbstractLoss:
    """A loss object from its name (``"derivative"``, ...) or the object itself."""
    if isinstance(name_or_loss, AbstractLoss):
        return name_or_loss
    try:
        return LOSSES[name_or_loss]()
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown loss {name_or_loss!r}; choose one of {', '.join(LOSSES)}"
        ) from None
