"""Train a model (or an ensemble) on a data file into a run directory: ``physnet train``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._checks import number
from .._errors import ConfigError, DataError, TrainingDivergedError, TrainingInterrupted
from .._io import check_output, write_json
from ..data import Trajectories
from ..evaluation import derivative_mse, ensemble_readout
from ..models import Ensemble, model_class
from ..training import (
    RECIPES,
    AdamThenLBFGS,
    Runtime,
    fit,
    fit_ensemble,
)
from ..training import fit_states as states_fit
from ..training._distributed import is_writer, local_share
from ._config import CHECKPOINT_EVERY as CHECKPOINT_EVERY
from ._config import RunConfig
from ._rundir import RunDirectory, file_sha256, finish_run, holds_run_lock, run_config, start_run
from ._select import apply_scale, known_system, resolve_scale, select_structure
from ._setup import (
    _FIT_STATES_OPTIONS,
    _run_config,
    build_member,
    make_loss,
    make_split,
    resolve_defaults,
)

#: the checksum of the training options a run started with, beside its training state
OPTIONS_FILE = "training-options.json"


def options_sha256(config: dict[str, Any]) -> str:
    """SHA-256 of the training-relevant options of a run's ``config.json`` (its
    :class:`RunConfig` fields, ``steps`` left out since a resume may raise it, and
    ``checkpoint_every``, which changes no number): what a resumed run must still hold."""
    fields = RunConfig.from_json(config).to_json()
    for name in ("steps", "checkpoint_every"):
        fields.pop(name, None)
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


#: seeds are 64-bit signed integers (``jax.random.key`` with x64)
MAX_SEED = 2**63 - 1
#: refuse models whose parameters and optimizer state would need more memory than this
MAX_TRAIN_BYTES = 8 * 2**30


def _derivative_mse(model, data: Trajectories, *, clean: bool = False) -> float:
    """:func:`~physnet.evaluation.derivative_mse`, in the file's units for rescaled data."""
    if "scales" not in data.metadata:
        return derivative_mse(model, data, clean=clean)
    states = data.clean_states if clean and data.clean_states is not None else data.states
    dy = data.clean_derivatives if clean else data.derivatives
    mask = data.mask
    field = jax.vmap(model)(data.flat_times(), states[mask])
    return float(jax.numpy.mean(data.to_units(field - dy[mask]) ** 2))


def _member_metrics(model, train: Trajectories, test: Trajectories) -> dict[str, float]:
    """Derivative errors (file units) of one trained model, when the data have derivatives."""
    row: dict[str, float] = {}
    if train.has_derivatives:
        row["train_mse"] = _derivative_mse(model, train)
        row["test_mse"] = _derivative_mse(model, test)
        if test.clean_derivatives is not None:
            row["test_mse_clean"] = _derivative_mse(model, test, clean=True)
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


def resolve_model(
    config: RunConfig, train: Trajectories, *, key, report=None
) -> tuple[RunConfig, dict | None]:
    """``config`` with ``model="auto"`` resolved on the training part ``train``: ``"hnn"``
    for simulated data of a known system without inputs, else the structure
    :func:`select_structure` ranks best among those that apply (with inputs: those with an
    input port) (its options added). Returns the config and the selection's JSON (None when no
    selection ran)."""
    if config.model != "auto":
        return config, None
    if known_system(train) and not train.input_size:
        return config.replace(model="hnn"), None
    selection = select_structure(train, config, key=key, report=report)
    best = selection.best
    return config.replace(model=best.model, options={**config.options, **best.options}), (
        selection.to_json()
    )


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


def _check_preset(preset, batch_size, lr=None) -> None:
    """The recipe name, no learning rate beside it (a recipe has its own schedule, so an
    ``lr`` would be recorded but not used), and minibatches only with a recipe that takes
    them."""
    if preset is None:
        return
    if lr is not None:
        raise ConfigError(
            f"--lr sets Adam's rate; --preset {preset} has its own schedule: drop one"
        )
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


