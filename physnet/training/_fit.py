"""The training loop: many optimizer steps per compiled call."""

from __future__ import annotations

import dataclasses
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax import Array

from .._errors import ConfigError, TrainingDivergedError
from ..data import Trajectories
from ._losses import AbstractLoss, get_loss


@dataclasses.dataclass
class History:
    """What happened during :func:`fit`.

    Attributes:
        train_loss: training loss at every step (before that step's update), shape ``(steps,)``.
        test_steps: steps after which the test loss was evaluated.
        test_loss: test loss at ``test_steps``.
        train_seconds: wall time of the optimizer steps, compilation excluded.
        compile_seconds: time to compile the training chunk.
    """

    train_loss: np.ndarray
    test_steps: np.ndarray
    test_loss: np.ndarray
    train_seconds: float
    compile_seconds: float

    @property
    def steps(self) -> int:
        return int(self.train_loss.shape[0])

    def final_train_loss(self) -> float:
        return float(self.train_loss[-1]) if self.steps else float("nan")

    def final_test_loss(self) -> float:
        return float(self.test_loss[-1]) if self.test_loss.size else float("nan")


def _all_finite(tree) -> Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _select(pred, a, b):
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)


def _n_samples(batch) -> int:
    sizes = {int(x.shape[0]) for x in jax.tree.leaves(batch)}
    if len(sizes) != 1:
        raise ConfigError(f"loss batch arrays disagree on the number of samples: {sorted(sizes)}")
    return sizes.pop()


def make_train_chunk(loss: AbstractLoss, graphdef, optimizer, *, batch_size: int | None):
    """A jittable function that runs a chunk of optimizer steps with ``lax.scan``.

    The returned ``chunk(params, rest, opt_state, prev_params, stopped, steps, n_active, batch,
    key)`` runs ``len(steps)`` steps; steps with index >= ``n_active`` or after a non-finite loss
    leave the state unchanged. It returns the new carry, the per-step losses (NaN where
    nothing ran) and a per-step flag marking the step whose loss or gradient was non-finite. ``prev_params`` are the parameters of the last step whose loss was finite.
    """

    def loss_fn(params, rest, batch):
        return loss(nnx.merge(graphdef, params, rest), batch)

    grad_fn = jax.value_and_grad(loss_fn)

    def chunk(params, rest, opt_state, prev_params, stopped, steps, n_active, batch, key):
        n = _n_samples(batch)

        def one_step(carry, step):
            params, opt_state, prev_params, stopped = carry
            if batch_size is None:
                sub = batch
            else:
                idx = jax.random.choice(
                    jax.random.fold_in(key, step), n, (batch_size,), replace=False
                )
                sub = jax.tree.map(lambda x: x[idx], batch)
            value, grads = grad_fn(params, rest, sub)
            active = (~stopped) & (step < n_active)
            finite = jnp.isfinite(value) & _all_finite(grads)
            updates, new_opt_state = optimizer.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            ok = active & finite
            diverged = active & ~finite
            params_out = _select(ok, new_params, _select(diverged, prev_params, params))
            opt_out = _select(ok, new_opt_state, opt_state)
            prev_out = _select(ok, params, prev_params)
            recorded = jnp.where(active, value, jnp.nan)
            return (params_out, opt_out, prev_out, stopped | diverged), (recorded, diverged)

        carry, (losses, diverged) = jax.lax.scan(
            one_step, (params, opt_state, prev_params, stopped), steps
        )
        return carry, losses, diverged

    return chunk


def _progress_enabled(progress: bool | None) -> bool:
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


def _shard(mesh, axis: str, batch, replicated):
    """Place ``batch`` sharded over its sample axis and ``replicated`` on every device."""
    from jax.sharding import NamedSharding, PartitionSpec

    n = _n_samples(batch)
    devices = mesh.shape[axis]
    if n % devices:
        raise ConfigError(
            f"data-parallel training: {n} samples do not divide evenly over the {devices} "
            f"devices of mesh axis {axis!r}; drop or add samples so they do"
        )
    batch = jax.device_put(batch, NamedSharding(mesh, PartitionSpec(axis)))
    replicated = jax.device_put(replicated, NamedSharding(mesh, PartitionSpec()))
    return batch, replicated


def _median_text(values) -> str:
    """Median of the finite values (over ensemble members), for the progress bar."""
    values = np.asarray(values)
    finite = values[np.isfinite(values)]
    return f"{np.median(finite):.3e}" if finite.size else "nan"


