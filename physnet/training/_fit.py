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

    Returns:
        :class:`History` of train and test losses.

    Raises:
        TrainingDivergedError: if the loss or a gradient becomes non-finite; the model then
            holds the parameters of the last step with a finite loss, and the error carries the
            step number and the history so far.
        ConfigError: on invalid options.
    """
    if not isinstance(steps, int | np.integer) or steps < 0:
        raise ConfigError(f"fit: steps must be a non-negative integer, got {steps!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"fit: chunk_size must be a positive integer, got {chunk_size!r}")
    loss = get_loss(loss)
    optimizer = optax.adam(1e-3) if optimizer is None else optimizer
    batch = loss.prepare(data)
    n = _n_samples(batch)
    if batch_size is not None:
        if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
            raise ConfigError(f"fit: batch_size must be an integer in [1, {n}], got {batch_size!r}")
        if key is None:
            raise ConfigError("fit: minibatch training needs an explicit PRNG key (key=...)")
    key = jax.random.key(0) if key is None else key
    test_batch = loss.prepare(test_data, clean=False) if test_data is not None else None

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt_state = optimizer.init(params)
    chunk_fn = jax.jit(make_train_chunk(loss, graphdef, optimizer, batch_size=batch_size))

    @jax.jit
    def eval_fn(params, rest, batch):
        return loss(nnx.merge(graphdef, params, rest), batch)

    n_chunks = max(1, math.ceil(steps / chunk_size))
    length = math.ceil(steps / n_chunks) if steps else 0
    stopped = jnp.asarray(False)
    prev_params = params
    train_losses: list[np.ndarray] = []
    test_steps: list[int] = []
    test_losses: list[float] = []
    compile_seconds = 0.0
    train_seconds = 0.0

    def record_test(step, params):
        if test_batch is not None:
            test_steps.append(step)
            test_losses.append(float(eval_fn(params, rest, test_batch)))

    def history():
        tl = np.concatenate(train_losses) if train_losses else np.zeros(0)
        return History(
            train_loss=tl,
            test_steps=np.asarray(test_steps, dtype=int),
            test_loss=np.asarray(test_losses, dtype=float),
            train_seconds=train_seconds,
            compile_seconds=compile_seconds,
        )

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
            key,
        )
        t0 = time.perf_counter()
        compiled = chunk_fn.lower(*args).compile()
        compile_seconds = time.perf_counter() - t0

    from tqdm.auto import tqdm

    bar = tqdm(total=steps, disable=not _progress_enabled(progress), unit="step", leave=False)
    try:
        done = 0
        for _ in range(n_chunks if steps else 0):
            step_ids = jnp.arange(done, done + length)
            t0 = time.perf_counter()
            (params, opt_state, prev_params, stopped), losses, diverged = compiled(
                params, rest, opt_state, prev_params, stopped, step_ids, steps, batch, key
            )
            losses = np.asarray(losses)
            train_seconds += time.perf_counter() - t0
            n_run = min(length, steps - done)
            losses = losses[:n_run]
            train_losses.append(losses)
            if bool(stopped):
                bad = int(np.flatnonzero(np.asarray(diverged))[0])
                all_losses = np.concatenate(train_losses)
                finite = all_losses[np.isfinite(all_losses)]
                last = float(finite[-1]) if finite.size else float("nan")
                train_losses[-1] = losses[:bad]
                nnx.update(model, params)
                raise TrainingDivergedError(done + bad, last, history())
            done += n_run
            record_test(done, params)
            bar.update(n_run)
            postfix = {"loss": f"{losses[-1]:.3e}"}
            if test_losses:
                postfix["test"] = f"{test_losses[-1]:.3e}"
            bar.set_postfix(postfix)
    finally:
        bar.close()
    nnx.update(model, params)
    return history()