@holds_run_lock
def train_run(
    data_path: str | os.PathLike,
    out: str | os.PathLike,
    config: RunConfig | None = None,
    *,
    progress: bool | None = None,
    overwrite: bool = False,
    resume: bool = False,
    report=None,
    mesh=None,
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
        report: called with each row of a structure selection (``model="auto"`` on a
            measured record) as it is fitted, e.g. to print it.
        mesh: a ``jax.sharding.Mesh`` over the processes of a distributed run
            (:func:`physnet.training.global_mesh` after
            :func:`~physnet.training.init_distributed`): a single model trains data
            parallel (each process passes its share of the training trajectories), an
            ensemble member parallel; only process 0 writes the run directory, and every
            process can resume it. Every process returns the same ``(out, metrics)``.
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
    writer = is_writer()
    if not resume and writer:
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
    seed = config.seed
    k_split, k_batch = jax.random.split(jax.random.key(seed))
    the_split = make_split(data, config.split, config.train_fraction, key=k_split)
    train, test = the_split.apply(data)
    if config.ensemble_batch is not None and config.ensemble is None:
        raise ConfigError("--ensemble-batch applies to --ensemble N only")
    _check_preset(config.preset, config.batch_size, config.lr)  # before a selection's work
    config, selection = resolve_model(config, train, key=k_split, report=report)
    scales, scale_why = resolve_scale(config.scale, train, model_class(config.model))
    if scales is not None:
        data = apply_scale(data, scales)
        train, test = the_split.apply(data)
    config = config.replace(scale="none" if scales is None else [float(v) for v in scales])
    config, auto = resolve_defaults(config, data)
    model, approximator, options = config.model, config.approximator, config.options
    loss, loss_options, steps = config.loss, config.loss_options, config.steps
    preset, fit_states, batch_size = config.preset, config.fit_states, config.batch_size
    ensemble, ensemble_batch = config.ensemble, config.ensemble_batch
    checkpoint_every = config.checkpoint_every
    _check_preset(preset, batch_size)
    if mesh is not None and fit_states is not None:
        raise ConfigError("--fit-states runs in one process; drop --distributed")
    if fit_states is not None:
        _check_fit_states(fit_states, loss, ensemble, preset, resume, batch_size)
    loss_fn = make_loss(loss, loss_options)

    def make_model(member_seed: int):
        return build_member(config, train, member_seed)

    training_state = out / "training.npz"
    fit_options = dict(
        test_data=test,
        key=k_batch,
        runtime=Runtime(
            progress=progress,
            checkpoint=training_state,
            checkpoint_every=checkpoint_every,
            resume=training_state if resume and training_state.is_file() else None,
            member_batch_size=ensemble_batch,
            mesh=mesh,
            local_data=mesh is not None and ensemble is None,
            shard_members=mesh is not None and ensemble is not None,
        ),
    )
    share = train if mesh is None or ensemble is not None else local_share(train)
    fit_config = config.fit_config(loss_fn) if fit_states is None else None
    stored = config.replace(split=the_split.kind).to_json()
    if ensemble is not None:
        stored["seeds"] = [seed + i for i in range(ensemble)]
    if auto is not None or selection is not None or scales is not None:
        stored["auto"] = {
            **(auto or {}),
            **({"selection": selection} if selection is not None else {}),
            **({"scale": scale_why} if scales is not None else {}),
        }
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
    if selection is not None:
        metrics["selection"] = selection
    if scales is not None:
        metrics["scales"] = [float(v) for v in scales]
        metrics["scale_why"] = scale_why
    if not resume and writer:  # a resumed run without state (stopped early) starts at step 0
        stored = run_config(stored, data_path=data_path, data_metadata=data.metadata)
        start_run(out, config=stored, split=the_split, overwrite=overwrite, inputs=[data_path])
        write_json(out / OPTIONS_FILE, {"options_sha256": options_sha256(stored)})
    finish = dict(data_metadata=data.metadata)
    try:
        if ensemble is None:
            trained = make_model(seed)
            try:
                if fit_states is None:
                    history = fit(trained, share, fit_config, **fit_options)
                else:
                    weak = loss_fn if loss == "weak" else None
                    result = states_fit(trained, train, weak=weak, **fit_states)
            except TrainingDivergedError as err:
                if writer:
                    finish_run(
                        out,
                        model=trained,
                        metrics=metrics
                        | {"diverged_at": err.step, "last_finite_loss": err.last_loss},
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
                    "noise_level": None  # σ̂ per component, in the file's units
                    if result.noise_level is None
                    else [float(v) for v in train.to_units(result.noise_level)],
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
        if not resume and writer:
            shutil.rmtree(out, ignore_errors=True)
        raise
    if writer:
        finish_run(out, model=trained, metrics=metrics, **finish)
    return out, metrics


@holds_run_lock
def resume_run(
    run: str | os.PathLike,
    *,
    steps: int | None = None,
    progress: bool | None = None,
    mesh=None,
) -> tuple[Path, dict[str, Any]]:
    """Continue an interrupted ``physnet train`` run to the same result.

    Continue an interrupted ``physnet train`` run from its training state, with the
    options stored in its ``config.json`` (``steps`` may be raised); the result equals the
    uninterrupted run's to the bit. ``mesh``: as in :func:`train_run` (every process of a
    distributed run reads the run; process 0 writes).

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
    data = rd.data_path()
    if not isinstance(data, str) or not Path(data).is_file():
        raise DataError(f"{rd.path}: the run's data file {data!r} is gone")
    if file_sha256(data) != c.get("data_sha256"):
        raise DataError(
            f"{rd.path}: the run's data file {data} changed since training started (SHA-256 "
            "differs); a resumed run must see the same data"
        )
    stored = RunConfig.from_json(c)
    _check_options_unchanged(rd, c)
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
    if steps != stored.steps and is_writer():
        write_json(rd.path / "config.json", {**c, "steps": steps})
    return train_run(
        data, rd.path, stored.replace(steps=steps), progress=progress, resume=True, mesh=mesh
    )


def _check_options_unchanged(rd: RunDirectory, config: dict[str, Any]) -> None:
    """Refuse, in one line, a run whose ``config.json`` training options were edited since
    training started (checked against :data:`OPTIONS_FILE`; runs started before physnet
    wrote it are not checked)."""
    path = rd.path / OPTIONS_FILE
    if not path.is_file():
        return
    try:
        saved = json.loads(path.read_text())["options_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: unreadable ({err!s:.80}); train a new run") from None
    if saved != options_sha256(config):
        raise DataError(
            f"{rd.path / 'config.json'} was edited since training started (its training "
            f"options differ from the checksum in {path.name}); a resumed run continues with "
            "the options it started with: restore them, or train a new run"
        )


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
        if is_writer():
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
        # a dissipation with a scalar damping, in the file's units
        gamma = member.readout_in(train.metadata.get("scales")).get("gamma_hat")
        if gamma is not None:
            row["gamma_hat"] = gamma
        return row

    last = [r[np.isfinite(r)][-1] if np.isfinite(r).any() else np.nan for r in history.train_loss]
    summary = ensemble_readout(
        range(n), lambda i: {"train_loss": float(last[i]), "test_loss": float(final_test[i])}
    )
    _summarise_members(metrics, summary | ensemble_readout(ens, readout))
    return ens, metrics
