"""Acceleration matching, the loss of Lagrangian models (SPEC.md eq. 18)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from .._errors import DataError
from ..data import Trajectories
from ._losses import LOSSES, AbstractLoss


class AccelerationLoss(AbstractLoss):
    r"""Acceleration matching (SPEC.md eq. 18): mean over samples and components of
    (q̈_θ(q, q̇) - q̈)².

    The model is any vector field on the state y = (q, q̇) (or on (q, p) with p = q̇): its
    predicted acceleration is the second half of ``model(t, y)``, so for an :class:`LNN` it is
    the Euler-Lagrange solve. The targets are :attr:`Trajectories.accelerations`; no momenta
    are needed. For an LNN the first half of its vector field is q̇ itself, so the derivative
    loss equals (acceleration loss + a constant)/2 and trains the same way; this loss is the
    one that needs only (q, q̇, q̈) and reports the acceleration error on its own scale.

    Reference: Cranmer et al., "Lagrangian Neural Networks", 2020.
    """

    name = "acceleration"

    def prepare(self, data: Trajectories, *, clean: bool = False):
        if data.state_size % 2:
            raise DataError(
                f"the acceleration loss needs states (q, q̇) of even size, got "
                f"state_size={data.state_size}"
            )
        y, dy = data.flat(clean=clean)
        return {"y": y, "qddot": dy[:, data.state_size // 2 :]}

    def __call__(self, model, batch) -> Array:
        n = batch["y"].shape[-1] // 2
        pred = jax.vmap(lambda y: model(0.0, y)[n:])(batch["y"])
        return jnp.mean((pred - batch["qddot"]) ** 2)


LOSSES[AccelerationLoss.name] = AccelerationLoss
