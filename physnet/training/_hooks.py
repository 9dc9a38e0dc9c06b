"""Hooks: what runs in Python between the compiled chunks of the training loop.

A hook is called as ``hook(step, model, history)`` before the first chunk (``step`` 0) and
after every chunk (``step`` = optimizer steps run so far): ``model`` holds the current
parameters (for :func:`physnet.fit` the trained model itself, for
:func:`physnet.fit_ensemble` the :class:`~physnet.models.Ensemble`), ``history`` the losses so
far (:class:`~physnet.training.History`, ``train_loss`` up to ``step``). A hook may change the
model in place (e.g. move KAN grids, keeping parameter shapes; the changed parameters become
the new rollback point) and returns ``True`` to stop training after this call. Any callable
with that signature is a hook; subclasses of :class:`Hook` may also demand chunk boundaries.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

import numpy as np
from jax import Array

from .._errors import ConfigError
from ..approximators import KAN, update_grids


class Hook(abc.ABC):
    """A callable run between training chunks (see the module docstring)."""

    def boundaries(self, steps: int) -> Iterable[int]:
        """Steps (in ``(0, steps)``) at which a chunk must end so this hook runs there."""
        return ()

    @abc.abstractmethod
    def __call__(self, step: int, model, history) -> bool | None:
        """Run at ``step``; return ``True`` to stop training."""


class GridUpdate(Hook):
    """Move the grids of every KAN in the model to the range of ``xs``
    (:func:`physnet.approximators.update_grids`) before every ``every``-th step while the step
    is below ``until``, as pykan does early in training (its defaults: ``every=5,
    until=50``). Grid updates keep parameter shapes, so the optimizer state carries on.

    Args:
        xs: the samples the KANs see, shape ``(n, d)`` (for a model trained on trajectories,
            the training states ``data.flat()[0]``; for :func:`fit_function`, the inputs).
        every: update period in steps.
        until: no updates from this step on.
        margin: see :meth:`~physnet.KAN.update_grid`.

    Raises:
        ConfigError: on a non-positive ``every``, or (when called) if the model holds no KAN.
    """

    def __init__(self, xs: Array, *, every: int, until: int, margin: float = 0.0):
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ConfigError(f"GridUpdate: every must be a positive integer, got {every!r}")
        self.xs = xs
        self.every = every
        self.until = int(until)
        self.margin = margin

    def boundaries(self, steps: int) -> Iterable[int]:
        last = min(steps, self.until)
        return [*range(0, last, self.every), last]

    def __call__(self, step: int, model, history) -> None:
        if step < self.until and step % self.every == 0:
            if not has_kan(model):
                raise ConfigError(
                    f"GridUpdate needs a model holding a KAN, got {type(model).__name__}"
                )
            update_grids(model, self.xs, margin=self.margin)


def has_kan(model) -> bool:
    """Whether ``model`` is or contains a :class:`~physnet.KAN`."""
    from flax import nnx

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
