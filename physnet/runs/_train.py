"""Train a model (or an ensemble) on a data file into a run directory: ``physnet train``."""

from __future__ import annotations

import dataclasses
import inspect
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._build import build_model
from .._checks import known_options, number
from .._errors import ConfigError, DataError, TrainingDivergedError, TrainingInterrupted
from .._io import check_output
from ..data import AbstractSplit, TimeSplit, Trajectories, TrajectorySplit
from ..evaluation import derivative_mse, ensemble_readout
from ..models import Ensemble
from ..training import (
    DEFAULT_RECIPE,
    LOSSES,
    RECIPES,
    AdamThenLBFGS,
    Runtime,
    choose_loss,
    fit,
    fit_ensemble,
    get_loss,
)
from ..training import fit_states as states_fit
from ._config import CHECKPOINT_EVERY as CHECKPOINT_EVERY
from ._config import RunConfig
from ._rundir import RunDirectory, file_sha256, finish_run, run_config, start_run

#: seeds are 64-bit signed integers (``jax.random.key`` with x64)
MAX_SEED = 2**63 - 1
#: refuse models whose parameters and optimizer state would need more memory than this
MAX_TRAIN_BYTES = 8 * 2**30

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


def _member_metrics(model, train: Trajectories, test: Trajectories) -> dict[str, float]:
    row: dict[str, float] = {}
    if train.has_derivatives:
        row["train_mse"] = derivative_mse(model, train)
        row["test_mse"] = derivative_mse(model, test)
        if test.clean_derivatives is not None:
            row["test_mse_clean"] = derivative_mse(model, test, clean=True)
    return row


def _check_options(lr, seed, ensemble, model, approximator, options, state_size) -> None:
    """Option ranges, before any work: learning rate, seeds, model size (memory estimate)."""
    if lr is not None:
        number("train", "the learning rate", lr, positive=True)
    last = seed + (ensemble or 1) - 1 if isinstance(seed, int) else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= last <= MAX_SEED:
        raise ConfigError(
            f"--seed must be an integer in [0, 2**63 - 1] (with --ensemble N: seed + N - 1 "
            f"too), got {seed!r}"
        )
    width = int(options.get("width") or 32)
    depth = int(options.get("depth") or 2)
    basis = int(options.get("grid") or 5) + int(options.get("order") or 3) + 1
    per_layer = width * width * (basis if approximator == "kan" else 1)
    n_params = depth * per_layer + 2 * width * (state_size + 1) * basis
    # parameters, two Adam moments, the last good copy, gradients: about 5 copies of float64
    need = 5 * 8 * n_params * (ensemble or 1)
    if need > MAX_TRAIN_BYTES:
        raise ConfigError(
            f"the model is too large: about {n_params:.3g} parameters{' per member' if ensemble else ''} "
            f"need about {need / 2**30:.3g} GiB for training (limit "
            f"{MAX_TRAIN_BYTES / 2**30:.0f} GiB); lower --width/--depth/--grid"
        )


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
                    config.model, data.state_size, config.approximator, **config.options
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


def _check_fit_states(options, loss, ensemble, preset, resume, batch_size) -> None:
    """The options of a states-only fit, before any work."""
    unknown = sorted(set(options) - set(_FIT_STATES_OPTIONS))
    if unknown:
        raise ConfigError(
            f"fit_states takes {', '.join(_FIT_STATES_OPTIONS)}, not {', '.join(unknown)}"
        )
    if loss not in ("derivative", "weak"):
        raise ConfigError(
            f"--fit-states runs the weak loss then latent shooting; --loss {loss} does not "
            "apply (use --loss weak to set the weak stage's options, or drop --fit-states)"
        )
    for flag, value in (
        ("--ensemble", ensemble),
        ("--preset", preset),
        ("--batch-size", batch_size),
    ):
        if value is not None:
            raise ConfigError(f"--fit-states trains one model by least squares; drop {flag}")
    if resume:
        raise ConfigError("a --fit-states run has no training state to resume; run it again")


