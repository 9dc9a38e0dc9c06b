"""Training configuration as values: :class:`FitConfig` (what to train: the result depends on
it) and :class:`Runtime` (how to run it: progress, devices, checkpoints).

Both are frozen dataclasses. ``FitConfig`` round-trips through JSON (:meth:`FitConfig.to_json`,
:meth:`FitConfig.from_json`) when its loss and optimizer are physnet's own (registered by name);
a run directory's ``config.json`` stores it. Its loss and resolved optimizer are the static
arguments of the compiled training chunk (:func:`physnet.training.run_chunk`), so equal configs
share one compiled program.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import optax

from .._checks import integer, number, optional
from .._errors import ConfigError
from ._losses import get_loss, loss_from_json, loss_to_json
from ._optimizers import Adam, OptimizerSpec, optimizer_from_json, optimizer_to_json
from ._recipes import recipe_spec

#: parameters whose global L2 norm exceeds this count as diverged (fit's default)
DEFAULT_MAX_PARAM_NORM = 1e6


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """What :func:`physnet.fit` trains with; every field but ``steps`` has a default.

    Attributes:
        steps: number of optimizer steps (>= 0).
        loss: a loss object or a name of :data:`~physnet.training.LOSSES` (stored as the
            object; default ``"derivative"``).
        optimizer: an :class:`~physnet.training.OptimizerSpec` (e.g. ``Adam(1e-3)``), a recipe
            name of :data:`~physnet.training.RECIPES` (``"fast"``, ``"source"``; stored as
            its spec), or any optax optimizer (compared by identity; not storable as JSON).
            Default: ``Adam(1e-3)``, the source's.
        batch_size: minibatch size (sampled without replacement each step), or None for full
            batch; minibatches need an explicit key.
        chunk_size: optimizer steps per compiled call (hooks run between calls).
        max_param_norm: a step whose new parameters have a global L2 norm above this counts
            as a divergence (None: no bound).
        hooks: callables ``hook(step, model, history) -> bool | None`` (see
            :class:`~physnet.training.Hook`); code, not configuration, so not in JSON.

    Raises:
        ConfigError: on an invalid field, naming it and its value.
    """

    steps: int
    loss: Any = "derivative"
    optimizer: Any = None
    batch_size: int | None = None
    chunk_size: int = 100
    max_param_norm: float | None = DEFAULT_MAX_PARAM_NORM
    hooks: tuple = ()

    def __post_init__(self):
        _set = object.__setattr__
        _set(self, "steps", integer("FitConfig", "steps", self.steps, low=0))
        integer("FitConfig", "chunk_size", self.chunk_size, low=1)
        optional(integer, "FitConfig", "batch_size", self.batch_size, low=1)
        norm = self.max_param_norm
        optional(number, "FitConfig", "max_param_norm", norm, positive=True, finite=False)
        _set(self, "loss", get_loss(self.loss))
        _set(self, "optimizer", _optimizer(self.optimizer))
        hooks = tuple(self.hooks or ())
        for hook in hooks:
            if not callable(hook):
                raise ConfigError(
                    "every hook must be callable as hook(step, model, history) (a "
                    f"physnet.training.Hook or a function), got {hook!r}"
                )
        _set(self, "hooks", hooks)

    def resolved_optimizer(self):
        """The optimizer with its step-dependent options filled (a spec) or as given (optax)."""
        if isinstance(self.optimizer, OptimizerSpec):
            return self.optimizer.resolve(self.steps)
        return self.optimizer

    def replace(self, **changes) -> FitConfig:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        """The config as JSON-ready data.

        Raises:
            ConfigError: for hooks, an unregistered loss or an optax optimizer object (they
                have no JSON form).
        """
        if self.hooks:
            raise ConfigError(
                "a FitConfig with hooks cannot be stored as JSON (hooks are code); store the "
                "options that build them instead"
            )
        return {
            "steps": self.steps,
            "loss": loss_to_json(self.loss),
            "optimizer": optimizer_to_json(self.optimizer),
            "batch_size": self.batch_size,
            "chunk_size": self.chunk_size,
            "max_param_norm": self.max_param_norm,
        }

    @classmethod
    def from_json(cls, data: dict) -> FitConfig:
        """The config of :meth:`to_json`'s data.

        Raises:
            ConfigError: on unknown fields or invalid values.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"a stored fit config must be a JSON object, got {data!r}")
        known = {f.name for f in dataclasses.fields(cls)} - {"hooks"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown fit config field(s): {', '.join(unknown)}")
        data = dict(data)
        if "loss" in data:
            data["loss"] = loss_from_json(data["loss"])
        if "optimizer" in data and data["optimizer"] is not None:
            data["optimizer"] = optimizer_from_json(data["optimizer"])
        return cls(**data)


def _optimizer(optimizer):
    if optimizer is None:
        return Adam(1e-3)
    if isinstance(optimizer, str):
        return recipe_spec(optimizer)
    if isinstance(optimizer, OptimizerSpec | optax.GradientTransformation):
        return optimizer
    raise ConfigError(
        "optimizer must be an optimizer spec (physnet.training.Adam, AdamThenLBFGS), a recipe "
        f"name or an optax optimizer, got {optimizer!r}"
    )


@dataclasses.dataclass(frozen=True)
class Runtime:
    """How :func:`physnet.fit` runs; none of these change the trained numbers (beyond
    round-off for a mesh).

    Attributes:
        progress: show a progress bar; None: only when stderr is a terminal.
        mesh: a ``jax.sharding.Mesh`` for data-parallel training (samples sharded over
            ``mesh_axis``, parameters replicated).
        mesh_axis: the mesh axis that carries the data.
        checkpoint: a training checkpoint file (``.npz``) to save to.
        checkpoint_every: steps between checkpoints (None: at the end, on divergence and on
            Ctrl-C only).
        resume: a training checkpoint to continue from.
        member_batch_size: ensembles only: how many members are vmapped together.
    """

    progress: bool | None = None
    mesh: Any = None
    mesh_axis: str = "data"
    checkpoint: str | os.PathLike | None = None
    checkpoint_every: int | None = None
    resume: str | os.PathLike | None = None
    member_batch_size: int | None = None

    def __post_init__(self):
        every = self.checkpoint_every
        optional(integer, "Runtime", "checkpoint_every", every, low=1)
        if every is not None and self.checkpoint is None:
            raise ConfigError("checkpoint_every needs checkpoint=PATH (a .npz file)")
        optional(integer, "Runtime", "member_batch_size", self.member_batch_size, low=1)
