"""Learning problems for an approximator: one class per way the approximator enters the task.

A :class:`Task` is training and test data ``(x, y)``; its subclass says how an approximator
enters it: :class:`RegressionTask` (the approximator maps x to y), :class:`ClassificationTask`
(logits, softmax cross-entropy, misclassification rate), :class:`HNNTask` (the Hamiltonian of
an HNN; y is dy/dt) and :class:`LNNTask` (the Lagrangian of an LNN; y is q̈). Each class
implements its own targets, output size, model, prediction, loss and error; nothing branches
on a mode string (``kind`` is a label for reports and for the ``Task(..., kind=...)``
constructor, looked up once in :data:`TASK_CLASSES`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._errors import ConfigError, DataError
from ..evaluation import energy_function
from ..models import HNN, LNN
from ..training import AbstractLoss


@dataclasses.dataclass(frozen=True, init=False)
class Task:
    """A learning problem for an approximator; a regression unless a subclass says otherwise.

    Args:
        name: short name (used in tables and JSON).
        train: ``(x, y)`` training inputs ``(n, d)`` and targets ``(n, m)`` (class indices
            ``(n,)`` for classification).
        test: ``(x, y)`` test data, same layout.
        kind: which task class ``Task(...)`` builds (see :data:`TASK_CLASSES`):
            ``"regression"`` (:class:`RegressionTask`, the default), ``"classification"``
            (:class:`ClassificationTask`), ``"hnn"`` (:class:`HNNTask`) or ``"lnn"``
            (:class:`LNNTask`, which also takes ``kinetic``). A subclass needs no ``kind``.
        description: one line for reports.

    The error reported for regression, HNN and LNN tasks is the test RMSE of the predicted
    target.

    Raises:
        ConfigError: on an unknown ``kind`` (or one that contradicts the class called).
        DataError: on badly shaped or non-finite data.
    """

    name: str
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    description: str = ""

    #: the task's label in reports; ``Task(..., kind=...)`` builds the class with this label
    kind: ClassVar[str] = "regression"

    def __new__(cls, name=None, train=None, test=None, kind: str | None = None, *args, **kwargs):
        if cls is Task:
            cls = task_class("regression" if kind is None else kind, name)
        elif kind is not None and kind != cls.kind:
            raise ConfigError(
                f"Task {name!r}: {cls.__name__} has kind {cls.kind!r}, got kind={kind!r}"
            )
        return super().__new__(cls)

    def __init__(self, name, train, test, kind: str | None = None, description: str = ""):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "description", description)
        for part, (x, y) in (("train", train), ("test", test)):
            x, y = np.asarray(x), np.asarray(y)
            for what, a in (("inputs x", x), ("targets y", y)):
                if a.dtype.kind not in "iuf":
                    got = "complex numbers" if a.dtype.kind == "c" else f"dtype {a.dtype}"
                    raise DataError(f"Task {name!r}: {part} {what} must be real numbers, got {got}")
            x = x.astype(np.float64)
            if x.ndim != 2 or y.ndim == 0 or y.shape[0] != x.shape[0]:
                raise DataError(
                    f"Task {name!r}: {part} must be (x (n, d), y (n, ...)), got shapes "
                    f"{x.shape} and {y.shape}"
                )
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(np.asarray(y, float)))):
                raise DataError(f"Task {name!r}: {part} data contain NaN or infinity")
            object.__setattr__(self, part, (x, self._targets(y)))
        (x, y), (xt, yt) = self.train, self.test
        if len(x) == 0 or len(xt) == 0:
            raise DataError(f"Task {name!r}: train and test need at least one row each")
        if xt.shape[1:] != x.shape[1:] or yt.shape[1:] != y.shape[1:]:
            raise DataError(
                f"Task {name!r}: test data must have the train data's widths: x {x.shape[1:]} "
                f"and y {y.shape[1:]}, got x {xt.shape[1:]} and y {yt.shape[1:]}"
            )

    def _targets(self, y: np.ndarray) -> np.ndarray:
        """The stored targets: float64 ``(n, m)``."""
        return np.asarray(y, dtype=np.float64).reshape(y.shape[0], -1)

    @property
    def in_features(self) -> int:
        return int(self.train[0].shape[1])

    @property
    def out_features(self) -> int:
        """The approximator's output size."""
        return int(self.train[1].shape[1])

    @property
    def input_range(self) -> tuple[float, float]:
        """(min, max) over all training inputs (the KAN families' initial grid range)."""
        x = self.train[0]
        lo, hi = float(x.min()), float(x.max())
        return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)

    def model(self, approximator):
        """The trained module: here the approximator itself."""
        return approximator

    def predict(self, model, x):
        """Batched prediction of the target."""
        return jax.vmap(model)(x)

    def loss(self, pred, y):
        """The training loss of a batch's predictions: the mean squared error."""
        return jnp.mean((pred - y) ** 2)

    def score(self, pred: np.ndarray, y: np.ndarray) -> float:
        """The reported error of test predictions: the RMSE."""
        return float(np.sqrt(np.mean((pred - y) ** 2)))

    def error(self, model) -> float:
        """The test error (:meth:`score` of the test predictions)."""
        x, y = self.test
        return self.score(np.asarray(self.predict(model, jnp.asarray(x))), y)