def train_run(
    data_path: str | os.PathLike,
    out: str | os.PathLike,
    config: RunConfig | None = None,
    *,
    progress: bool | None = None,
    overwrite: bool = False,
    resume: bool = False,
    **options: Any,
) -> tuple[Path, dict[str, Any]]:
    """Train a registered model on a data file and write a run directory.

    ``config`` is a :class:`RunConfig`; its fields may also be given (or replaced) as keywords
    (``train_run(data, out, model="dhnn", steps=500)``). ``config.json`` is
    ``config.to_json()`` plus the run's metadata (data file, SHA-256, provenance, status).

    Random keys: ``jax.random.split(jax.random.key(seed))`` gives the split key and the
    minibatch key; parameters are initialised from ``nnx.Rngs(seed)`` (member i of an
    ensemble from ``seed + i``). KAN grids are first placed on the training states.

    The output is checked before any work (:func:`physnet._io.check_output`); the run
    directory is created when training starts (status ``"training"``), the training state is
    saved in it every ``checkpoint_every`` steps and on Ctrl-C, and the trained model and
    metrics are added at the end (status ``"complete"``).

    Args:
        data_path: a ``.npz`` data file (:meth:`Trajectories.save`).
        out: the run directory to create: new, empty or (with ``overwrite``) a previous run.
        config: the run's options (:class:`RunConfig`: model, approximator and their options,
            loss and its options, steps, lr or preset, fit_states, batch_size, seed, split,
            ensemble, checkpoint_every); default ``RunConfig()``.
        progress: show a progress bar (default: when stderr is a terminal).
        overwrite: replace a previous physnet run at ``out``.
        resume: continue the interrupted run ``out`` from its training state (the options
            must be the run's; :func:`resume_run` reads them from it).
        options: :class:`RunConfig` fields, replacing ``config``'s.

    Returns:
        ``(out, metrics)``.

    Raises:
        DataError, ConfigError: on bad data, options or output; nothing is written then.
        TrainingDivergedError: when training diverges (every member, for an ensemble); the
            run then holds the last good parameters (status ``"diverged"``).
        TrainingInterrupted: on Ctrl-C; the run holds the training state to resume from.
    """
    config = _run_config(config, options)
    out = Path(out)
    if not resume:
        check_output(out, "run", overwrite=overwrite, inputs=[data_path])
    data = Trajectories.load(data_path)
    _check_options(
        config.lr,
        config.seed,
        config.ensemble,
        config.model,
        config.approximator,
        config.options,
        data.state_size,
    )
    config, auto = resolve_defaults(config, data)
    model, approximator, options = config.model, config.approximator, config.options
    loss, loss_options, steps = config.loss, config.loss_options, config.steps
    preset, fit_states, batch_size = config.preset, config.fit_states, config.batch_size
    seed, train_fraction, split = config.seed, config.train_fraction, config.split
    ensemble, ensemble_batch = config.ensemble, config.ensemble_batch
    checkpoint_every = config.checkpoint_every
    if preset is not None:
        if preset not in RECIPES:
            raise ConfigError(
                f"unknown --preset {preset!r}; choose one of {', '.join(RECIPES)} (or --lr LR: "
                "Adam at LR)"
            )
        if batch_size is not None and isinstance(RECIPES[preset].optimizer, AdamThenLBFGS):
            raise ConfigError(
                f"--preset {preset} trains full batch (L-BFGS); drop --batch-size, or use "
                "--preset source (Adam at 1e-3) or --lr LR for minibatches"
            )
    if fit_states is not None:
        _check_fit_states(fit_states, loss, ensemble, preset, resume, batch_size)
    loss_fn = make_loss(loss, loss_options)
    k_split, k_batch = jax.random.split(jax.random.key(seed))
    the_split = make_split(data, split, train_fraction, key=k_split)
    train, test = the_split.apply(data)
    if ensemble_batch is not None and ensemble is None:
        raise ConfigError("--ensemble-batch applies to --ensemble N only")

    def make_model(member_seed: int):
        m = build_model(model, data.state_size, approximator, seed=member_seed, **options)
        if approximator == "kan":  # put the spline grids where the training states are
            from ..approximators import update_grids

            update_grids(m, train.states[train.mask])
        return m

    training_state = out / "training.npz"
    fit_options = dict(
        test_data=test,
        key=k_batch,
        runtime=Runtime(
            progress=progress,
            checkpoint=training_state,
            checkpoint_every=checkpoint_every,
            resume=training_state if resume else None,
            member_batch_size=ensemble_batch,
        ),
    )
    fit_config = config.fit_config(loss_fn) if fit_states is None else None
    stored = config.replace(split=the_split.kind).to_json()
    if ensemble is not None:
        stored["seeds"] = [seed + i for i in range(ensemble)]
    if auto is not None:
        stored["auto"] = auto
    metrics: dict[str, Any] = {
        "model": model,
        "approximator": approximator,
        "loss": loss,
        "steps": steps,
        "split": the_split.kind,
    }
    if preset is not None and fit_states is None:
        metrics["preset"] = preset
    if auto is not None:  # physnet train says it in one line once the run is complete
        metrics["loss_auto"] = auto["why"]
    if resume:
        if not training_state.is_file():
            raise DataError(f"{out} holds no training state ({training_state.name}) to resume")
    else:
        stored = run_config(stored, data_path=data_path, data_metadata=data.metadata)
        start_run(out, config=stored, split=the_split, overwrite=overwrite, inputs=[data_path])
    finish = dict(data_metadata=data.metadata)
    try:
        if ensemble is None:
            trained = make_model(seed)
            try:
                if fit_states is None:
                    history = fit(trained, train, fit_config, **fit_options)
                else:
                    weak = loss_fn if loss == "weak" else None
                    result = states_fit(trained, train, weak=weak, **fit_states)
            except TrainingDivergedError as err:
                finish_run(
                    out,
                    model=trained,
                    metrics=metrics | {"diverged_at": err.step, "last_finite_loss": err.last_loss},
                    status="diverged",
                    **finish,
                )
                raise err.kept_by(
                    f"the run {out} holds the parameters of the last good step (status diverged)"
                ) from None
            if fit_states is None:
                metrics |= {
                    "train_loss": history.final_train_loss(),
                    "test_loss": history.final_test_loss(),
                    "train_seconds": history.train_seconds,
                    "compile_seconds": history.compile_seconds,
                }
            else:
                metrics |= {
                    "fit": "states",
                    "final_cost": float(result.costs[-1]) if result.costs.size else None,
                    "train_seconds": result.seconds,
                    "noise_level": None
                    if result.noise_level is None
                    else [float(v) for v in result.noise_level],
                }
            metrics |= _member_metrics(trained, train, test)
        else:
            trained, extra = _train_ensemble(
                make_model, train, test, ensemble, seed, fit_config, fit_options, out, finish
            )
            metrics |= extra
    except TrainingInterrupted as err:
        raise TrainingInterrupted(
            err.step,
            training_state,
            message=f"training interrupted after step {err.step}; its state is saved in "
            f"{training_state}: resume with physnet train --resume {out}",
        ) from None
    except (ConfigError, DataError):
        # an option or the data turned out unusable before any training state existed: the
        # run directory this call started holds nothing of value, so nothing is left behind
        if not resume:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finish_run(out, model=trained, metrics=metrics, **finish)
    return out, metrics


