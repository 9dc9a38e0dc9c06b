"""fit and fit_ensemble: train physnet models on trajectories with the loop of ``_loop``."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Sequence

import jax
import numpy as np
import optax
from flax import nnx
from jax import Array

from .._errors import ConfigError, TrainingDivergedError, TrainingInterrupted
from ..data import Trajectories
from ._compiled import compiled_program
from ._hooks import Hook, ProgressBar, TestLoss
from ._loop import Checkpointing, TrainState, drive, make_train_chunk, n_samples, over_members
from ._losses import AbstractLoss, get_loss
from ._recipes import recipe_optimizer

#: parameters whose global L2 norm exceeds this count as diverged (fit's default)
DEFAULT_MAX_PARAM_NORM = 1e6


@dataclasses.dataclass
class History:
    """What happened during :func:`fit`.

    Attributes:
        train_loss: training loss at every step (before that step's update), shape ``(steps,)``.
        test_steps: steps after which the test loss was evaluated.
        test_loss: test loss at ``test_steps``.
        train_seconds: wall time of the optimizer steps, compilation excluded.
        compile_seconds: time to compile the training chunk.
        checkpoint_seconds: wall time spent writing training checkpoints.
    """

    train_loss: np.ndarray
    test_steps: np.ndarray
    test_loss: np.ndarray
    train_seconds: float
    compile_seconds: float
    checkpoint_seconds: float = 0.0

    @property
    def steps(self) -> int:
        return int(self.train_loss.shape[0])

    def final_train_loss(self) -> float:
        return float(self.train_loss[-1]) if self.steps else float("nan")

    def final_test_loss(self) -> float:
        return float(self.test_loss[-1]) if self.test_loss.size else float("nan")


def _progress_enabled(progress: bool | None) -> bool:
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


def _shard(mesh, axis: str, batch, replicated):
    """Place ``batch`` sharded over its sample axis and ``replicated`` on every device."""
    from jax.sharding import NamedSharding, PartitionSpec

    n = n_samples(batch)
    devices = mesh.shape[axis]
    if n % devices:
        raise ConfigError(
            f"data-parallel training: {n} samples do not divide evenly over the {devices} "
            f"devices of mesh axis {axis!r}; drop or add samples so they do"
        )
    batch = jax.device_put(batch, NamedSharding(mesh, PartitionSpec(axis)))
    replicated = jax.device_put(replicated, NamedSharding(mesh, PartitionSpec()))
    return batch, replicated


def _prepare(loss, data, test_data, optimizer, steps, chunk_size, batch_size, key, where):
    if not isinstance(steps, int | np.integer) or steps < 0:
        raise ConfigError(f"{where}: steps must be a non-negative integer, got {steps!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"{where}: chunk_size must be a positive integer, got {chunk_size!r}")
    loss = get_loss(loss)
    optimizer = optax.adam(1e-3) if optimizer is None else optimizer
    if isinstance(optimizer, str):  # a named recipe (physnet.training.RECIPES)
        optimizer = recipe_optimizer(optimizer, int(steps))
    batch = loss.prepare(data)
    n = n_samples(batch)
    if batch_size is not None:
        if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
            raise ConfigError(
                f"{where}: batch_size must be an integer in [1, {n}], got {batch_size!r}"
            )
        if key is None:
            raise ConfigError(f"{where}: minibatch training needs an explicit PRNG key (key=...)")
    key = jax.random.key(0) if key is None else key
    test_batch = loss.prepare(test_data) if test_data is not None else None
    return loss, optimizer, batch, test_batch, key


def fit(
    model,
    data: Trajectories,
    *,
    steps: int,
    optimizer: optax.GradientTransformation | None = None,
    loss: AbstractLoss | str = "derivative",
    test_data: Trajectories | None = None,
    batch_size: int | None = None,
    key: Array | None = None,
    chunk_size: int = 100,
    progress: bool | None = None,
    mesh=None,
    mesh_axis: str = "data",
    hooks: Sequence[Hook | Callable] = (),
    max_param_norm: float | None = DEFAULT_MAX_PARAM_NORM,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: str | os.PathLike | None = None,
) -> History:
    """Train ``model`` in place on ``data``.

    Optimizer steps run in compiled chunks of at most ``chunk_size`` steps (one loop each,
    on a :class:`~physnet.training.TrainState`); between chunks Python runs the hooks: test
    loss, progress bar, then ``hooks``. The loss is full batch unless ``batch_size`` is given.
    Only ``nnx.Param`` variables are trained. Any optax optimizer works, line searches and
    ``optax.lbfgs`` included: each step passes ``value``, ``grad`` and ``value_fn`` (the loss
    on the step's batch) to ``optimizer.update``.

    Args:
        model: a physnet model (an ``nnx.Module``), updated in place.
        data: training trajectories.
        steps: number of optimizer steps.
        optimizer: an optax optimizer (default ``optax.adam(1e-3)``, the source's).
        loss: a loss object or name (default ``"derivative"``).
        test_data: evaluated after every chunk when given.
        batch_size: minibatch size (sampled without replacement each step); requires ``key``.
        key: PRNG key for minibatch sampling.
        chunk_size: optimizer steps per compiled call.
        progress: show a progress bar; default: only when stderr is a terminal.
        mesh: a ``jax.sharding.Mesh`` for data-parallel training: the samples are sharded
            over the mesh axis ``mesh_axis`` and the parameters replicated; XLA inserts the
            gradient all-reduce. The number of samples must divide evenly over that axis.
            Results equal single-device training to round-off.
        mesh_axis: the mesh axis that carries the data.
        hooks: callables ``hook(step, model, history) -> bool | None`` run before the first
            chunk and after every chunk (see :class:`~physnet.training.Hook`), e.g.
            :class:`~physnet.training.GridUpdate` for KAN grid updates or
            :class:`~physnet.training.StopBelow`; one returning ``True`` stops training.
        max_param_norm: a step whose new parameters have a global L2 norm above this counts
            as a divergence (None: no bound); default 1e6.
        checkpoint: a training checkpoint file (``.npz``) to save the training state to (see
            :mod:`physnet.training._resume`): every ``checkpoint_every`` steps, at the end, on
            divergence and on Ctrl-C.
        checkpoint_every: steps between checkpoints (None: only at the end, on divergence and
            on Ctrl-C).
        resume: a training checkpoint to continue from (usually ``checkpoint``): the model
            is built as for the first run, and the parameters, optimizer state, step, keys
            and losses are read from the file; the result equals the uninterrupted run's to
            the bit.

    Returns:
        :class:`History` of train and test losses.

    Raises:
        TrainingDivergedError: if the loss, a gradient or an update becomes non-finite, or the
            parameters exceed ``max_param_norm``; the model then holds the parameters of the
            last good step, and the error carries the step number and the history so far.
        TrainingInterrupted: on Ctrl-C (SIGINT), at the end of the running chunk; the model
            holds the parameters reached, saved in ``checkpoint`` when given.
        ConfigError: on invalid options; DataError: on a bad ``resume`` file.
    """
    loss, optimizer, batch, test_batch, key = _prepare(
        loss, data, test_data, optimizer, steps, chunk_size, batch_size, key, "fit"
    )
    hooks = _check_hooks(hooks, "fit")
    _check_norm(max_param_norm, "fit")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    state = TrainState.create(params, optimizer)
    ck = _checkpointing(
        checkpoint,
        checkpoint_every,
        resume,
        state,
        rest,
        key,
        batch,
        batch_size,
        chunk_size,
        None,
        "fit",
    )
    if ck is not None and ck.resume is not None:
        state, rest, key = ck.resume.state, ck.resume.rest, ck.resume.key
        nnx.update(model, state.params, rest)
    if mesh is not None:
        batch, (state, rest) = _shard(mesh, mesh_axis, batch, (state, rest))

    history, out, bad = fit_module(
        model,
        graphdef,
        rest,
        state,
        loss=loss,
        test_loss=loss,
        optimizer=optimizer,
        batch=batch,
        test_batch=test_batch,
        key=key,
        batch_size=batch_size,
        hooks=hooks,
        steps=steps,
        chunk_size=chunk_size,
        progress=progress,
        max_param_norm=max_param_norm,
        checkpointing=ck,
    )
    if bad >= 0:
        raise TrainingDivergedError(
            bad,
            float(out.last_finite),
            history,
            message=(_diverged_message(bad, float(out.last_finite), max_param_norm, checkpoint)),
        )
    if out.interrupted is not None:
        raise TrainingInterrupted(out.interrupted, checkpoint)
    return history


def _test_loss_fn(test_loss, graphdef):
    """The test loss as a function of ``(params, rest, batch)`` (a value, so equal losses and
    model structures share one compiled evaluation, see :func:`compiled_program`)."""
    return functools.partial(_evaluate_test_loss, test_loss, graphdef)


def _evaluate_test_loss(test_loss, graphdef, params, rest, batch):
    return test_loss(nnx.merge(graphdef, params, rest), batch)


def fit_module(
    module,
    graphdef,
    rest,
    state: TrainState,
    *,
    loss,
    test_loss,
    optimizer,
    batch,
    test_batch,
    key,
    batch_size,
    hooks,
    steps: int,
    chunk_size: int,
    progress,
    max_param_norm=None,
    checkpointing=None,
):
    """The single-module body of :func:`fit` and :func:`~physnet.training.fit_function`: run
    :func:`_run` on ``module`` (updated in place with the final parameters) and return
    ``(history, outcome, diverged_at)``; ``test_loss`` is evaluated on ``test_batch`` between
    chunks when that is given."""

    def sync(params, rest):
        nnx.update(module, params, rest)  # rest: compiled hooks (KAN grid updates) change it
        return module

    def read():
        return nnx.split(module, nnx.Param, ...)[1:]

    evaluator = []  # compiled at the first evaluation

    def evaluate(params, rest):
        args = (params, rest, test_batch)
        if not evaluator:
            evaluator.append(
                compiled_program(_test_loss_fn(test_loss, graphdef), args, label="test-loss")
            )
        return evaluator[0](*args)

    history = History(np.zeros(0), np.zeros(0, dtype=int), np.zeros(0), 0.0, 0.0)
    out = _run(
        lambda n, in_chunk=(): make_train_chunk(
            loss,
            graphdef,
            optimizer,
            batch_size=batch_size,
            max_length=n,
            max_param_norm=max_param_norm,
            in_chunk=in_chunk,
        ),
        state,
        rest,
        batch,
        key,
        history=history,
        test=None if test_batch is None else lambda m: evaluate(*nnx.split(m, nnx.Param, ...)[1:]),
        hooks=hooks,
        sync=sync,
        read=read if hooks else None,
        steps=steps,
        chunk_size=chunk_size,
        progress=progress,
        stop_on_divergence=True,
        checkpointing=checkpointing,
    )
    bad = int(out.diverged_at)
    history.train_loss = out.train_loss if bad < 0 else out.train_loss[:bad]
    nnx.update(module, jax.device_get(out.state.params), jax.device_get(out.rest))
    return history, out, bad


def _check_norm(max_param_norm, where: str) -> None:
    if max_param_norm is not None and not (
        isinstance(max_param_norm, int | float) and max_param_norm > 0
    ):
        raise ConfigError(
            f"{where}: max_param_norm must be a positive number or None, got {max_param_norm!r}"
        )


def _diverged_message(step: int, last: float, bound, checkpoint) -> str:
    saved = f" (saved in {checkpoint})" if checkpoint is not None else ""
    return (
        f"training diverged at step {step}: the loss, a gradient or an update became "
        f"non-finite, or the parameters' norm exceeded {bound:g} (last finite loss "
        f"{last:.6g}); the model keeps the parameters of the last good step{saved}. Lower "
        "the learning rate or check the data."
        if bound is not None
        else f"training diverged at step {step}: the loss, a gradient or an update became "
        f"non-finite (last finite loss {last:.6g}); the model keeps the parameters of the "
        f"last good step{saved}. Lower the learning rate or check the data."
    )


def _checkpointing(
    checkpoint, every, resume, state, rest, key, batch, batch_size, chunk_size, members, where: str
):
    """The :class:`Checkpointing` of a fit call (None without ``checkpoint``/``resume``)."""
    from ._resume import load_training_state

    if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
        raise ConfigError(f"{where}: checkpoint_every must be a positive integer, got {every!r}")
    if every is not None and checkpoint is None:
        raise ConfigError(f"{where}: checkpoint_every needs checkpoint=PATH (a .npz file)")
    if checkpoint is None and resume is None:
        return None
    fingerprint = {
        "n_samples": n_samples(batch),
        "batch_size": batch_size,
        "chunk_size": chunk_size,
        "members": members,
    }
    restored = None
    if resume is not None:
        restored = load_training_state(
            resume, state=state, rest=rest, key=key, fingerprint=fingerprint
        )
    return Checkpointing(checkpoint, every, fingerprint, restored)


def _check_hooks(hooks, where: str) -> list:
    hooks = list(hooks or ())
    for hook in hooks:
        if not callable(hook):
            raise ConfigError(
                f"{where}: every hook must be callable as hook(step, model, history) (a "
                f"physnet.training.Hook or a function), got {hook!r}"
            )
    return hooks


def _run(make_chunk, state, rest, batch, key, *, history, test, hooks, progress, **options):
    """:func:`~physnet.training._loop.drive` with the test-loss and progress-bar hooks
    (before the user's ``hooks``); fills ``history``'s test losses and times."""
    internal: list = [] if test is None else [TestLoss(test)]
    bar = ProgressBar(options["steps"]) if _progress_enabled(progress) else None
    if bar is not None:
        internal.append(bar)
    try:
        out = drive(
            make_chunk,
            state,
            rest,
            batch,
            key,
            hooks=[*internal, *hooks],
            history=history,
            **options,
        )
    finally:
        if bar is not None:
            bar.close()
    history.train_seconds = out.train_seconds
    history.compile_seconds = out.compile_seconds
    history.checkpoint_seconds = out.checkpoint_seconds
    return out


@dataclasses.dataclass
class EnsembleHistory:
    """What happened during :func:`fit_ensemble`.

    Attributes:
        train_loss: ``(members, steps)``; NaN after a member diverged.
        test_steps: steps after which the test loss was evaluated.
        test_loss: ``(len(test_steps), members)``.
        diverged_at: ``(members,)``, the step whose loss was first non-finite, or -1. A
            diverged member keeps the parameters of its last finite step; the others go on.
        train_seconds, compile_seconds: as in :class:`History`, for all members together.
    """

    train_loss: np.ndarray
    test_steps: np.ndarray
    test_loss: np.ndarray
    diverged_at: np.ndarray
    train_seconds: float
    compile_seconds: float
    checkpoint_seconds: float = 0.0


def fit_ensemble(
    ensemble,
    data: Trajectories,
    *,
    steps: int,
    optimizer: optax.GradientTransformation | None = None,
    loss: AbstractLoss | str = "derivative",
    test_data: Trajectories | None = None,
    batch_size: int | None = None,
    key: Array | None = None,
    chunk_size: int = 100,
    progress: bool | None = None,
    mesh=None,
    mesh_axis: str = "data",
    member_batch_size: int | None = None,
    hooks: Sequence[Hook | Callable] = (),
    max_param_norm: float | None = DEFAULT_MAX_PARAM_NORM,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: str | os.PathLike | None = None,
) -> EnsembleHistory:
    """Train every member of a :class:`~physnet.models.Ensemble` in one compiled call.

    The training step of :func:`fit` is ``jax.vmap``-ed over the members' stacked parameters
    and optimizer states; the data are shared. Each member draws its own minibatches
    (``key`` is split per member). The ensemble is updated in place. Arguments as in
    :func:`fit`, and:

    Args:
        member_batch_size: how many members are vmapped together; the groups run one after
            another (``lax.map``) inside the same compiled call. Default (None): all members
            at once, best on a GPU, where 8 members cost about 2x one model. On a CPU with few
            cores, 1 is faster: the vmapped step's working set is N times larger and falls
            out of the cache, while one member at a time runs at the single model's speed
            (measured on 2 cores: about 8x one model for 8 members instead of about 11x;
            ``benchmarks/README.md``). The result is the same up to round-off.
        hooks: as in :func:`fit`, called with the :class:`~physnet.models.Ensemble`.
        max_param_norm, checkpoint, checkpoint_every, resume: as in :func:`fit` (a member
            exceeding the norm bound counts as diverged; the checkpoint holds every member).

    Raises:
        TrainingInterrupted: on Ctrl-C (SIGINT), as in :func:`fit`.
    """
    if member_batch_size is not None and (
        not isinstance(member_batch_size, int)
        or isinstance(member_batch_size, bool)
        or member_batch_size < 1
    ):
        raise ConfigError(
            "fit_ensemble: member_batch_size must be a positive integer or None, got "
            f"{member_batch_size!r}"
        )
    loss, optimizer, batch, test_batch, key = _prepare(
        loss, data, test_data, optimizer, steps, chunk_size, batch_size, key, "fit_ensemble"
    )
    members = len(ensemble)
    stacked = nnx.merge(ensemble.graphdef, ensemble.state)
    graphdef, params, rest = nnx.split(stacked, nnx.Param, ...)
    _check_norm(max_param_norm, "fit_ensemble")
    hooks = _check_hooks(hooks, "fit_ensemble")
    state = jax.vmap(lambda p: TrainState.create(p, optimizer))(params)
    keys = jax.random.split(key, members)
    ck = _checkpointing(
        checkpoint,
        checkpoint_every,
        resume,
        state,
        rest,
        keys,
        batch,
        batch_size,
        chunk_size,
        members,
        "fit_ensemble",
    )
    if ck is not None and ck.resume is not None:
        state, rest, keys = ck.resume.state, ck.resume.rest, ck.resume.key
    if mesh is not None:
        batch, (state, rest) = _shard(mesh, mesh_axis, batch, (state, rest))

    def sync(params, rest):
        _, ensemble.state = nnx.split(nnx.merge(graphdef, params, rest))
        return ensemble

    def make_chunk(n, in_chunk=()):
        chunk = make_train_chunk(
            loss,
            graphdef,
            optimizer,
            batch_size=batch_size,
            max_length=n,
            max_param_norm=max_param_norm,
            in_chunk=in_chunk,
        )
        return over_members(chunk, members, member_batch_size)

    def test(ens):
        _, p, r = nnx.split(nnx.merge(ens.graphdef, ens.state), nnx.Param, ...)
        return evaluate(p, r)

    evaluate = jax.jit(
        jax.vmap(lambda params, rest: loss(nnx.merge(graphdef, params, rest), test_batch))
    )
    history = EnsembleHistory(
        np.zeros((members, 0)),
        np.zeros(0, dtype=int),
        np.zeros((0, members)),
        -np.ones(members, int),
        0.0,
        0.0,
    )
    out = _run(
        make_chunk,
        state,
        rest,
        batch,
        keys,
        history=history,
        test=None if test_batch is None else test,
        hooks=hooks,
        sync=sync,
        steps=steps,
        chunk_size=chunk_size,
        progress=progress,
        stop_on_divergence=False,
        checkpointing=ck,
    )
    sync(jax.device_get(out.state.params), out.rest)
    if out.interrupted is not None:
        raise TrainingInterrupted(out.interrupted, checkpoint)
    history.train_loss = out.train_loss.reshape(members, -1)
    history.diverged_at = np.broadcast_to(np.asarray(out.diverged_at), (members,)).copy()
    history.test_loss = np.asarray(history.test_loss, dtype=float).reshape(-1, members)
    return history
