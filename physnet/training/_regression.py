"""Plain regression of an approximator on (x, y) samples, with the training loop of fit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax import Array

from .._checks import integer
from .._errors import ConfigError, DataError, TrainingDivergedError
from ._config import FitConfig
from ._fit import train_module
from ._hooks import GridUpdate, has_kan
from ._loop import TrainState
from ._losses import AbstractLoss, Regularized


@dataclasses.dataclass(frozen=True)
class MSELoss(AbstractLoss):
    """Mean over samples and outputs of (f(x) - y)² for an approximator f on ``{"x", "y"}``."""

    name: ClassVar[str] = "mse"

    def prepare(self, data, *, clean: bool = False):
        """``{"x": x, "y": y}`` from the pair ``data = (x, y)``."""
        x, y = data
        return {"x": jnp.asarray(x), "y": jnp.asarray(y)}

    def __call__(self, approximator, batch) -> Array:
        pred = jax.vmap(approximator)(batch["x"])
        return jnp.mean((pred - batch["y"]) ** 2)


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
    (the loop of :func:`physnet.fit`, on a :class:`~physnet.training.TrainState`), only
    ``nnx.Param`` variables are trained, and a non-finite loss stops training with the
    parameters of the last finite step. Any optax optimizer works, ``optax.lbfgs`` included.

    For a :class:`~physnet.KAN`, ``update_grid_every=n`` moves the grids to the range of the
    training inputs (:meth:`~physnet.KAN.update_grid`) before every n-th step while the step
    is below ``update_grid_until``, as pykan does early in training (its defaults correspond
    to ``update_grid_every=5, update_grid_until=50``): the
    :class:`~physnet.training.GridUpdate` hook, which :func:`physnet.fit` takes too. Each
    update refits the splines as trained so far onto the new grid; grid updates keep
    parameter shapes, so the optimizer state carries on.

    Args:
        approximator: an approximator ``(in,) -> (out,)``, updated in place.
        x: inputs, shape ``(n, in_features)``.
        y: targets, shape ``(n, out_features)``.
        steps: number of optimizer steps.
        optimizer: optax optimizer (default ``optax.adam(1e-3)``).
        test: optional ``(x_test, y_test)`` evaluated after every chunk.
        batch_size: minibatch size (default: full batch); requires ``key``.
        key: PRNG key for minibatches.
        chunk_size: the most optimizer steps per compiled call (chunks also end at grid
            updates).
        update_grid_every: grid update period in steps (KANs only), or ``None``.
        update_grid_until: no grid updates from this step on.
        opt_state: an optimizer state to continue from (e.g. a previous call's, or one mapped
            by :func:`physnet.approximators.remap_optimizer_state`); default: fresh.
        return_opt_state: also return the final optimizer state.
        regularization: optional penalty ``(approximator, batch) -> scalar``, already
            weighted, added to the MSE in every step (the loss is
            ``Regularized(MSELoss(), regularization)``; ``batch`` is ``{"x": ..., "y": ...}``,
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
    integer("fit_function", "steps", steps, low=0)
    integer("fit_function", "chunk_size", chunk_size, low=1)
    if update_grid_every is not None:
        integer("fit_function", "update_grid_every", update_grid_every, low=1)
        if not has_kan(approximator):
            raise ConfigError(
                f"fit_function: update_grid_every needs an approximator with grids (a KAN), "
                f"got {type(approximator).__name__}"
            )
    x, y = _check_xy(approximator, x, y, "training")
    batch = {"x": x, "y": y}
    n = x.shape[0]
    if batch_size is not None:
        integer("fit_function", "batch_size", batch_size, low=1, high=n)
        if key is None:
            raise ConfigError("fit_function: minibatch training needs a PRNG key (key=...)")
    key = jax.random.key(0) if key is None else key
    test_batch = None
    if test is not None:
        tx, ty = _check_xy(approximator, *test, "test")
        test_batch = {"x": tx, "y": ty}
    if regularization is not None and not callable(regularization):
        raise ConfigError(
            f"fit_function: regularization must be a callable (approximator, batch) -> scalar, "
            f"got {regularization!r}"
        )
    mse = MSELoss()
    loss = mse if regularization is None else Regularized(mse, regularization)
    hooks = []
    if update_grid_every is not None:
        hooks.append(GridUpdate(x, every=update_grid_every, until=update_grid_until))

    config = FitConfig(
        steps, loss, optimizer, batch_size, chunk_size, max_param_norm=None, hooks=hooks
    )
    _, params, _ = nnx.split(approximator, nnx.Param, ...)
    state = TrainState.create(params, config.resolved_optimizer(), opt_state)
    history, out, bad = train_module(
        approximator,
        state,
        batch,
        key,
        config,
        test=None if test_batch is None else (mse, test_batch),
        progress=False,
        checkpointing=None,
    )
    if bad >= 0:
        raise TrainingDivergedError(bad, float(out.last_finite), history)
    return (history, out.state.opt_state) if return_opt_state else history
