"""Hooks: what runs in Python between the compiled chunks of the training loop.

A hook is called as ``hook(step, model, history)`` before the first chunk (``step`` 0) and
after every chunk (``step`` = optimizer steps run so far): ``model`` holds the current
parameters (for :func:`physnet.fit` the trained model itself, for
:func:`physnet.fit_ensemble` the :class:`~physnet.models.Ensemble`), ``history`` the losses so
far (:class:`~physnet.training.History`, ``train_loss`` up to ``step``). A hook may change the
model in place (e.g. move KAN grids, keeping parameter shapes; the changed parameters become
the new rollback point) and returns ``True`` to stop training after this call. Any callable
with that signature is a hook; subclasses of :class:`Hook` may also demand chunk boundaries.
A :class:`CompiledHook` (the KAN :class:`GridUpdate`) instead runs inside the compiled chunk,
at the steps it is due, with no chunk boundary and no host round trip.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import integer, number
from .._errors import ConfigError
from ..approximators import KAN, update_grids_traced
from ..approximators._kan_grid import check_samples


class Hook(abc.ABC):
    """A callable run between training chunks (see the module docstring)."""

    def boundaries(self, steps: int) -> Iterable[int]:
        """Steps (in ``(0, steps)``) at which a chunk must end so this hook runs there."""
        return ()

    @abc.abstractmethod
    def __call__(self, step: int, model, history) -> bool | None:
        """Run at ``step``; return ``True`` to stop training."""


class CompiledHook(Hook):
    """A hook that runs inside the compiled training chunk.

    A hook that runs inside the compiled chunk, before the optimizer step of every step
    where :meth:`due` holds: :meth:`apply` changes the model (traced, in place, keeping the
    parameter shapes), and the changed parameters become the new rollback point. No chunk
    boundary, no host round trip and no recompilation: every chunk runs the same executable.
    Between chunks, ``__call__`` only checks the model (at step 0).

    A compiled hook is an argument of the compiled chunk, so it is a pytree: every subclass is
    registered, and by default the whole hook is static (part of the compiled program's key,
    compared by identity unless the subclass defines ``__eq__`` and ``__hash__``). A hook with
    arrays overrides :meth:`tree_flatten`/:meth:`tree_unflatten` to pass them as children
    (arguments, not constants): equal options and equally shaped arrays then share one
    compiled chunk (see :class:`GridUpdate`).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        jax.tree_util.register_pytree_node(cls, lambda h: h.tree_flatten(), cls.tree_unflatten)

    def tree_flatten(self) -> tuple[tuple, object]:
        """``(children, aux)``: by default no children, the hook itself as static data."""
        return (), self

    @classmethod
    def tree_unflatten(cls, aux, children):
        """The hook of :meth:`tree_flatten`'s ``(aux, children)``."""
        return aux

    @abc.abstractmethod
    def due(self, step: Array) -> Array:
        """Whether :meth:`apply` runs before step ``step`` (a traced integer scalar)."""

    @abc.abstractmethod
    def apply(self, model) -> None:
        """Change ``model`` (merged inside the trace) in place; traceable by ``jax.jit``."""

    def check(self, model) -> None:
        """Raise ConfigError when ``model`` cannot take this hook (called at step 0)."""

    def __call__(self, step: int, model, history) -> None:
        if step == 0:
            self.check(model)


