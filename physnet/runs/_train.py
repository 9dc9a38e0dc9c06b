"""Train a model (or an ensemble) on a data file into a run directory: ``physnet train``."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax

from .._build import build_model
from .._errors import ConfigError, TrainingDivergedError
from ..data import AbstractSplit, TimeSplit, Trajectories, TrajectorySplit
from ..evaluation import derivative_mse, ensemble_readout
from ..models import DissipativeHNN, Ensemble, Friction
from ..training import LOSSES, fit, fit_ensemble, get_loss
from ._rundir import write_run

#: how ``split="auto"`` chooses: by trajectory when the data hold several, by time for one
SPLITS = ("auto", "trajectory", "time")


def make_split(
    data: Trajectories, kind: str = "auto", train_fraction: float = 0.8, *, key
) -> AbstractSplit:
    """The train/test split of ``data``: ``"trajectory"`` (a random subset of whole
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


def _member_metrics(model, train: Trajectories, test: Trajectories) -> dict[str, float]:
    row: dict[str, float] = {}
    if train.has_derivatives:
        row["train_mse"] = derivative_mse(model, train)
        row["test_mse"] = derivative_mse(model, test)
        if test.clean_derivatives is not None:
            row["test_mse_clean"] = derivative_mse(model, test, clean=True)
    return row


def train_run(
    data_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    model: str = "hnn",
    approximator: str = "mlp",
    options: dict[str, Any] | None = None,
    loss: str = "derivative",
    loss_options: dict[str, Any] | None = None,
    steps: int = 3000,
    lr: float = 1e-3,
    batch_size: int | None = None,
    seed: int = 0,
    train_fraction: float = 0.8,
    split: str = "auto",
    ensemble: int | None = None,
    ensemble_batch: int | None = None,
    progress: bool | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train a registered model on a data file and write a run directory.

    Random keys: ``jax.random.split(jax.random.key(seed))`` gives the split key and the
    minibatch key; parameters are initialised from ``nnx.Rngs(seed)`` (member i of an
    ensemble from ``seed + i``). KAN grids are first placed on the training states.

    Args:
        data_path: a ``.npz`` data file (:meth:`Trajectories.save`).
        out: the run directory to create (written atomically).
        model, approximator: registered names (:data:`physnet.models.MODELS`,
            :data:`physnet.approximators.APPROXIMATORS`).
        options: model and approximator options (:func:`physnet.build_model`).
        loss, loss_options: registered loss name and its constructor options.
        steps, lr, batch_size: Adam steps, learning rate, minibatch size (None: full batch).
        seed: the run's seed.
        train_fraction, split: the train/test split (:func:`make_split`).
        ensemble, ensemble_batch: train ``ensemble`` members in one compiled call, vmapping
            ``ensemble_batch`` at a time (:func:`physnet.fit_ensemble`).
        progress: show a progress bar (default: when stderr is a terminal).

    Returns:
        ``(out, metrics)``.

    Raises:
        DataError, ConfigError: on bad data or options; TrainingDivergedError when training
        diverges (every member, for an ensemble); nothing is written then.
    """
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if not (isinstance(lr, int | float) and np.isfinite(lr) and lr > 0):
        raise ConfigError(f"the learning rate must be a finite number > 0, got {lr!r}")
    data = Trajectories.load(data_path)
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

    fit_options = dict(
        steps=steps,
        optimizer=optax.adam(lr),
        loss=loss_fn,
        test_data=test,
        batch_size=batch_size,
        key=k_batch,
        progress=progress,
    )
    given_loss_options = {k: v for k, v in (loss_options or {}).items() if v is not None}
    config: dict[str, Any] = {
        "model": model,
        "approximator": approximator,
        **options,
        "options": options,
        "loss": loss,
        **given_loss_options,
        "loss_options": given_loss_options,
        "steps": steps,
        "lr": lr,
        "batch_size": batch_size,
        "seed": seed,
        "train_fraction": train_fraction,
        "split": the_split.kind,
        "ensemble": ensemble,
        "ensemble_batch": ensemble_batch,
    }
    metrics: dict[str, Any] = {
        "model": model,
        "approximator": approximator,
        "loss": loss,
        "steps": steps,
        "split": the_split.kind,
    }
    if ensemble is None:
        trained = make_model(seed)
        history = fit(trained, train, **fit_options)
        metrics |= {
            "train_loss": history.final_train_loss(),
            "test_loss": history.final_test_loss(),
            "train_seconds": history.train_seconds,
            "compile_seconds": history.compile_seconds,
        }
        metrics |= _member_metrics(trained, train, test)
    else:
        trained, extra = _train_ensemble(
            make_model, train, test, ensemble, seed, ensemble_batch, fit_options
        )
        config["seeds"] = extra["seeds"]
        metrics |= extra
    out = write_run(
        out,
        model=trained,
        config=config,
        split=the_split,
        metrics=metrics,
        data_path=data_path,
        data_metadata=data.metadata,
    )
    return out, metrics


def _summarise_members(metrics: dict, summary: dict) -> None:
    """``key`` (median over members), ``key_std`` and ``key_members`` from ensemble_readout."""
    for key, s in summary.items():
        metrics[key] = s["median"]
        metrics[f"{key}_std"] = s["std"]
        metrics[f"{key}_members"] = s["members"]


def _train_ensemble(make_model, train, test, n, seed, member_batch_size, fit_options):
    seeds = [seed + i for i in range(n)]
    ens = Ensemble([make_model(s) for s in seeds])
    history = fit_ensemble(ens, train, member_batch_size=member_batch_size, **fit_options)
    diverged = [i for i, step in enumerate(history.diverged_at) if step >= 0]
    if len(diverged) == n:
        step = int(np.min(history.diverged_at))
        raise TrainingDivergedError(
            step,
            float("nan"),
            history,
            message=(
                f"training diverged: the loss of every one of the {n} ensemble members became "
                f"non-finite (first at step {step}). Lower the learning rate or check the data."
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
        if isinstance(member, DissipativeHNN) and isinstance(member.dissipation, Friction):
            row["gamma_hat"] = float(member.gamma)
        return row

    last = [r[np.isfinite(r)][-1] if np.isfinite(r).any() else np.nan for r in history.train_loss]
    summary = ensemble_readout(
        range(n), lambda i: {"train_loss": float(last[i]), "test_loss": float(final_test[i])}
    )
    _summarise_members(metrics, summary | ensemble_readout(ens, readout))
    return ens, metrics
