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
from ._auto import AUTO, choose_loss
from ._losses import get_loss, loss_from_json, loss_to_json
from ._optimizers import AdamThenLBFGS, OptimizerSpec, optimizer_from_json, optimizer_to_json
from ._recipes import recipe_spec

DEFAULT_RECIPE = "fast"
"""The recipe :class:`FitConfig` trains with when no optimizer is given."""

#: parameters whose global L2 norm exceeds this count as diverged (fit's default)
DEFAULT_MAX_PARAM_NORM = 1e6


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """What :func:`physnet.fit` trains with; every field but ``steps`` has a default.

    Attributes:
        steps: number of optimizer steps (>= 0).
        loss: a loss object, a name of :data:`~physnet.training.LOSSES` (stored as the
            object), or ``"auto"`` (the default, stored as ``"auto"``): the derivative loss
            when the data have derivatives, the trajectory loss when they have states only,
            chosen by :func:`physnet.fit` on its data (:meth:`resolve_loss`).
        optimizer: an :class:`~physnet.training.OptimizerSpec` (e.g. ``Adam(1e-3)``), a recipe
            name of :data:`~physnet.training.RECIPES` (``"fast"``, ``"source"``; stored as
            its spec), or any optax optimizer (compared by identity; not storable as JSON).
            Default (None): the ``"fast"`` recipe (``AdamThenLBFGS(1e-2)``: 50 Adam steps,
            then L-BFGS; full batch), physnet's best measured; ``"source"`` (``Adam(1e-3)``)
            is the source's.
        batch_size: minibatch size (sampled without replacement each step), or None for full
            batch; minibatches need an explicit key and an optimizer that takes them (not
            the default ``"fast"`` recipe, whose L-BFGS is full batch: pass
            ``optimizer="source"`` or ``Adam(lr)``).
        chunk_size: optimizer steps per compiled call (hooks run between calls).
        max_param_norm: a step whose new parameters have a global L2 norm above this counts
            as a divergence (None: no bound).
        hooks: callables ``hook(step, model, history) -> bool | None`` (see
            :class:`~physnet.training.Hook`); code, not configuration, so not in JSON.

    Raises:
        ConfigError: on an invalid field, naming it and its value.
    """

    steps: int
    loss: Any = AUTO
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
        if not (isinstance(self.loss, str) and self.loss == AUTO):
            _set(self, "loss", get_loss(self.loss))
        optimizer = _optimizer(self.optimizer)
        if self.batch_size is not None and isinstance(optimizer, AdamThenLBFGS):
            which = "the default recipe 'fast'" if self.optimizer is None else "the optimizer"
            raise ConfigError(
                f"batch_size={self.batch_size}: {which} (Adam, then L-BFGS) trains full batch; "
                "pass optimizer='source' (Adam at 1e-3) or Adam(lr) for minibatches, or drop "
                "batch_size"
            )
        _set(self, "optimizer", optimizer)
        hooks = tuple(self.hooks or ())
        for hook in hooks:
            if not callable(hook):
                raise ConfigError(
                    "every hook must be callable as hook(step, model, history) (a "
                    f"physnet.training.Hook or a function), got {hook!r}"
                )
        _set(self, "hooks", hooks)

    @property
    def auto_loss(self) -> bool:
        """True while the loss is ``"auto"`` (chosen from the data by :meth:`resolve_loss`)."""
        return isinstance(self.loss, str) and self.loss == AUTO

    def resolve_loss(self, data) -> tuple[FitConfig, str | None, str | None]:
        """``(config, choice, why)``: for loss ``"auto"`` a copy with the loss chosen for
        ``data`` (derivative or trajectory; :func:`physnet.training.choose_loss`) and the
        reason; otherwise ``(self, None, None)``."""
        if not self.auto_loss:
            return self, None, None
        choice, why = choose_loss(data)
        return self.replace(loss=choice), choice, why

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
            "loss": AUTO if self.auto_loss else loss_to_json(self.loss),
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
        if "loss" in data and data["loss"] != AUTO:
            data["loss"] = loss_from_json(data["loss"])
        if "optimizer" in data and data["optimizer"] is not None:
            data["optimizer"] = optimizer_from_json(data["optimizer"])
        return cls(**data)


def _optimizer(optimizer):
    if optimizer is None:
        return recipe_spec(DEFAULT_RECIPE)
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
    """How :func:`physnet.fit` runs: progress, mesh and checkpoints.

    How :func:`physnet.fit` runs; none of these change the trained numbers (beyond
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
        local_data: with a ``mesh`` over several processes: ``data`` is this process's share
            of the trajectories (:func:`~physnet.training.local_share`), the global batch the
            shares concatenated in process order; False: every process passes all the data.
        shard_members: ensembles only: shard the members over ``mesh_axis`` (each device
            trains its members on all the data) instead of the samples.
    """

    progress: bool | None = None
    mesh: Any = None
    mesh_axis: str = "data"
    checkpoint: str | os.PathLike | None = None
    checkpoint_every: int | None = None
    resume: str | os.PathLike | None = None
    member_batch_size: int | None = None
    local_data: bool = False
    shard_members: bool = False

    def __post_init__(self):
        every = self.checkpoint_every
        optional(integer, "Runtime", "checkpoint_every", every, low=1)
        if every is not None and self.checkpoint is None:
            raise ConfigError("checkpoint_every needs checkpoint=PATH (a .npz file)")
        optional(integer, "Runtime", "member_batch_size", self.member_batch_size, low=1)
        if self.local_data and self.shard_members:
            raise ConfigError(
                "shard_members trains every member on all the data: pass all of it on every "
                "process (local_data=False)"
            )