def resume_run(
    run: str | os.PathLike, *, steps: int | None = None, progress: bool | None = None
) -> tuple[Path, dict[str, Any]]:
    """Continue an interrupted ``physnet train`` run to the same result.

    Continue an interrupted ``physnet train`` run from its training state, with the
    options stored in its ``config.json`` (``steps`` may be raised); the result equals the
    uninterrupted run's to the bit.

    Raises:
        DataError: if ``run`` is not an unfinished run, or its data file changed.
    """
    rd = RunDirectory.open(run)
    if rd.status != "training":
        raise DataError(
            f"{rd.path}: training is {rd.status}; only an interrupted run resumes (train a "
            "new run instead)"
        )
    c = rd.config
    data = c.get("data")
    if not isinstance(data, str) or not Path(data).is_file():
        raise DataError(f"{rd.path}: the run's data file {data!r} is gone")
    if file_sha256(data) != c.get("data_sha256"):
        raise DataError(
            f"{rd.path}: the run's data file {data} changed since training started (SHA-256 "
            "differs); a resumed run must see the same data"
        )
    stored = RunConfig.from_json(c)
    steps = stored.steps if steps is None else steps
    if not isinstance(steps, int) or steps < stored.steps:
        raise ConfigError(f"--steps must be at least the run's {stored.steps}, got {steps!r}")
    named = [  # a user's own class, imported only when the user names it again
        f"--{flag} {getattr(stored, flag)}"
        for flag in ("model", "approximator")
        if ":" in getattr(stored, flag)
        and getattr(stored, flag).partition(":")[0] not in sys.modules
    ]
    if named:
        raise ConfigError(
            f"{rd.path} was trained with {' '.join(named)}; physnet does not import code named "
            f"in a run on its own: resume with --resume {rd.path} {' '.join(named)}"
        )
    if steps != stored.steps:
        from .._io import write_json

        write_json(rd.path / "config.json", {**c, "steps": steps})
    return train_run(data, rd.path, stored.replace(steps=steps), progress=progress, resume=True)