class GridUpdate(CompiledHook):
    """A compiled hook that moves every KAN's grids to the data's range early in training.

    Move the grids of every KAN in the model to the range of ``xs``
    (:func:`physnet.approximators.update_grids`) before every ``every``-th step while the step
    is below ``until``, as pykan does early in training (its defaults: ``every=5,
    until=50``). Grid updates keep parameter shapes, so the optimizer state carries on.

    The update runs inside the compiled training loop
    (:func:`physnet.approximators.update_grids_traced`, under a ``lax.cond`` at the update
    steps), so it costs no host round trip and no recompilation; its numbers are those of
    :func:`~physnet.approximators.update_grids` between chunks to round-off.

    Args:
        xs: the samples the KANs see, shape ``(n, d)`` (for a model trained on trajectories,
            the training states ``data.flat()[0]``; for :func:`fit_function`, the inputs).
        every: update period in steps.
        until: no updates from this step on.
        margin: see :meth:`~physnet.KAN.update_grid`.

    Raises:
        ConfigError: on a non-positive ``every``, or (at step 0) if the model holds no KAN.
    """

    def __init__(self, xs: Array, *, every: int, until: int, margin: float = 0.0):
        integer("GridUpdate", "every", every, low=1)
        number("GridUpdate", "margin", margin, low=0)
        self.xs = jnp.asarray(xs)
        self.every = every
        self.until = int(until)
        self.margin = float(margin)

    def tree_flatten(self):
        return (self.xs,), (self.every, self.until, self.margin)

    @classmethod
    def tree_unflatten(cls, aux, children):
        hook = object.__new__(cls)
        (hook.xs,), (hook.every, hook.until, hook.margin) = children, aux
        return hook

    def due(self, step: Array) -> Array:
        return (step < self.until) & (step % self.every == 0)

    def apply(self, model) -> None:
        update_grids_traced(model, self.xs.astype(_kan_dtype(model)), margin=self.margin)

    def check(self, model) -> None:
        kans = [n for _, n in nnx.iter_graph(model) if isinstance(n, KAN)]
        if not kans:
            raise ConfigError(f"GridUpdate needs a model holding a KAN, got {type(model).__name__}")
        for kan in kans:
            if self.xs.ndim == 2 and self.xs.shape[1] == kan.in_features:
                check_samples(kan, self.xs, "update_grid")


def _kan_dtype(model):
    for _, node in nnx.iter_graph(model):
        if isinstance(node, KAN):
            return node.param_dtype
    return jnp.float64


def has_kan(model) -> bool:
    """Whether ``model`` is or contains a :class:`~physnet.KAN`."""
    return any(isinstance(node, KAN) for _, node in nnx.iter_graph(model))


class StopBelow(Hook):
    """Stop training once the loss of the last step run is below ``threshold``.

    Checked between chunks, so training stops at the end of the first chunk whose last loss
    is below ``threshold`` (for an ensemble: every member's).
    """

    def __init__(self, threshold: float):
        self.threshold = float(threshold)

    def __call__(self, step: int, model, history) -> bool:
        losses = np.asarray(history.train_loss)
        if losses.shape[-1] == 0:
            return False
        return bool(np.all(losses[..., -1] < self.threshold))


class TestLoss(Hook):
    """Evaluate ``evaluate(model)`` after every chunk and append it to the history's
    ``test_steps``/``test_loss`` (rows over ensemble members when it returns a vector); the
    rows a resumed training restored into the history are kept."""

    def __init__(self, evaluate):
        self.evaluate = evaluate

    def __call__(self, step: int, model, history) -> None:
        if step == 0:
            return
        value = np.asarray(self.evaluate(model), dtype=float)
        old = np.asarray(history.test_loss, dtype=float).reshape(-1, *value.shape)
        history.test_steps = np.append(np.asarray(history.test_steps, dtype=int), step)
        history.test_loss = np.concatenate([old, value[None]])


class ProgressBar(Hook):
    """A tqdm progress bar with the median (over members) of the last train and test loss."""

    def __init__(self, total: int):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="step", leave=False)
        self.done = 0

    def __call__(self, step: int, model, history) -> None:
        if step == 0:
            return
        self.bar.update(step - self.done)
        self.done = step
        postfix = {"loss": _median_text(np.asarray(history.train_loss)[..., -1])}
        if np.size(history.test_loss):
            postfix["test"] = _median_text(np.asarray(history.test_loss)[-1])
        self.bar.set_postfix(postfix)

    def close(self) -> None:
        self.bar.close()


def _median_text(values) -> str:
    values = np.asarray(values)
    finite = values[np.isfinite(values)]
    return f"{np.median(finite):.3e}" if finite.size else "nan"
