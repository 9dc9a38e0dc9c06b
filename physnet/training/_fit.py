"""fit and fit_ensemble: train physnet models on trajectories with the loop of ``_loop``.

:func:`fit` and :func:`fit_ensemble` take a :class:`~physnet.training.FitConfig` (what to
train with) and a :class:`~physnet.training.Runtime` (how to run), or the same options as
keywords (the keyword wrapper for the common case).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence

import jax
import numpy as np
from flax import nnx
from jax import Array

from .._checks import integer
from .._errors import ConfigError, TrainingDivergedError, TrainingInterrupted
from ..data import Trajectories
from ._auto import say
from ._config import DEFAULT_MAX_PARAM_NORM as DEFAULT_MAX_PARAM_NORM
from ._config import FitConfig, Runtime
from ._distributed import put, to_host
from ._hooks import Hook, ProgressBar, TestLoss
from ._inputs import check_fit_inputs
from ._loop import (
    Checkpointing,
    ChunkSpec,
    Host,
    TrainState,
    drive,
    loss_evaluator,
    n_samples,
)

#: marks a keyword of the wrapper that was not given
_UNSET = object()


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


def _shard(runtime: Runtime, batch, replicated, members=None):
    """Place ``batch`` sharded over its sample axis and ``replicated`` on every device of the
    runtime's mesh; with ``runtime.shard_members``, ``replicated`` (stacked over the
    ``members``) is sharded over its member axis instead and ``batch`` replicated."""
    from jax.sharding import NamedSharding, PartitionSpec

    mesh, axis = runtime.mesh, runtime.mesh_axis
    devices = mesh.shape[axis]
    n = members if runtime.shard_members else n_samples(batch)
    what = "ensemble members" if runtime.shard_members else "samples"
    if n % devices:
        raise ConfigError(
            f"data-parallel training: {n} {what} do not divide evenly over the {devices} "
            f"devices of mesh axis {axis!r}; drop or add {what} so they do"
        )
    split, whole = NamedSharding(mesh, PartitionSpec(axis)), NamedSharding(mesh, PartitionSpec())
    if runtime.shard_members:
        return put(batch, whole), put(replicated, split)
    return put(batch, split), put(replicated, whole)


def _global_data(runtime: Runtime, batch, test_batch):
    """With ``runtime.local_data``: the global batch of the processes' shares; the test batch
    replicated on the mesh when it spans processes."""
    if runtime.mesh is None:
        if runtime.local_data or runtime.shard_members:
            raise ConfigError("local_data and shard_members need a mesh (mesh=...)")
        return batch, test_batch
    from jax.sharding import NamedSharding, PartitionSpec

    from ._distributed import global_samples, spans_processes

    if runtime.local_data:
        batch = global_samples(runtime.mesh, runtime.mesh_axis, batch)
    if test_batch is not None and spans_processes(runtime.mesh):
        test_batch = put(test_batch, NamedSharding(runtime.mesh, PartitionSpec()))
    return batch, test_batch


def _config(config, where: str, options: dict) -> FitConfig:
    """``config`` (or a new one) with the keyword options that were given."""
    given = {k: v for k, v in options.items() if v is not _UNSET}
    try:
        if config is None:
            if "steps" not in given:
                raise ConfigError("pass steps=N (or a FitConfig)")
            return FitConfig(**given)
        if not isinstance(config, FitConfig):
            raise ConfigError(f"config must be a physnet.training.FitConfig, got {config!r}")
        return config.replace(**given) if given else config
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def _runtime(runtime, where: str, **options) -> Runtime:
    try:
        if runtime is None:
            return Runtime(**options)
        if not isinstance(runtime, Runtime):
            raise ConfigError(f"runtime must be a physnet.training.Runtime, got {runtime!r}")
        changed = {k: v for k, v in options.items() if v != getattr(Runtime(), k)}
        return dataclasses.replace(runtime, **changed) if changed else runtime
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def _config_and_runtime(where: str, given: dict) -> tuple[FitConfig, Runtime]:
    """The :class:`FitConfig` and :class:`Runtime` of a keyword wrapper's arguments
    (``given``: its ``locals()``): ``config``/``runtime`` with the given fields replaced."""
    fields = [f.name for f in dataclasses.fields(FitConfig)]
    config = _config(given["config"], where, {k: given[k] for k in fields})
    names = [f.name for f in dataclasses.fields(Runtime) if f.name in given]
    runtime = _runtime(given["runtime"], where, **{k: given[k] for k in names})
    return config, runtime


def _resolve_loss(config: FitConfig, data, where: str, progress) -> FitConfig:
    """``config`` with loss ``"auto"`` resolved for ``data``; says which (one line on
    stderr) unless ``progress`` is False."""
    config, choice, why = config.resolve_loss(data)
    if choice is not None and progress is not False:
        say(where, choice, why, "pass loss=NAME to choose another")
    return config


def _prepare(config: FitConfig, data, test_data, key, where: str, runtime: Runtime):
    """The loss's sample arrays of ``data`` and ``test_data`` (global arrays over the
    processes' shares with ``runtime.local_data``) and the PRNG key."""
    batch = config.loss.prepare(data)
    test_batch = config.loss.prepare(test_data) if test_data is not None else None
    batch, test_batch = _global_data(runtime, batch, test_batch)
    n = n_samples(batch)
    if config.batch_size is not None:
        integer(where, "batch_size", config.batch_size, low=1, high=n)
        if key is None:
            raise ConfigError(f"{where}: minibatch training needs an explicit PRNG key (key=...)")
    key = jax.random.key(0) if key is None else key
    return batch, test_batch, key


