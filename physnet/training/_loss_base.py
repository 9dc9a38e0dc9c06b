"""The loss protocol and the derivative loss.

A loss is a frozen dataclass with two parts: :meth:`AbstractLoss.prepare` turns
:class:`Trajectories` into a pytree of sample arrays (all with the sample index on axis 0, so
minibatches are a gather), and ``__call__(model, batch)`` returns the scalar loss of a model on
such a batch. Being a frozen dataclass makes a loss a *value*: two losses built with the same
options are equal and hash alike, so the compiled training chunk (a ``jax.jit`` with the loss
as a static argument) is reused across calls, and its fields are the options a run config
stores (:func:`physnet.training.loss_to_json`).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array

from ..data import Trajectories


@dataclasses.dataclass(frozen=True)
class AbstractLoss(abc.ABC):
    """A training objective on prepared sample arrays.

    Subclasses are frozen dataclasses whose fields are their options (validated in
    ``__post_init__``) and set the class attribute :attr:`name` (the registry name of
    :data:`physnet.training.LOSSES`). A loss of your own may be any object with ``prepare`` and
    ``__call__``; it is then compared by identity (JAX's rule for static arguments), so a loop
    that builds it afresh for every call compiles the training chunk each time.
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def prepare(self, data: Trajectories, *, clean: bool = False):
        """Sample arrays for this loss, each with the sample index on axis 0."""

    @abc.abstractmethod
    def __call__(self, model, batch) -> Array:
        """Scalar loss of ``model`` on ``batch``."""


@dataclasses.dataclass(frozen=True)
class DerivativeLoss(AbstractLoss):
    r"""Derivative matching: mean squared error of the vector field.

    Derivative matching (SPEC.md eq. 3/6): mean over samples and components of
    (f_θ(t, y) - dy/dt)², each sample at its recorded time t (autonomous models ignore it)
    and, for data with inputs, the recorded input u: (f_θ(t, y, u) - dy/dt)²."""

    name: ClassVar[str] = "derivative"

    def prepare(self, data: Trajectories, *, clean: bool = False):
        y, dy = data.flat(clean=clean)
        batch = {"t": data.flat_times(), "y": y, "dy": dy}
        if data.inputs is not None:
            batch["u"] = data.flat_inputs()
        return batch

    def __call__(self, model, batch) -> Array:
        if "u" in batch:
            pred = jax.vmap(model)(sample_times(batch), batch["y"], batch["u"])
        else:
            pred = jax.vmap(lambda t, y: model(t, y))(sample_times(batch), batch["y"])
        return jnp.mean((pred - batch["dy"]) ** 2)


def option(default, help: str, *, choices=None, kind=None):
    """Declare a loss option: a dataclass field that becomes a ``physnet train`` flag.

    A loss option: a dataclass field with its command-line help, choices and (for a
    ``None`` default) value type in its metadata; ``physnet train`` makes its flags from
    these (``--window``, ``--solver``, ...)."""
    kind = kind if kind is not None else type(default)
    metadata = {"help": help, "choices": choices, "type": kind}
    return dataclasses.field(default=default, metadata=metadata)


def sample_times(batch) -> Array:
    """The per-sample times of a prepared batch.

    The per-sample times ``batch["t"]`` ``(S,)`` of a prepared batch, zeros where a batch
    built by hand carries none (autonomous models ignore the time)."""
    if "t" in batch:
        return batch["t"]
    return jnp.zeros(batch["y"].shape[:1], dtype=batch["y"].dtype)
