"""The comparison's standard tasks: special functions, physics through an HNN and an LNN, a
real record to forecast and a classification table (:data:`TASKS`, :func:`builtin_tasks`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import numpy as np

from .._errors import ConfigError
from ..datasets import load as load_dataset
from ..systems import Duffing
from ._tasks import ClassificationTask, HNNTask, LNNTask, RegressionTask, Task, function_task
from ._tasks import uniform_box as _box


def builtin_tasks(names: Sequence[str] | None = None, *, n_train: int = 200) -> list[Task]:
    """The comparison's standard tasks, built for ``n_train`` training points.

    The comparison's standard tasks (see :data:`TASKS`); ``wine`` is skipped when
    scikit-learn is not installed.

    Raises:
        ConfigError: for an unknown name.
    """
    names = list(TASKS) if names is None else list(names)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise ConfigError(f"unknown task(s) {unknown}; choose from {', '.join(TASKS)}")
    out = []
    for n in names:
        task = TASKS[n](n_train)
        if task is not None:
            out.append(task)
    return out


def _special(name, fn, lo, hi, what):
    return lambda n: function_task(name, fn, low=lo, high=hi, n_train=n, description=what)


def _j0(x):
    from scipy.special import j0

    return j0(8.0 * x[:, 0])


def _ellipk(x):
    from scipy.special import ellipk

    return ellipk(0.9 * x[:, 0])


def _duffing_hnn(n: int) -> Task:
    system = Duffing(alpha=1.0, beta=2.0, gamma=0.0)
    k1, k2 = jax.random.split(jax.random.key(1))
    xs = _box(k1, n, [-1.5, -1.5], [1.5, 1.5]), _box(k2, 1000, [-1.5, -1.5], [1.5, 1.5])
    ys = [np.asarray(jax.vmap(lambda y: system.vector_field(0.0, y))(x)) for x in xs]
    return HNNTask(
        "duffing_hnn",
        (xs[0], ys[0]),
        (xs[1], ys[1]),
        description="Duffing (α=1, β=2) vector field through an HNN, states on [-1.5, 1.5]²",
    )


def _e5_lnn(n: int) -> Task:
    system = Duffing(alpha=0.5, beta=0.25, gamma=0.0)
    k1, k2 = jax.random.split(jax.random.key(2))
    xs = _box(k1, n, [-2.0, -2.0], [2.0, 2.0]), _box(k2, 1000, [-2.0, -2.0], [2.0, 2.0])
    ys = [np.asarray(jax.vmap(lambda y: system.vector_field(0.0, y)[1:])(x)) for x in xs]
    return LNNTask(
        "e5_lnn",
        (xs[0], ys[0]),
        (xs[1], ys[1]),
        description="E5 Lagrangian (Duffing α=1/2, β=1/4) through an LNN (q̇²/2 kinetic term), "
        "accelerations on [-2, 2]²",
    )


def _oscillator_forecast(n: int, window: int = 4) -> Task:
    data = load_dataset("real-oscillator", scale="std")
    y = np.asarray(data.states, float)[0]
    rows = np.stack([y[i : i + window].reshape(-1) for i in range(len(y) - window)])
    target = y[window:]
    cut = int(0.8 * len(rows))
    return RegressionTask(
        "oscillator_forecast",
        (rows[:cut], target[:cut]),
        (rows[cut:], target[cut:]),
        description=f"real-oscillator record (std-scaled x, v): {window} states -> next state, "
        "first 80 % train, last 20 % test",
    )


def _wine(n: int) -> Task | None:
    try:
        from sklearn.datasets import load_wine
    except ImportError:  # a peers extra, not a core dependency
        return None
    x, y = load_wine(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    perm = np.random.default_rng(0).permutation(len(y))
    x, y = x[perm], y[perm]
    cut = int(0.7 * len(y))
    return ClassificationTask(
        "wine",
        (x[:cut], y[:cut]),
        (x[cut:], y[cut:]),
        description="scikit-learn's wine (13 standardised features, 3 classes), 70/30 split",
    )


TASKS: dict[str, Callable[[int], Task | None]] = {
    "square": _special("square", lambda x: x[:, 0] ** 2, [-1.0], [1.0], "x² on [-1, 1]"),
    "cube": _special("cube", lambda x: x[:, 0] ** 3, [-1.0], [1.0], "x³ on [-1, 1]"),
    "xy": _special("xy", lambda x: x[:, 0] * x[:, 1], [-1, -1], [1, 1], "x·y on [-1, 1]²"),
    "bessel": _special("bessel", _j0, [-1.0], [1.0], "J0(8x) on [-1, 1] (scipy.special.j0)"),
    "ellipk": _special(
        "ellipk", _ellipk, [-1.0], [1.0], "K(0.9x) on [-1, 1] (scipy.special.ellipk)"
    ),
    "duffing_hnn": _duffing_hnn,
    "e5_lnn": _e5_lnn,
    "oscillator_forecast": _oscillator_forecast,
    "wine": _wine,
}
"""The standard tasks by name: builders ``n_train -> Task`` (or ``None`` when unavailable)."""