def fit(
    model,
    data: Trajectories,
    config: FitConfig | None = None,
    *,
    steps: int = _UNSET,
    optimizer=_UNSET,
    loss=_UNSET,
    test_data: Trajectories | None = None,
    batch_size: int | None = _UNSET,
    key: Array | None = None,
    chunk_size: int = _UNSET,
    hooks: Sequence[Hook | Callable] = _UNSET,
    max_param_norm: float | None = _UNSET,
    runtime: Runtime | None = None,
    progress: bool | None = None,
    mesh=None,
    mesh_axis: str = "data",
    checkpoint=None,
    checkpoint_every: int | None = None,
    resume=None,
) -> History:
    """Train ``model`` in place on ``data``.

    ``pn.fit(model, data, config)`` with a :class:`~physnet.training.FitConfig`, or the same
    options as keywords (``pn.fit(model, data, steps=1000)``: the defaults, loss ``"auto"``
    and the ``"fast"`` recipe; ``optimizer="source"`` for the source's Adam(1e-3)); keywords
    given with a config replace its fields. Optimizer steps run in compiled chunks of at most
    ``chunk_size`` steps (one loop each, on a :class:`~physnet.training.TrainState`); between
    chunks Python runs the hooks: test loss, progress bar, then ``hooks``. The loss is full
    batch unless ``batch_size`` is given. Only ``nnx.Param`` variables are trained. Any optax
    optimizer works, line searches and ``optax.lbfgs`` included: each step passes ``value``,
    ``grad`` and ``value_fn`` (the loss on the step's batch) to ``optimizer.update``.

    The chunk is one module-level ``jax.jit`` keyed by the model's graph definition, the
    config's loss and optimizer and the argument shapes: a second fit with an equal model
    structure and config (a loop over seeds) runs the program compiled for the first. Losses
    and optimizer specs are compared by value; a loss or optax optimizer object of your own by
    identity (JAX's rule for static arguments): build it once, outside the loop, to share it.

    Args:
        model: a physnet model (an ``nnx.Module``), updated in place.
        data: training trajectories.
        config: the :class:`~physnet.training.FitConfig` (its fields: ``steps``, ``loss``
            (default ``"auto"``: the derivative loss when ``data`` have derivatives, the
            trajectory loss when they have states only; the choice is printed as one line on
            stderr unless ``progress=False``), ``optimizer`` (default: the ``"fast"`` recipe,
            Adam then L-BFGS, full batch; ``"source"`` is the source's ``Adam(1e-3)``; an
            optimizer spec or an optax optimizer), ``batch_size`` (needs an optimizer that
            takes minibatches, e.g. ``optimizer="source"``), ``chunk_size`` (default 100),
            ``max_param_norm`` (default 1e6), ``hooks``), all also accepted as keywords.
        test_data: evaluated after every chunk when given.
        key: PRNG key for minibatch sampling (required with ``batch_size``).
        runtime: a :class:`~physnet.training.Runtime` (progress bar, mesh, checkpoints), or
            its fields as keywords: ``progress`` (default: when stderr is a terminal),
            ``mesh``/``mesh_axis`` (data-parallel training: samples sharded over the axis,
            parameters replicated, XLA inserts the all-reduce; results equal single-device
            training to round-off; a mesh over several processes, ``global_mesh``, with
            ``local_data`` or, for ensembles, ``shard_members``: docs/how-to/scale-out.md),
            ``checkpoint`` (a ``.npz`` training checkpoint, saved
            every ``checkpoint_every`` steps, at the end, on divergence and on Ctrl-C) and
            ``resume`` (a training checkpoint to continue from: the model is built as for the
            first run, and the parameters, optimizer state, step, keys and losses are read from
            the file; the result equals the uninterrupted run's to the bit).

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
    config, runtime = _config_and_runtime("fit", locals())
    check_fit_inputs("fit", model, data, test_data, loss=config.loss)
    return _fit_model(model, data, config, test_data=test_data, key=key, runtime=runtime)


def _fit_model(model, data, config: FitConfig, *, test_data, key, runtime: Runtime) -> History:
    """:func:`fit` on a validated config and runtime."""
    config = _resolve_loss(config, data, "fit", runtime.progress)
    batch, test_batch, key = _prepare(config, data, test_data, key, "fit", runtime)
    _, params, rest = nnx.split(model, nnx.Param, ...)
    state = TrainState.create(params, config.resolved_optimizer())
    ck = _checkpointing(runtime, config, state, rest, key, batch, None)
    if ck is not None and ck.resume is not None:
        state, rest, key = ck.resume.state, ck.resume.rest, ck.resume.key
        nnx.update(model, state.params, rest)
    if runtime.shard_members:
        raise ConfigError("fit: shard_members is for fit_ensemble (one model has no members)")
    if runtime.mesh is not None:
        batch, (state, rest) = _shard(runtime, batch, (state, rest))
    history, out, bad = train_module(
        model,
        state,
        batch,
        key,
        config,
        test=None if test_batch is None else (config.loss, test_batch),
        progress=runtime.progress,
        checkpointing=ck,
    )
    if bad >= 0:
        last = float(out.last_finite)
        raise TrainingDivergedError(
            bad, last, history, bound=config.max_param_norm, saved=runtime.checkpoint
        )
    if out.interrupted is not None:
        raise TrainingInterrupted(out.interrupted, runtime.checkpoint)
    return history


def train_module(
    module, state: TrainState, batch, key, config: FitConfig, *, test, progress, checkpointing
):
    """The single-module body of :func:`fit` and :func:`~physnet.training.fit_function`: run
    :func:`~physnet.training._loop.drive` on ``module`` (updated in place with the final
    parameters; ``state`` its trained parameters and optimizer state) and return ``(history,
    outcome, diverged_at)``. ``test`` is ``(loss, batch)``, evaluated between chunks, or
    None."""
    graphdef, _, rest = nnx.split(module, nnx.Param, ...)
    if checkpointing is not None and checkpointing.resume is not None:
        rest = checkpointing.resume.rest

    def sync(params, rest):
        nnx.update(module, params, rest)  # rest: compiled hooks (KAN grid updates) change it
        return module

    def read():
        return nnx.split(module, nnx.Param, ...)[1:]

    if test is not None:  # bound once: the hash of the graph and loss is taken here
        test_loss = loss_evaluator(graphdef=graphdef, loss=test[0])

    def evaluate(model):
        _, params, rest = nnx.split(model, nnx.Param, ...)
        return test_loss(params, rest, test[1])

    history = History(np.zeros(0), np.zeros(0, dtype=int), np.zeros(0), 0.0, 0.0)
    spec = ChunkSpec(
        graphdef,
        config.loss,
        config.resolved_optimizer(),
        config.batch_size,
        config.chunk_size,
        config.max_param_norm,
    )
    out = _run(
        spec,
        state,
        rest,
        batch,
        key,
        config=config,
        host=Host(history=history, sync=sync, read=read if config.hooks else None),
        test=None if test is None else evaluate,
        progress=progress,
        checkpointing=checkpointing,
    )
    bad = int(out.diverged_at)
    history.train_loss = out.train_loss if bad < 0 else out.train_loss[:bad]
    nnx.update(module, *to_host((out.state.params, out.rest)))
    return history, out, bad


def _checkpointing(runtime: Runtime, config: FitConfig, state, rest, key, batch, members):
    """The :class:`Checkpointing` of a fit call (None without ``checkpoint``/``resume``)."""
    from ._resume import load_training_state

    if runtime.checkpoint is None and runtime.resume is None:
        return None
    fingerprint = {
        "n_samples": n_samples(batch),
        "batch_size": config.batch_size,
        "chunk_size": config.chunk_size,
        "members": members,
    }
    restored = None
    if runtime.resume is not None:
        restored = load_training_state(
            runtime.resume, state=state, rest=rest, key=key, fingerprint=fingerprint
        )
    return Checkpointing(runtime.checkpoint, runtime.checkpoint_every, fingerprint, restored)


def _run(spec, state, rest, batch, key, *, config, host, test, progress, checkpointing):
    """:func:`~physnet.training._loop.drive` with the test-loss and progress-bar hooks
    (before the config's hooks); fills the history's test losses and times."""
    internal: list = [] if test is None else [TestLoss(test)]
    bar = ProgressBar(config.steps) if _progress_enabled(progress) else None
    if bar is not None:
        internal.append(bar)
    host.hooks = [*internal, *config.hooks]
    try:
        out = drive(
            spec,
            state,
            rest,
            batch,
            key,
            config=config,
            host=host,
            checkpointing=checkpointing,
        )
    finally:
        if bar is not None:
            bar.close()
    history = host.history
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
    config: FitConfig | None = None,
    *,
    steps: int = _UNSET,
    optimizer=_UNSET,
    loss=_UNSET,
    test_data: Trajectories | None = None,
    batch_size: int | None = _UNSET,
    key: Array | None = None,
    chunk_size: int = _UNSET,
    hooks: Sequence[Hook | Callable] = _UNSET,
    max_param_norm: float | None = _UNSET,
    runtime: Runtime | None = None,
    progress: bool | None = None,
    mesh=None,
    mesh_axis: str = "data",
    member_batch_size: int | None = None,
    checkpoint=None,
    checkpoint_every: int | None = None,
    resume=None,
) -> EnsembleHistory:
    """Train every member of a :class:`~physnet.models.Ensemble` in one compiled call.

    The training step of :func:`fit` is ``jax.vmap``-ed over the members' stacked parameters
    and optimizer states; the data are shared. Each member draws its own minibatches
    (``key`` is split per member). The ensemble is updated in place. Arguments as in
    :func:`fit` (a :class:`~physnet.training.FitConfig` or its fields as keywords, a
    :class:`~physnet.training.Runtime` or its fields), and:

    Args:
        member_batch_size: (a :class:`~physnet.training.Runtime` field) how many members are
            vmapped together; the groups run one after another (``lax.map``) inside the same
            compiled call. Default (None): all members at once, best on a GPU, where 8
            members cost about 2x one model. On a CPU with few cores, 1 is faster: the
            vmapped step's working set is N times larger and falls out of the cache, while
            one member at a time runs at the single model's speed (measured on 2 cores: about
            8x one model for 8 members instead of about 11x; ``benchmarks/README.md``). The
            result is the same up to round-off.
        hooks: as in :func:`fit`, called with the :class:`~physnet.models.Ensemble`.
        max_param_norm, checkpoint, checkpoint_every, resume: as in :func:`fit` (a member
            exceeding the norm bound counts as diverged; the checkpoint holds every member).

    Raises:
        TrainingInterrupted: on Ctrl-C (SIGINT), as in :func:`fit`.
    """
    config, runtime = _config_and_runtime("fit_ensemble", locals())
    check_fit_inputs("fit_ensemble", ensemble, data, test_data, loss=config.loss, ensemble=True)
    return _fit_members(ensemble, data, config, test_data=test_data, key=key, runtime=runtime)


def _fit_members(ensemble, data, config, *, test_data, key, runtime) -> EnsembleHistory:
    """:func:`fit_ensemble` on a validated config and runtime."""
    config = _resolve_loss(config, data, "fit_ensemble", runtime.progress)
    batch, test_batch, key = _prepare(config, data, test_data, key, "fit_ensemble", runtime)
    members = len(ensemble)
    stacked = nnx.merge(ensemble.graphdef, ensemble.state)
    graphdef, params, rest = nnx.split(stacked, nnx.Param, ...)
    optimizer = config.resolved_optimizer()
    state = jax.vmap(lambda p: TrainState.create(p, optimizer))(params)
    keys = jax.random.split(key, members)
    ck = _checkpointing(runtime, config, state, rest, keys, batch, members)
    if ck is not None and ck.resume is not None:
        state, rest, keys = ck.resume.state, ck.resume.rest, ck.resume.key
    if runtime.mesh is not None:
        batch, (state, rest, keys) = _shard(runtime, batch, (state, rest, keys), members)

    def sync(params, rest):
        _, ensemble.state = nnx.split(nnx.merge(graphdef, params, rest))
        return ensemble

    test_loss = loss_evaluator(graphdef=graphdef, loss=config.loss, members=True)

    def test(ens):
        _, p, r = nnx.split(nnx.merge(ens.graphdef, ens.state), nnx.Param, ...)
        return to_host(test_loss(p, r, test_batch))

    history = EnsembleHistory(
        np.zeros((members, 0)),
        np.zeros(0, dtype=int),
        np.zeros((0, members)),
        -np.ones(members, int),
        0.0,
        0.0,
    )
    spec = ChunkSpec(
        graphdef,
        config.loss,
        optimizer,
        config.batch_size,
        config.chunk_size,
        config.max_param_norm,
        members=members,
        member_batch_size=runtime.member_batch_size,
    )
    out = _run(
        spec,
        state,
        rest,
        batch,
        keys,
        config=config,
        host=Host(history=history, sync=sync, stop_on_divergence=False),
        test=None if test_batch is None else test,
        progress=runtime.progress,
        checkpointing=ck,
    )
    sync(*to_host((out.state.params, out.rest)))
    if out.interrupted is not None:
        raise TrainingInterrupted(out.interrupted, runtime.checkpoint)
    history.train_loss = out.train_loss.reshape(members, -1)
    history.diverged_at = np.broadcast_to(np.asarray(out.diverged_at), (members,)).copy()
    history.test_loss = np.asarray(history.test_loss, dtype=float).reshape(-1, members)
    return history