def _summarise_members(metrics: dict, summary: dict) -> None:
    """``key`` (median over members), ``key_std`` and ``key_members`` from ensemble_readout."""
    for key, s in summary.items():
        metrics[key] = s["median"]
        metrics[f"{key}_std"] = s["std"]
        metrics[f"{key}_members"] = s["members"]


def _train_ensemble(make_model, train, test, n, seed, fit_config, fit_options, out, finish):
    seeds = [seed + i for i in range(n)]
    ens = Ensemble([make_model(s) for s in seeds])
    history = fit_ensemble(ens, train, fit_config, **fit_options)
    diverged = [i for i, step in enumerate(history.diverged_at) if step >= 0]
    if len(diverged) == n:
        step = int(np.min(history.diverged_at))
        finish_run(
            out,
            model=ens,
            metrics={"diverged_at": history.diverged_at.tolist()},
            status="diverged",
            **finish,
        )
        raise TrainingDivergedError(
            step,
            float("nan"),
            history,
            message=(
                f"training diverged: the loss of every one of the {n} ensemble members became "
                f"non-finite (first at step {step}); the run {out} holds their last good "
                "parameters (status diverged). Lower the learning rate or check the data."
            ),
        )
    final_test = history.test_loss[-1] if history.test_loss.size else np.full(n, np.nan)
    metrics: dict[str, Any] = {
        "ensemble": n,
        "seeds": seeds,
        "diverged_members": diverged,
        "train_seconds": history.train_seconds,
        "compile_seconds": history.compile_seconds,
    }

    def readout(member):
        row = _member_metrics(member, train, test)
        gamma = member.readout().get("gamma_hat")  # a dissipation with a scalar damping
        if gamma is not None:
            row["gamma_hat"] = gamma
        return row

    last = [r[np.isfinite(r)][-1] if np.isfinite(r).any() else np.nan for r in history.train_loss]
    summary = ensemble_readout(
        range(n), lambda i: {"train_loss": float(last[i]), "test_loss": float(final_test[i])}
    )
    _summarise_members(metrics, summary | ensemble_readout(ens, readout))
    return ens, metrics