@dataclasses.dataclass
class _Outcome:
    params: object
    train_loss: np.ndarray  # (steps,) or (members, steps), NaN after a member diverged
    diverged_at: np.ndarray  # () or (members,), -1 where training finished
    last_finite: np.ndarray  # last finite loss, same shape as diverged_at
    test_steps: list
    test_loss: list
    train_seconds: float
    compile_seconds: float


def _train(
    graphdef,
    params,
    rest,
    *,
    loss: AbstractLoss,
    optimizer,
    batch,
    test_batch,
    steps: int,
    chunk_size: int,
    batch_size: int | None,
    key,
    progress: bool | None,
    members: int | None,
    mesh,
    mesh_axis: str,
    stop_on_divergence: bool,
    member_batch_size: int | None = None,
) -> _Outcome:
    """The shared chunked loop of :func:`fit` and :func:`fit_ensemble`."""
    chunk = make_train_chunk(loss, graphdef, optimizer, batch_size=batch_size)

    def evaluate(params, rest, batch):
        return loss(nnx.merge(graphdef, params, rest), batch)

    init = optimizer.init
    if members is not None:  # stacked members: vmap over the carry, share the data
        chunk = _over_members(chunk, members, member_batch_size)
        evaluate = jax.vmap(evaluate, in_axes=(0, 0, None))
        init = jax.vmap(init)
        keys = jax.random.split(key, members)
        stopped = jnp.zeros((members,), dtype=bool)
    else:
        keys = key
        stopped = jnp.asarray(False)
    opt_state = init(params)
    if mesh is not None:
        batch, (params, rest, opt_state) = _shard(mesh, mesh_axis, batch, (params, rest, opt_state))
    chunk = jax.jit(chunk)
    evaluate = jax.jit(evaluate)

    n_chunks = max(1, math.ceil(steps / chunk_size))
    length = math.ceil(steps / n_chunks) if steps else 0
    prev_params = params
    losses_seen: list[np.ndarray] = []
    diverged_seen: list[np.ndarray] = []
    out = _Outcome(None, np.zeros(0), np.asarray(-1), np.asarray(np.nan), [], [], 0.0, 0.0)
    if steps:
        args = (
            params,
            rest,
            opt_state,
            prev_params,
            stopped,
            jnp.arange(length),
            steps,
            batch,
            keys,
        )
        t0 = time.perf_counter()
        compiled = chunk.lower(*args).compile()
        out.compile_seconds = time.perf_counter() - t0

    from tqdm.auto import tqdm

    bar = tqdm(total=steps, disable=not _progress_enabled(progress), unit="step", leave=False)
    try:
        done = 0
        for _ in range(n_chunks if steps else 0):
            t0 = time.perf_counter()
            (params, opt_state, prev_params, stopped), losses, diverged = compiled(
                params,
                rest,
                opt_state,
                prev_params,
                stopped,
                jnp.arange(done, done + length),
                steps,
                batch,
                keys,
            )
            losses = np.asarray(losses)
            out.train_seconds += time.perf_counter() - t0
            n_run = min(length, steps - done)
            losses_seen.append(losses[..., :n_run])
            diverged_seen.append(np.asarray(diverged)[..., :n_run])
            done += n_run
            if stop_on_divergence and bool(np.any(stopped)):
                break
            if test_batch is not None:
                out.test_steps.append(done)
                out.test_loss.append(np.asarray(evaluate(params, rest, test_batch)))
            bar.update(n_run)
            postfix = {"loss": _median_text(losses[..., n_run - 1])}
            if out.test_loss:
                postfix["test"] = _median_text(out.test_loss[-1])
            bar.set_postfix(postfix)
    finally:
        bar.close()
    out.params = params
    if losses_seen:
        out.train_loss = np.concatenate(losses_seen, axis=-1)
        div = np.concatenate(diverged_seen, axis=-1)
        out.diverged_at = np.where(div.any(-1), div.argmax(-1), -1)
        finite = np.where(np.isfinite(out.train_loss), out.train_loss, np.nan)
        idx = np.where(out.diverged_at >= 0, out.diverged_at, finite.shape[-1])
        out.last_finite = np.asarray(
            [
                row[:i][np.isfinite(row[:i])][-1] if np.isfinite(row[:i]).any() else np.nan
                for row, i in zip(np.atleast_2d(finite), np.atleast_1d(idx), strict=True)
            ]
        ).reshape(out.diverged_at.shape)
    return out


