"""Acceleration matching, the loss of Lagrangian models (SPEC.md eq. 18)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array

from .._errors import ConfigError, DataError
from ..data import Trajectories
from ._loss_base import AbstractLoss, sample_times
from ._loss_base import option as _option


@dataclasses.dataclass(frozen=True)
class AccelerationLoss(AbstractLoss):
    r"""Acceleration matching: mean squared error of the solved accelerations.

    Acceleration matching (SPEC.md eq. 18): mean over samples and components of
    (q̈_θ(q, q̇) - q̈)².

    The model is any vector field on the state y = (q, q̇) (or on (q, p) with p = q̇): its
    predicted acceleration is the second half of ``model(t, y)``, so for an :class:`LNN` it is
    the Euler-Lagrange solve. The targets are :attr:`Trajectories.accelerations`; no momenta
    are needed. For an LNN the first half of its vector field is q̇ itself, so the derivative
    loss equals (acceleration loss + a constant)/2 and trains the same way; this loss is the
    one that needs only (q, q̇, q̈) and reports the acceleration error on its own scale.

    With ``norm="l1"`` the loss is the mean absolute error, the LNN paper's double-pendulum
    loss.

    Args:
        norm: ``"l2"`` (mean squared error, default) or ``"l1"`` (mean absolute error).

    Raises:
        ConfigError: for another ``norm``.

    Reference: Cranmer et al., "Lagrangian Neural Networks", 2020.
    """

    name: ClassVar[str] = "acceleration"
    norm: str = _option(
        "l2", "l2: mean squared error; l1: mean absolute error", choices=("l2", "l1")
    )

    def __post_init__(self):
        if self.norm not in ("l2", "l1"):
            raise ConfigError(f"AccelerationLoss: norm must be 'l2' or 'l1', got {self.norm!r}")

    def prepare(self, data: Trajectories, *, clean: bool = False):
        if data.state_size % 2:
            raise DataError(
                f"the acceleration loss needs states (q, q̇) of even size, got "
                f"state_size={data.state_size}"
            )
        y, dy = data.flat(clean=clean)
        return {"t": data.flat_times(), "y": y, "qddot": dy[:, data.state_size // 2 :]}

    def __call__(self, model, batch) -> Array:
        n = batch["y"].shape[-1] // 2
        pred = jax.vmap(lambda t, y: model(t, y)[n:])(sample_times(batch), batch["y"])
        err = pred - batch["qddot"]
        return jnp.mean(jnp.abs(err)) if self.norm == "l1" else jnp.mean(err**2)
