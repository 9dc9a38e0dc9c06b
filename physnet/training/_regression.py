"""Plain regression of an approximator on (x, y) samples: a compiled optax loop."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax import Array

from .._errors import ConfigError, DataError, TrainingDivergedError
from ._fit import History, make_train_chunk


class MSELoss:
    """Mean over samples and outputs of (f(x) - y)² for an approximator f on ``{"x", "y"}``."""

    name = "mse"

    def __call__(self, approximator, batch) -> Array:
        pred = jax.vmap(approximator)(batch["x"])
        return jnp.mean((pred - batch["y"]) ** 2)


class RegularizedLoss:
    """``loss(f, batch) + regularization(f, batch)``: a data loss plus a penalty term."""

    name = "regularized"

    def __init__(self, loss, regularization):
        self.loss = loss
        self.regularization = regularization

    def __call__(self, approximator, batch) -> Array:
        return self.loss(approximator, batch) + self.regularization(approximator, batch)


def _check_xy(approximator, x, y, name: str) -> tuple[Array, Array]:
    x, y = jnp.asarray(x), jnp.asarray(y)
    n_in, n_out = approximator.in_features, approximator.out_features
    if x.ndim != 2 or x.shape[1] != n_in:
        raise DataError(f"fit_function: {name} inputs must have shape (n, {n_in}), got {x.shape}")
    if y.ndim != 2 or y.shape != (x.shape[0], n_out):
        raise DataError(
            f"fit_function: {name} targets must have shape ({x.shape[0]}, {n_out}), got {y.shape}"
        )
    if not (bool(jnp.all(jnp.isfinite(x))) and bool(jnp.all(jnp.isfinite(y)))):
        raise DataError(f"fit_function: {name} data contain NaN or infinity")
    return x, y


def fit_function(
    approximator,
    x: Array,
    y: Array,
    *,
    steps: int,
    optimizer: optax.GradientTransformation | None = None,
    test: tuple[Array, Array] | None = None,
    batch_size: int | None = None,
    key: Array | None = None,
    chunk_size: int = 100,
    update_grid_every: int | None = None,
    update_grid_until: int = 0,
    opt_state=None,
    return_opt_state: bool = False,
    regularization: Callable[[Any, dict], Array] | None = None,
):
    """Train ``approximator`` in place to map ``x`` to ``y`` by mean squared error.

    The regression counterpart of :func:`physnet.fit`: optimizer steps run in compiled chunks
    (one ``lax.scan`` each), only ``nnx.Param`` variables are trained, and a non-finite loss
    stops training with the parameters of the last finite step.

    For a :class:`~physnet.KAN`, ``update_grid_every=n`` moves the grids to the range of the
    training inputs (:meth:`~physnet.KAN.update_grid`) before every n-th step while the step
    is below ``update_grid_until``, as pykan does early in training (its defaults correspond
    to ``update_grid_every=5, update_grid_until=50``). Grid updates keep parameter shapes, so
    the optimizer state carries on.

    Args:
        approximator: an approximator ``(in,) -> (out,)``, updated in place.
        x: inputs, shape ``(n, in_features)``.
        y: targets, shape ``(n, out_features)``.
        steps: number of optimizer steps.
        optimizer: optax optimizer (default ``optax.adam(1e-3)``).
        test: optional ``(x_test, y_test)`` evaluated after every chunk.
        batch_size: minibatch size (default: full batch); requires ``key``.
        key: PRNG key for minibatches.
        chunk_size: optimizer steps per compiled call.
        update_grid_every: grid update period in steps (KANs only), or ``None``.
        update_grid_until: no grid updates from this step on.
        opt_state: an optimizer state to continue from (e.g. a previous call's, or one mapped
            by :func:`physnet.approximators.remap_optimizer_state`); default: fresh.
        return_opt_state: also return the final optimizer state.
        regularization: optional penalty ``(approximator, batch) -> scalar``, already
            weighted, added to the MSE in every step (``batch`` is ``{"x": ..., "y": ...}``,
            the minibatch when ``batch_size`` is set); it must be traceable by ``jax.jit``.
            For KAN sparsity, e.g. ``lambda f, b: 1e-3 * kan_regularization(f, b["x"])``
            (:func:`physnet.interpret.kan_regularization`).

    Returns:
        :class:`~physnet.training.History` of the training loss (MSE plus ``regularization``
        when given; ``test_loss`` is always the plain test MSE), or
        ``(history, opt_state)`` with ``return_opt_state=True``.

    Raises:
        DataError: on badly shaped or non-finite data.
        ConfigError: on invalid options.
        TrainingDivergedError: if the loss or a gradient becomes non-finite.
    """
    if not isinstance(steps, int | np.integer) or steps < 0:
        raise ConfigError(f"fit_function: steps must be a non-negative integer, got {steps!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(
            f"fit_function: chunk_size must be a positive integer, got {chunk_size!r}"
        )
    if update_grid_every is not None:
        if not isinstance(update_grid_every, int) or update_grid_every < 1:
            raise ConfigError(
                f"fit_function: update_grid_every must be a positive integer, got "
                f"{update_grid_every!r}"
            )
        if not hasattr(approximator, "update_grid"):
            raise ConfigError(
                f"fit_function: update_grid_every needs an approximator with grids (a KAN), "
                f"got {type(approximator).__name__}"
            )
    x, y = _check_xy(approximator, x, y, "training")
    batch = {"x": x, "y": y}
    n = x.shape[0]
    if batch_size is not None:
        if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
            raise ConfigError(
                f"fit_function: batch_size must be an integer in [1, {n}], got {batch_size!r}"
            )
        if key is None:
            raise ConfigError("fit_function: minibatch training needs a PRNG key (key=...)")
    key = jax.random.key(0) if key is None else key
    test_batch = None
    if test is not None:
        tx, ty = _check_xy(approximator, *test, "test")
        test_batch = {"x": tx, "y": ty}
    optimizer = optax.adam(1e-3) if optimizer is None else optimizer
    if regularization is not None and not callable(regularization):
        raise ConfigError(
            f"fit_function: regularization must be a callable (approximator, batch) -> scalar, "
            f"got {regularization!r}"
        )
    mse = MSELoss()
    loss = mse if regularization is None else RegularizedLoss(mse, regularization)

    graphdef, params, rest = nnx.split(approximator, nnx.Param, ...)
    opt_state = optimizer.init(params) if opt_state is None else opt_state
    step_fn = make_train_chunk(loss, graphdef, optimizer, batch_size=batch_size)
    eval_fn = jax.jit(lambda params, rest, b: mse(nnx.merge(graphdef, params, rest), b))

    # (start, steps to run): grid-update periods first, then even chunks
    plan = []
    grid_steps = 0
    if update_grid_every is not None:
        grid_steps = min(steps, update_grid_until)
        for start in range(0, grid_steps, update_grid_every):
            plan.append((start, min(update_grid_every, grid_steps - start)))
    remaining = steps - grid_steps
    if remaining:
        n_chunks = math.ceil(remaining / chunk_size)
        size = math.ceil(remaining / n_chunks)
        for start in range(grid_steps, steps, size):
            plan.append((start, min(size, steps - start)))
    updates = {start for start, _ in plan if start < grid_steps}
    # one compiled loop with a run-time trip count serves every chunk length
    chunk_fn = jax.jit(_dynamic_chunk(step_fn, max((n for _, n in plan), default=1)))

    compile_seconds = train_seconds = 0.0
    compiled = None
    train_losses, test_steps, test_losses = [], [], []
    stopped = jnp.asarray(False)
    prev_params = params
    for start, length in plan:
        if start in updates:
            approximator.update_grid(x)
            _, params, rest = nnx.split(approximator, nnx.Param, ...)
            prev_params = params
        args = (params, rest, opt_state, prev_params, stopped, start, length, batch, key)
        if compiled is None:
            t0 = time.perf_counter()
            compiled = chunk_fn.lower(*args).compile()
            compile_seconds += time.perf_counter() - t0
        t0 = time.perf_counter()
        (params, opt_state, prev_params, stopped), losses, diverged = compiled(*args)
        losses = np.asarray(losses)[:length]
        train_seconds += time.perf_counter() - t0
        if bool(stopped):
            bad = int(np.flatnonzero(np.asarray(diverged))[0])
            train_losses.append(losses[:bad])
            all_losses = np.concatenate(train_losses)
            finite = all_losses[np.isfinite(all_losses)]
            nnx.update(approximator, params)
            history = _history(
                train_losses, test_steps, test_losses, train_seconds, compile_seconds
            )
            raise TrainingDivergedError(
                start + bad, float(finite[-1]) if finite.size else math.nan, history
            )
        train_losses.append(losses)
        if test_batch is not None:
            test_steps.append(start + length)
            test_losses.append(float(eval_fn(params, rest, test_batch)))
    nnx.update(approximator, params)
    history = _history(train_losses, test_steps, test_losses, train_seconds, compile_seconds)
    return (history, opt_state) if return_opt_state else history


def _dynamic_chunk(step_fn, max_length: int):
    """Run ``length`` (a run-time value <= ``max_length``) steps of ``step_fn`` in a loop.

    ``step_fn`` is a chunk from :func:`make_train_chunk`, called with one step at a time.
    """

    def chunk(params, rest, opt_state, prev_params, stopped, start, length, batch, key):
        def body(i, carry):
            params, opt_state, prev_params, stopped, losses, flags = carry
            step = jnp.reshape(start + i, (1,))
            (params, opt_state, prev_params, stopped), loss, diverged = step_fn(
                params, rest, opt_state, prev_params, stopped, step, start + length, batch, key
            )
            return (
                params,
                opt_state,
                prev_params,
                stopped,
                losses.at[i].set(loss[0]),
                flags.at[i].set(diverged[0]),
            )

        dtype = jax.tree.leaves(params)[0].dtype
        init = (
            params,
            opt_state,
            prev_params,
            stopped,
            jnp.full((max_length,), jnp.nan, dtype=dtype),
            jnp.zeros((max_length,), dtype=bool),
        )
        *carry, losses, flags = jax.lax.fori_loop(0, length, body, init)
        return tuple(carry), losses, flags

    return chunk


def _history(train_losses, test_steps, test_losses, train_seconds, compile_seconds) -> History:
    return History(
        train_loss=np.concatenate(train_losses) if train_losses else np.zeros(0),
        test_steps=np.asarray(test_steps, dtype=int),
        test_loss=np.asarray(test_losses, dtype=float),
        train_seconds=train_seconds,
        compile_seconds=compile_seconds,
    )