def _over_members(chunk, members: int, member_batch_size: int | None):
    """``chunk`` over stacked members: all vmapped at once (``member_batch_size`` None or >=
    ``members``), or ``lax.map`` over groups of ``member_batch_size`` vmapped members."""
    vmapped = jax.vmap(chunk, in_axes=(0, 0, 0, 0, 0, None, None, None, 0))
    if member_batch_size is None or member_batch_size >= members:
        return vmapped

    def mapped(params, rest, opt_state, prev_params, stopped, steps, n_active, batch, keys):
        def one(xs):
            p, r, o, pp, st, k = xs
            return chunk(p, r, o, pp, st, steps, n_active, batch, k)

        xs = (params, rest, opt_state, prev_params, stopped, keys)
        return jax.lax.map(
            one, xs, batch_size=None if member_batch_size == 1 else member_batch_size
        )

    return mapped


def _prepare(loss, data, test_data, optimizer, steps, chunk_size, batch_size, key, where):
    if not isinstance(steps, int | np.integer) or steps < 0:
        raise ConfigError(f"{where}: steps must be a non-negative integer, got {steps!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"{where}: chunk_size must be a positive integer, got {chunk_size!r}")
    loss = get_loss(loss)
    optimizer = optax.adam(1e-3) if optimizer is None else optimizer
    batch = loss.prepare(data)
    n = _n_samples(batch)
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
) -> History:
    """Train ``model`` in place on ``data``.

    Optimizer steps run in compiled chunks of ``chunk_size`` steps (one ``lax.scan`` each);
    between chunks Python updates the progress bar and evaluates the test loss. The loss is
    full batch unless ``batch_size`` is given. Only ``nnx.Param`` variables are trained.

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

    Returns:
        :class:`History` of train and test losses.

    Raises:
        TrainingDivergedError: if the loss or a gradient becomes non-finite; the model then
            holds the parameters of the last step with a finite loss, and the error carries the
            step number and the history so far.
        ConfigError: on invalid options.
    """
    loss, optimizer, batch, test_batch, key = _prepare(
        loss, data, test_data, optimizer, steps, chunk_size, batch_size, key, "fit"
    )
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    out = _train(
        graphdef,
        params,
        rest,
        loss=loss,
        optimizer=optimizer,
        batch=batch,
        test_batch=test_batch,
        steps=steps,
        chunk_size=chunk_size,
        batch_size=batch_size,
        key=key,
        progress=progress,
        members=None,
        mesh=mesh,
        mesh_axis=mesh_axis,
        stop_on_divergence=True,
    )
    bad = int(out.diverged_at)
    train_loss = out.train_loss if bad < 0 else out.train_loss[:bad]
    history = History(
        train_loss=train_loss,
        test_steps=np.asarray(out.test_steps, dtype=int),
        test_loss=np.asarray(out.test_loss, dtype=float),
        train_seconds=out.train_seconds,
        compile_seconds=out.compile_seconds,
    )
    nnx.update(model, jax.device_get(out.params))
    if bad >= 0:
        raise TrainingDivergedError(bad, float(out.last_finite), history)
    return history


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
    stacked = nnx.merge(ensemble.graphdef, ensemble.state)
    graphdef, params, rest = nnx.split(stacked, nnx.Param, ...)
    out = _train(
        graphdef,
        params,
        rest,
        loss=loss,
        optimizer=optimizer,
        batch=batch,
        test_batch=test_batch,
        steps=steps,
        chunk_size=chunk_size,
        batch_size=batch_size,
        key=key,
        progress=progress,
        members=len(ensemble),
        mesh=mesh,
        mesh_axis=mesh_axis,
        stop_on_divergence=False,
        member_batch_size=member_batch_size,
    )
    _, ensemble.state = nnx.split(nnx.merge(graphdef, jax.device_get(out.params), rest))
    return EnsembleHistory(
        train_loss=out.train_loss,
        test_steps=np.asarray(out.test_steps, dtype=int),
        test_loss=np.asarray(out.test_loss, dtype=float).reshape(-1, len(ensemble)),
        diverged_at=np.asarray(out.diverged_at),
        train_seconds=out.train_seconds,
        compile_seconds=out.compile_seconds,
    )