class RegressionTask(Task):
    """The approximator maps x to y; MSE loss, test RMSE."""

    kind = "regression"


class ClassificationTask(Task):
    """A classification task: the approximator gives logits, scored by misclassification.

    The approximator gives logits; softmax cross-entropy, test misclassification rate;
    the targets are class indices ``(n,)``."""

    kind = "classification"

    def _targets(self, y):
        if y.ndim > 1 and int(np.prod(y.shape[1:])) != 1:
            raise DataError(
                f"Task {self.name!r}: class labels must be one per row, got targets of shape "
                f"{y.shape}"
            )
        y = y.reshape(-1)
        if np.any(y < 0) or np.any(y != np.round(y)) or np.any(y > 2**31 - 1):
            bad = y[(y < 0) | (y != np.round(y)) | (y > 2**31 - 1)][0]
            raise DataError(
                f"Task {self.name!r}: class labels must be non-negative integers 0, 1, 2, ..., "
                f"got {bad.item()!r}"
            )
        return y.astype(np.int32)

    @property
    def out_features(self) -> int:
        """The number of classes (the largest label + 1)."""
        return int(max(self.train[1].max(), self.test[1].max()) + 1)

    def loss(self, pred, y):
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(pred, y))

    def score(self, pred, y):
        return float(np.mean(np.argmax(pred, axis=1) != y))


class HNNTask(Task):
    """The approximator is the Hamiltonian H(y) of an :class:`~physnet.HNN`; y is dy/dt."""

    kind = "hnn"

    @property
    def out_features(self) -> int:
        """1: the approximator is the scalar H."""
        return 1

    def model(self, approximator):
        return HNN(approximator)

    def predict(self, model, x):
        return jax.vmap(lambda s: model(0.0, s))(x)


@dataclasses.dataclass(frozen=True, init=False)
class LNNTask(Task):
    """A task whose approximator is the Lagrangian of an LNN, fitted to accelerations.

    The approximator is the Lagrangian of an :class:`~physnet.LNN` with the fixed kinetic
    reference term ``kinetic`` q̇²/2; x = (q, q̇), y = q̈."""

    kinetic: float = 1.0
    kind = "lnn"

    def __init__(
        self,
        name,
        train,
        test,
        kind: str | None = None,
        description: str = "",
        kinetic: float = 1.0,
    ):
        super().__init__(name, train, test, kind, description)
        object.__setattr__(self, "kinetic", kinetic)

    @property
    def out_features(self) -> int:
        """1: the approximator is the scalar L."""
        return 1

    def model(self, approximator):
        return LNN(approximator, kinetic=self.kinetic)

    def predict(self, model, x):
        dof = x.shape[1] // 2
        return jax.vmap(lambda s: model(0.0, s)[dof:])(x)


TASK_CLASSES: dict[str, type[Task]] = {
    c.kind: c for c in (RegressionTask, ClassificationTask, HNNTask, LNNTask)
}
"""The task classes by their ``kind`` label (what ``Task(..., kind=...)`` builds)."""


def task_class(kind: str, name=None) -> type[Task]:
    """The task class labelled ``kind``.

    Raises:
        ConfigError: on an unknown label.
    """
    if kind not in TASK_CLASSES:
        raise ConfigError(f"Task {name!r}: kind must be one of {tuple(TASK_CLASSES)}, got {kind!r}")
    return TASK_CLASSES[kind]


