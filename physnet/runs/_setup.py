"""What a run settles before it trains: the train/test split, the loss, the defaults resolved
for the data (loss, recipe, steps) and a freshly initialised model."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from .._build import build_model
from .._checks import known_options
from .._errors import ConfigError
from ..data import AbstractSplit, TimeSplit, Trajectories, TrajectorySplit
from ..training import DEFAULT_RECIPE, LOSSES, RECIPES, choose_loss, get_loss
from ._config import RunConfig

SPLITS = ("auto", "trajectory", "time")
"""The accepted values of ``split``; ``"auto"``: by trajectory when possible, else by time."""


def make_split(
    data: Trajectories, kind: str = "auto", train_fraction: float = 0.8, *, key
) -> AbstractSplit:
    """The train/test split of data: by trajectory, by time or automatic.

    The train/test split of ``data``: ``"trajectory"`` (a random subset of whole
    trajectories, drawn with ``key``), ``"time"`` (the first ``train_fraction`` of every
    trajectory's observations) or ``"auto"`` (by trajectory when both parts get at least one
    trajectory, otherwise by time: a single record, or two records with 80/20)."""
    if kind not in SPLITS:
        raise ConfigError(f"unknown split {kind!r}; choose one of {', '.join(SPLITS)}")
    if kind == "auto":
        n_train = int(round(train_fraction * data.n_trajectories))
        kind = "trajectory" if 1 <= n_train < data.n_trajectories else "time"
    if kind == "trajectory":
        return TrajectorySplit.random(data.n_trajectories, train_fraction, key=key)
    return TimeSplit.for_data(data, train_fraction)


def make_loss(name: str, options: dict[str, Any] | None = None):
    """A registered loss by name with its constructor options (``None`` values dropped).

    Raises:
        ConfigError: for options the loss does not take.
    """
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if name not in LOSSES:
        return get_loss(name)  # raises the "unknown loss" error
    if not options:
        return get_loss(name)
    try:
        return LOSSES[name](**options)
    except TypeError:
        accepted = set(inspect.signature(LOSSES[name]).parameters)
        bad = sorted(set(options) - accepted)
        if not bad:
            raise
        flags = ", ".join("--" + k.replace("_", "-") for k in bad)
        owners = [
            other
            for other, cls in LOSSES.items()
            if set(bad) <= set(inspect.signature(cls).parameters)
        ]
        where = f"--loss {' or '.join(owners)} only, not" if owners else "no loss, including"
        raise ConfigError(f"{flags} appl(ies) to {where} --loss {name}") from None


def _run_config(config: RunConfig | None, options: dict[str, Any]) -> RunConfig:
    if config is None:
        config = RunConfig()
    elif not isinstance(config, RunConfig):
        raise ConfigError(f"config must be a physnet.runs.RunConfig, got {config!r}")
    known_options("train_run", options, sorted(f.name for f in dataclasses.fields(RunConfig)))
    return config.replace(**options) if options else config


def build_member(config: RunConfig, train: Trajectories, seed: int):
    """A freshly initialised model of ``config`` (model, approximator, options) for
    ``train``'s state size from ``seed``; a KAN's spline grids are first placed on the
    training states."""
    m = build_model(
        config.model,
        train.state_size,
        config.approximator,
        seed=seed,
        input_size=train.input_size,
        **config.options,
    )
    if config.approximator == "kan":
        from ..approximators import update_grids

        update_grids(m, train.states[train.mask])
    return m


_FIT_STATES_OPTIONS = ("weak_steps", "latent_steps", "max_step")

#: Adam at --lr trains this many steps unless told otherwise (the source's)
ADAM_STEPS = 3000


def resolve_defaults(config: RunConfig, data: Trajectories) -> tuple[RunConfig, dict | None]:
    """``config`` with its defaults resolved for ``data``: loss ``"auto"`` (the derivative
    loss with derivatives; states only: the trajectory loss, or ``fit_states`` for a model
    of at most :data:`~physnet.training.FIT_STATES_MAX_PARAMS` parameters trained as one
    model with no optimizer option given), the optimizer (``preset`` ``"fast"`` when neither
    ``preset`` nor ``lr`` is given) and ``steps`` (the recipe's, or 3000 for Adam at ``lr``).
    Returns the resolved config and ``{"loss": choice, "why": reason}`` when the loss was
    chosen here (None otherwise).

    Raises:
        ConfigError: for ``batch_size`` with the default (full-batch) recipe, naming the flags.
    """
    auto = None
    changes: dict[str, Any] = {}
    if config.loss == "auto":
        if config.fit_states is not None:  # --fit-states: its weak stage with default options
            changes["loss"] = "weak"
        else:
            gradient_options = (config.ensemble, config.batch_size, config.preset, config.lr)
            free = all(v is None for v in gradient_options) and config.steps is None
            model = None
            if free and data.derivatives is None:
                model = build_model(
                    config.model,
                    data.state_size,
                    config.approximator,
                    input_size=data.input_size,
                    **config.options,
                )
            choice, why = choose_loss(data, model, fit_states_allowed=free)
            auto = {"loss": choice, "why": why}
            if choice == "fit-states":
                changes |= {"loss": "weak", "fit_states": {}}
            else:
                changes["loss"] = choice
    fit_states = changes.get("fit_states", config.fit_states)
    preset, steps = config.preset, config.steps
    if fit_states is None and preset is None and config.lr is None:
        if config.batch_size is not None:
            raise ConfigError(
                f"--batch-size {config.batch_size}: the default recipe, {DEFAULT_RECIPE} (Adam, "
                "then L-BFGS), trains full batch; add --preset source (Adam at 1e-3) or --lr LR "
                "(Adam at LR) to train on minibatches, or drop --batch-size"
            )
        preset = changes["preset"] = DEFAULT_RECIPE
    if fit_states is None and steps is None:
        steps = RECIPES[preset].steps if preset in RECIPES else ADAM_STEPS
        changes["steps"] = steps
    return (config.replace(**changes) if changes else config), auto
