"""The loss registry: :data:`LOSSES` by name, :func:`get_loss`, :class:`Regularized`, and the
JSON form of a loss (:func:`loss_to_json`, :func:`loss_from_json`) that run configs store.

:data:`LOSSES` is written out here, one line per loss: a loss module registers nothing when it
is imported, so the registry never depends on which modules happened to be imported. Adding a
loss is one module (a frozen dataclass subclassing :class:`AbstractLoss`) plus one line here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from jax import Array

from .._checks import known_options
from .._errors import ConfigError
from ._acceleration_loss import AccelerationLoss
from ._loss_base import AbstractLoss as AbstractLoss
from ._loss_base import DerivativeLoss
from ._loss_base import option as option
from ._loss_base import sample_times as sample_times
from ._trajectory_loss import TrajectoryLoss
from ._weak_loss import WeakFormLoss

LOSSES: dict[str, type[AbstractLoss]] = {
    DerivativeLoss.name: DerivativeLoss,
    TrajectoryLoss.name: TrajectoryLoss,
    WeakFormLoss.name: WeakFormLoss,
    AccelerationLoss.name: AccelerationLoss,
}
"""The losses ``physnet train --loss NAME`` and ``get_loss(NAME)`` know, by name."""


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


@dataclasses.dataclass(frozen=True)
class Regularized(AbstractLoss):
    r"""A loss plus a penalty: ``loss(model, batch) + penalty(model, batch)``.

    Works with any :class:`AbstractLoss`; :meth:`prepare` is the inner loss's, so the penalty
    sees the same (mini)batch as the loss. Use it with :func:`physnet.fit` (``loss=``) or as
    :func:`~physnet.training.fit_function`'s ``regularization=``. Two ``Regularized`` losses are
    equal when their losses are equal and their penalties are the same object.

    Args:
        loss: the data loss (an :class:`AbstractLoss` or a loss name).
        penalty: ``(model, batch) -> scalar``, already weighted; traceable by ``jax.jit``
            (e.g. ``lambda f, b: 1e-3 * kan_regularization(f, b["x"])``).

    Raises:
        ConfigError: if ``penalty`` is not callable.
    """

    loss: Any
    penalty: Callable[[Any, Any], Array]

    def __post_init__(self):
        if not callable(self.penalty):
            raise ConfigError(
                "Regularized: penalty must be a callable (model, batch) -> scalar, got "
                f"{self.penalty!r}"
            )
        object.__setattr__(self, "loss", get_loss(self.loss))

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.loss.name}+penalty"

    def prepare(self, data, *, clean: bool = False):
        return self.loss.prepare(data, clean=clean)

    def __call__(self, model, batch) -> Array:
        return self.loss(model, batch) + self.penalty(model, batch)


_JSON_SCALARS = (str, int, float, bool, type(None))


def loss_to_json(loss) -> dict:
    """The JSON form of a loss: ``{"name": NAME, OPTION: VALUE, ...}`` (its dataclass fields).

    Raises:
        ConfigError: for a loss not in :data:`LOSSES` or an option that is not a JSON scalar
            (a solver or adjoint object, a penalty function): pass names instead.
    """
    loss = get_loss(loss)
    name = getattr(loss, "name", None)
    if LOSSES.get(name) is not type(loss):
        raise ConfigError(
            f"the loss {loss!r} is not one of physnet's registered losses "
            f"({', '.join(LOSSES)}), so it cannot be stored in a run config"
        )
    out: dict = {"name": name}
    for f in dataclasses.fields(loss):
        value = getattr(loss, f.name)
        if not isinstance(value, _JSON_SCALARS):
            raise ConfigError(
                f"the {name} loss's option {f.name}={value!r} is an object, not a name or a "
                "number, so it cannot be stored in a run config; pass its name"
            )
        out[f.name] = value
    return out


def loss_from_json(spec) -> AbstractLoss:
    """The loss of :func:`loss_to_json`'s dict (a plain name is accepted too)."""
    if isinstance(spec, str):
        return get_loss(spec)
    if not isinstance(spec, dict) or spec.get("name") not in LOSSES:
        raise ConfigError(
            f"a stored loss must be a name or a dict with one of the names {', '.join(LOSSES)}, "
            f"got {spec!r}"
        )
    options = {k: v for k, v in spec.items() if k != "name"}
    cls = LOSSES[spec["name"]]
    known = sorted(f.name for f in dataclasses.fields(cls))
    known_options(f"the stored {spec['name']} loss", options, known)
    return cls(**options)