class TaskLoss(AbstractLoss):
    """The training loss of a task: MSE, or softmax cross-entropy for classification.

    A :class:`Task`'s training loss (:meth:`Task.loss` of its predictions: MSE, or softmax
    cross-entropy for classification); ``prepare`` takes the pair ``(x, y)``."""

    name = "task"

    def __init__(self, task: Task):
        self.task = task

    def prepare(self, data, *, clean: bool = False):
        x, y = data
        return {"x": jnp.asarray(x), "y": jnp.asarray(y)}

    def __call__(self, model, batch):
        return self.task.loss(self.task.predict(model, batch["x"]), batch["y"])


def uniform_box(key, n: int, lo, hi) -> np.ndarray:
    """``n`` points uniform on the box ``[lo, hi]``, shape ``(n, len(lo))``."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return np.asarray(jax.random.uniform(key, (n, lo.size), minval=lo, maxval=hi))


def function_task(
    name: str,
    f: Callable[[np.ndarray], np.ndarray],
    *,
    low: Sequence[float],
    high: Sequence[float],
    n_train: int = 200,
    n_test: int = 1000,
    key: jax.Array | None = None,
    description: str = "",
) -> Task:
    """A regression task for ``y = f(x)`` with inputs uniform on the box ``[low, high]``.

    Args:
        name: the task's name.
        f: numpy function ``(n, d) -> (n,)`` or ``(n, m)``.
        low, high: the box's corners, length d.
        n_train, n_test: sample counts.
        key: PRNG key for the samples (default ``jax.random.key(0)``).

    Raises:
        ConfigError: if the box is empty or the sample counts are not positive.
    """
    low, high = np.atleast_1d(np.asarray(low, float)), np.atleast_1d(np.asarray(high, float))
    if low.shape != high.shape or not np.all(high > low):
        raise ConfigError(f"function_task {name!r}: need low < high, got {low} and {high}")
    if n_train < 1 or n_test < 1:
        raise ConfigError(f"function_task {name!r}: n_train and n_test must be >= 1")
    k1, k2 = jax.random.split(jax.random.key(0) if key is None else key)
    xs = uniform_box(k1, n_train, low, high), uniform_box(k2, n_test, low, high)
    ys = [np.asarray(f(x), float).reshape(x.shape[0], -1) for x in xs]
    return RegressionTask(name, (xs[0], ys[0]), (xs[1], ys[1]), description=description)


def expression_task(
    expression: str,
    names: Sequence[str],
    *,
    low: Sequence[float],
    high: Sequence[float],
    n_train: int = 200,
    n_test: int = 1000,
    key: jax.Array | None = None,
) -> Task:
    """A regression task for a formula of named inputs over a box.

    A regression task for a formula of named inputs over a box, e.g.
    ``expression_task("x*y", ["x", "y"], low=[-1, -1], high=[1, 1])``.

    Args:
        expression: a formula of the names (``+ - * / **``, ``sin``, ``exp``, ...: the grammar
            of :func:`physnet._formula.parse_formula`, which runs no Python code).
        names: the inputs' names, in order.
        low, high: the box's corners, one number per name.

    Raises:
        ConfigError: if the expression does not parse, uses unknown names, or the box does not
            match the names.
    """
    names = [str(n) for n in names]
    if not names or any(not n.strip() for n in names):
        raise ConfigError(f"expression_task: every input needs a name, got {names!r}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(
            f"expression_task: input names must differ; {', '.join(repeated)} given twice"
        )
    if len(np.atleast_1d(low)) != len(names) or len(np.atleast_1d(high)) != len(names):
        raise ConfigError(
            f"expression_task: low and high need one number per input ({', '.join(names)}), "
            f"got {list(np.atleast_1d(low))} and {list(np.atleast_1d(high))}"
        )
    fn = jax.vmap(energy_function(expression, names, what="expression"))
    return function_task(
        expression.replace(" ", ""),
        lambda x: np.asarray(fn(jnp.asarray(x))),
        low=low,
        high=high,
        n_train=n_train,
        n_test=n_test,
        key=key,
        description=f"{expression} over {np.atleast_1d(low).tolist()} .. "
        f"{np.atleast_1d(high).tolist()}",
    )
