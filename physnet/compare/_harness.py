r"""Approximators compared fairly: matched parameter counts or FLOPs, several seeds.

A :class:`Task` is training and test data plus how an approximator enters it (plain
regression, classification, the Hamiltonian of an HNN, the Lagrangian of an LNN); a
:class:`Family` builds an approximator of a given ``size`` (an MLP's width, a KAN's hidden
width or grid). :func:`compare` sizes every family to the same budget on every task
(:func:`size_for`: the size whose parameter count, or XLA-counted FLOPs per forward pass, is
nearest the budget in log scale), trains each for the same steps with the same optimizer over
several seeds, and records the test error, parameters, FLOPs, wall time per step (after
compilation) and compile time. :func:`scaling_exponent` fits error ∝ N^-a with a bootstrap
confidence interval; :func:`continual_learning` runs the KAN paper's sequential-peaks protocol.

Reference: Liu et al. (2024), KAN: Kolmogorov-Arnold Networks, arXiv:2404.19756; Yu et al.
(2024), KAN or MLP: A Fairer Comparison, arXiv:2407.16674; Godfrey & Gashler (2016), A
continuum among logarithmic, linear, and exponential functions, arXiv:1602.01321.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .._errors import ConfigError, DataError, TrainingDivergedError
from ..approximators import KAN, MLP, SoftExponential
from ..training import AbstractLoss, fit

KINDS = ("regression", "classification", "hnn", "lnn")
MATCHES = ("params", "flops")


# --------------------------------------------------------------------------- tasks


@dataclasses.dataclass(frozen=True)
class Task:
    """A learning problem for an approximator.

    Args:
        name: short name (used in tables and JSON).
        train: ``(x, y)`` training inputs ``(n, d)`` and targets ``(n, m)`` (class indices
            ``(n,)`` for classification).
        test: ``(x, y)`` test data, same layout.
        kind: ``"regression"`` (the approximator maps x to y), ``"classification"`` (the
            approximator gives logits, softmax cross-entropy; the error is the test
            misclassification rate), ``"hnn"`` (the approximator is the Hamiltonian H(y) of an
            :class:`~physnet.HNN`; y is dy/dt) or ``"lnn"`` (the approximator is the Lagrangian
            of an :class:`~physnet.LNN` with ``kinetic`` q̇²/2; x = (q, q̇), y = q̈).
        description: one line for reports.
        kinetic: the LNN's fixed kinetic reference term (``"lnn"`` only).

    The error reported for regression, HNN and LNN tasks is the test RMSE of the predicted
    target.
    """

    name: str
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    kind: str = "regression"
    description: str = ""
    kinetic: float = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"Task {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        for part in ("train", "test"):
            x, y = getattr(self, part)
            x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
            if x.ndim != 2 or y.shape[0] != x.shape[0]:
                raise DataError(
                    f"Task {self.name!r}: {part} must be (x (n, d), y (n, ...)), got shapes "
                    f"{x.shape} and {y.shape}"
                )
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(np.asarray(y, float)))):
                raise DataError(f"Task {self.name!r}: {part} data contain NaN or infinity")
            if self.kind == "classification":
                y = y.astype(np.int32).reshape(-1)
            else:
                y = np.asarray(y, dtype=np.float64).reshape(x.shape[0], -1)
            object.__setattr__(self, part, (x, y))

    @property
    def in_features(self) -> int:
        return int(self.train[0].shape[1])

    @property
    def out_features(self) -> int:
        """The approximator's output size (1 for HNN and LNN: a scalar H or L)."""
        if self.kind == "classification":
            return int(max(self.train[1].max(), self.test[1].max()) + 1)
        if self.kind in ("hnn", "lnn"):
            return 1
        return int(self.train[1].shape[1])

    @property
    def input_range(self) -> tuple[float, float]:
        """(min, max) over all training inputs (the KAN families' initial grid range)."""
        x = self.train[0]
        lo, hi = float(x.min()), float(x.max())
        return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)

    def model(self, approximator):
        """The trained module: the approximator itself, or the HNN/LNN around it."""
        from ..models import HNN, LNN

        if self.kind == "hnn":
            return HNN(approximator)
        if self.kind == "lnn":
            return LNN(approximator, kinetic=self.kinetic)
        return approximator

    def predict(self, model, x):
        """Batched prediction of the target (logits for classification)."""
        if self.kind == "hnn":
            return jax.vmap(lambda s: model(0.0, s))(x)
        if self.kind == "lnn":
            dof = x.shape[1] // 2
            return jax.vmap(lambda s: model(0.0, s)[dof:])(x)
        return jax.vmap(model)(x)

    def error(self, model) -> float:
        """Test RMSE (misclassification rate for classification)."""
        x, y = self.test
        pred = np.asarray(self.predict(model, jnp.asarray(x)))
        if self.kind == "classification":
            return float(np.mean(np.argmax(pred, axis=1) != y))
        return float(np.sqrt(np.mean((pred - y) ** 2)))


class TaskLoss(AbstractLoss):
    """A :class:`Task`'s training loss: MSE of the predicted target, or softmax
    cross-entropy for classification; ``prepare`` takes the pair ``(x, y)``."""

    name = "task"

    def __init__(self, task: Task):
        self.task = task

    def prepare(self, data, *, clean: bool = False):
        x, y = data
        return {"x": jnp.asarray(x), "y": jnp.asarray(y)}

    def __call__(self, model, batch):
        pred = self.task.predict(model, batch["x"])
        if self.task.kind == "classification":
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(pred, batch["y"]))
        return jnp.mean((pred - batch["y"]) ** 2)


def _box(key, n: int, lo, hi) -> np.ndarray:
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
    xs = _box(k1, n_train, low, high), _box(k2, n_test, low, high)
    ys = [np.asarray(f(x), float).reshape(x.shape[0], -1) for x in xs]
    return Task(name, (xs[0], ys[0]), (xs[1], ys[1]), description=description)


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
    """A regression task for a formula of named inputs over a box, e.g.
    ``expression_task("x*y", ["x", "y"], low=[-1, -1], high=[1, 1])``.

    Args:
        expression: a sympy expression (``+ - * / **``, ``sin``, ``exp``, ``besselj`` ...).
        names: the inputs' names, in order.
        low, high: the box's corners, one number per name.

    Raises:
        ConfigError: if the expression does not parse, uses unknown names, or the box does not
            match the names.
    """
    from ..evaluation import energy_function

    names = [str(n) for n in names]
    if len(np.atleast_1d(low)) != len(names) or len(np.atleast_1d(high)) != len(names):
        raise ConfigError(
            f"expression_task: low and high need one number per input ({', '.join(names)}), "
            f"got {list(np.atleast_1d(low))} and {list(np.atleast_1d(high))}"
        )
    fn = jax.vmap(energy_function(expression, names))
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


def file_task(
    path: str | os.PathLike,
    *,
    targets: int = 1,
    classification: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Task:
    """A task from a table: a ``.npz`` with arrays ``x`` and ``y`` (and optionally ``x_test``,
    ``y_test``), or a ``.csv``/text file whose last ``targets`` columns are the targets (a
    header row of names is skipped). Without test arrays, a random ``test_fraction`` of the
    rows (seeded) is held out.

    Raises:
        DataError: if the file is unreadable, has too few columns or rows, or non-finite values.
    """
    path = os.fspath(path)
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: np.asarray(z[k]) for k in z.files}
            if "x" not in arrays or "y" not in arrays:
                raise DataError(
                    f"file_task: {path} must hold arrays 'x' and 'y' (has {sorted(arrays)})"
                )
            x, y = arrays["x"].reshape(len(arrays["x"]), -1), arrays["y"]
            test = (arrays["x_test"], arrays["y_test"]) if "x_test" in arrays else None
        else:
            with open(path) as fh:
                first = fh.readline()
            delim = "," if "," in first else None
            skip = 0 if _numeric(first, delim) else 1
            table = np.loadtxt(path, delimiter=delim, skiprows=skip, ndmin=2, comments=("#", "%"))
            if table.shape[1] <= targets:
                raise DataError(
                    f"file_task: {path} has {table.shape[1]} columns; need more than "
                    f"targets={targets} (inputs first, targets last)"
                )
            x, y = table[:, :-targets], table[:, -targets:]
            test = None
    except (OSError, ValueError) as err:
        raise DataError(f"file_task: cannot read {path}: {err}") from None
    kind = "classification" if classification else "regression"
    name = os.path.splitext(os.path.basename(path))[0]
    if test is None:
        n = len(x)
        n_test = int(round(test_fraction * n))
        if n < 2 or not 1 <= n_test < n:
            raise DataError(
                f"file_task: {path} has {n} rows; need at least 2 rows and 0 < test_fraction "
                f"< 1 leaving both parts non-empty (got test_fraction={test_fraction})"
            )
        perm = np.random.default_rng(seed).permutation(n)
        x, y = x[perm], y[perm]
        return Task(
            name,
            (x[n_test:], y[n_test:]),
            (x[:n_test], y[:n_test]),
            kind=kind,
            description=f"{path}, {n - n_test} train / {n_test} test rows",
        )
    return Task(name, (x, y), test, kind=kind, description=f"{path} (train and test arrays)")


def _numeric(line: str, delim) -> bool:
    try:
        [float(v) for v in line.strip().split(delim) if v.strip()]
    except ValueError:
        return False
    return True


def builtin_tasks(names: Sequence[str] | None = None, *, n_train: int = 200) -> list[Task]:
    """The comparison's standard tasks (see :data:`TASKS`); ``wine`` is skipped when
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


def _duffing_hnn(n: int) -> Task:
    from ..systems import Duffing

    system = Duffing(alpha=1.0, beta=2.0, gamma=0.0)
    k1, k2 = jax.random.split(jax.random.key(1))
    xs = _box(k1, n, [-1.5, -1.5], [1.5, 1.5]), _box(k2, 1000, [-1.5, -1.5], [1.5, 1.5])
    ys = [np.asarray(jax.vmap(lambda y: system.vector_field(0.0, y))(x)) for x in xs]
    return Task(
        "duffing_hnn",
        (xs[0], ys[0]),
        (xs[1], ys[1]),
        kind="hnn",
        description="Duffing (α=1, β=2) vector field through an HNN, states on [-1.5, 1.5]²",
    )


def _e5_lnn(n: int) -> Task:
    from ..systems import Duffing

    system = Duffing(alpha=0.5, beta=0.25, gamma=0.0)
    k1, k2 = jax.random.split(jax.random.key(2))
    xs = _box(k1, n, [-2.0, -2.0], [2.0, 2.0]), _box(k2, 1000, [-2.0, -2.0], [2.0, 2.0])
    ys = [np.asarray(jax.vmap(lambda y: system.vector_field(0.0, y)[1:])(x)) for x in xs]
    return Task(
        "e5_lnn",
        (xs[0], ys[0]),
        (xs[1], ys[1]),
        kind="lnn",
        description="E5 Lagrangian (Duffing α=1/2, β=1/4) through an LNN (q̇²/2 kinetic term), "
        "accelerations on [-2, 2]²",
    )


def _oscillator_forecast(n: int, window: int = 4) -> Task:
    from .. import datasets

    data = datasets.load("real-oscillator", scale="std")
    y = np.asarray(data.states, float)[0]
    rows = np.stack([y[i : i + window].reshape(-1) for i in range(len(y) - window)])
    target = y[window:]
    cut = int(0.8 * len(rows))
    return Task(
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
    return Task(
        "wine",
        (x[:cut], y[:cut]),
        (x[cut:], y[cut:]),
        kind="classification",
        description="scikit-learn's wine (13 standardised features, 3 classes), 70/30 split",
    )


def _j0(x):
    from scipy.special import j0

    return j0(8.0 * x[:, 0])


def _ellipk(x):
    from scipy.special import ellipk

    return ellipk(0.9 * x[:, 0])


#: the standard tasks by name: builders ``n_train -> Task`` (or None when unavailable)
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


# --------------------------------------------------------------------------- families


@dataclasses.dataclass(frozen=True)
class Family:
    """Approximators of one kind at adjustable size.

    Args:
        name: short name.
        build: ``(size, in_features, out_features, rngs, input_range) -> approximator``.
        sizes: the sizes :func:`size_for` may choose from, increasing.
        default: the size used when no budget is matched.
    """

    name: str
    build: Callable[..., Any]
    sizes: tuple[int, ...]
    default: int


def mlp_family(depth: int = 2, activation: str = "tanh", name: str | None = None) -> Family:
    """MLPs of ``depth`` hidden layers whose width is the size (1 to 512)."""
    return Family(
        name or ("softexp" if activation == "soft_exponential" else "mlp"),
        lambda s, i, o, rngs, r: MLP(i, o, width=s, depth=depth, activation=activation, rngs=rngs),
        tuple(range(1, 513)),
        16,
    )


def kan_family(grid: int = 5, order: int = 3, name: str = "kan") -> Family:
    """KANs ``[in, size, out]`` (one hidden layer of ``size`` nodes, G = ``grid``) on the
    task's input range."""
    return Family(
        name,
        lambda s, i, o, rngs, r: KAN([i, s, o], grid=grid, order=order, grid_range=r, rngs=rngs),
        tuple(range(1, 257)),
        5,
    )


def kan_grid_family(hidden: int | None = None, order: int = 3, name: str = "kan_grid") -> Family:
    """KANs ``[in, hidden, out]`` whose grid size G is the size (the KAN paper's scaling
    knob); ``hidden`` defaults to ``in + 1``."""

    def build(s, i, o, rngs, r):
        return KAN([i, hidden or i + 1, o], grid=s, order=order, grid_range=r, rngs=rngs)

    return Family(name, build, tuple(range(1, 1001)), 5)


def default_families() -> dict[str, Family]:
    """MLP (tanh, 2 hidden layers), soft-exponential MLP (2 hidden layers), KAN [in, w, out]
    with G = 5."""
    return {
        "mlp": mlp_family(),
        "softexp": mlp_family(activation="soft_exponential"),
        "kan": kan_family(),
    }


# --------------------------------------------------------------------------- measuring


def parameter_count(module) -> int:
    """Number of trainable parameters (``nnx.Param`` entries) of ``module``."""
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(module, nnx.Param)))


def forward_flops(approximator) -> float:
    """FLOPs of the forward pass per input, as XLA's cost analysis counts them
    (``jax.jit(f).lower(x).compile().cost_analysis()["flops"]``), for inputs in a batch: the
    count for 16 inputs less that for 8, divided by 8, so work done once per call and shared
    by the batch (a KAN converting its splines to piecewise-polynomial form) is not counted.
    NaN when the backend reports none. ``approximator`` may be abstract (``nnx.eval_shape``)."""
    graphdef, state = nnx.split(approximator)

    def flops(batch: int) -> float:
        x = jax.ShapeDtypeStruct((batch, approximator.in_features), jnp.float64)
        forward = jax.jit(lambda s, x: jax.vmap(nnx.merge(graphdef, s))(x))
        cost = forward.lower(state, x).compile().cost_analysis()
        if isinstance(cost, list | tuple):
            cost = cost[0] if cost else {}
        return float((cost or {}).get("flops", float("nan")))

    return (flops(16) - flops(8)) / 8


def measure(
    family: Family,
    size: int,
    in_features: int,
    out_features: int,
    match: str,
    input_range=(-1.0, 1.0),
) -> float:
    """Parameter count (``match="params"``) or forward FLOPs (``"flops"``) of ``family`` at
    ``size``."""
    if match not in MATCHES:
        raise ConfigError(f"match must be one of {MATCHES}, got {match!r}")
    # built abstractly (shapes only): nothing is initialised or compiled but the forward pass
    approx = nnx.eval_shape(
        lambda: family.build(size, in_features, out_features, nnx.Rngs(0), tuple(input_range))
    )
    return float(parameter_count(approx) if match == "params" else forward_flops(approx))


def size_for(
    family: Family,
    budget: float,
    in_features: int,
    out_features: int,
    *,
    match: str = "params",
    input_range=(-1.0, 1.0),
) -> int:
    """The size of ``family`` whose parameter count / forward FLOPs is nearest ``budget`` in
    log scale (bisection over ``family.sizes``; the measure grows with the size).

    Raises:
        ConfigError: on a non-positive budget or unknown ``match``.
    """
    if not budget > 0:
        raise ConfigError(f"size_for: budget must be > 0, got {budget!r}")
    sizes = family.sizes
    cache: dict[int, float] = {}

    def m(i):
        if i not in cache:
            cache[i] = measure(family, sizes[i], in_features, out_features, match, input_range)
        return cache[i]

    lo, hi = 0, len(sizes) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if m(mid) < budget:
            lo = mid
        else:
            hi = mid
    best = min((lo, hi), key=lambda i: abs(math.log(m(i) / budget)))
    return sizes[best]


def alpha_values(module) -> np.ndarray:
    """All soft-exponential α of ``module`` (empty when it has none)."""
    alphas = [
        np.asarray(m.alpha[...]).ravel()
        for _, m in nnx.iter_modules(module)
        if isinstance(m, SoftExponential)
    ]
    return np.concatenate(alphas) if alphas else np.zeros(0)


# --------------------------------------------------------------------------- training


def train_one(
    task: Task,
    family: Family,
    size: int,
    seed: int,
    *,
    steps: int = 500,
    optimizer: optax.GradientTransformation | None = None,
    grid_update: bool = True,
) -> dict:
    """Build ``family`` at ``size`` (initialised from ``seed``), train it on ``task`` with
    :func:`physnet.fit` (full batch, ``steps`` steps, default ``optax.adam(1e-2)``) and
    measure it. A KAN's grids are first moved to the range of its training inputs
    (``grid_update``). A divergence is recorded (``diverged``), with the error of the last
    finite parameters.

    Returns:
        a row: task, approximator, size, seed, params, flops, error, train_loss,
        seconds_per_step, compile_seconds, diverged (and ``alpha`` quantiles for
        soft-exponential networks).
    """
    approx = family.build(
        size, task.in_features, task.out_features, nnx.Rngs(seed), task.input_range
    )
    if grid_update and isinstance(approx, KAN):
        approx.update_grid(jnp.asarray(task.train[0]))
    model = task.model(approx)
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer
    diverged = False
    try:
        history = fit(
            model,
            task.train,
            steps=steps,
            optimizer=optimizer,
            loss=TaskLoss(task),
            chunk_size=max(steps, 1),
            progress=False,
        )
    except TrainingDivergedError as err:
        diverged, history = True, err.history
    row = {
        "task": task.name,
        "approximator": family.name,
        "size": int(size),
        "seed": int(seed),
        "params": parameter_count(approx),
        "flops": forward_flops(approx),
        "error": task.error(model),
        "train_loss": float(history.final_train_loss()) if history is not None else math.nan,
        "seconds_per_step": (history.train_seconds / max(history.steps, 1))
        if history is not None
        else math.nan,
        "compile_seconds": history.compile_seconds if history is not None else math.nan,
        "diverged": diverged,
    }
    alpha = alpha_values(approx)
    if alpha.size:
        row["alpha"] = {
            q: float(np.quantile(alpha, p))
            for q, p in (("min", 0.0), ("median", 0.5), ("max", 1.0))
        }
    if not math.isfinite(row["error"]):
        row["diverged"] = True
    return row


@dataclasses.dataclass
class Comparison:
    """The rows of a comparison (one per task, approximator, size and seed) with summaries.

    Attributes:
        rows: list of row dicts (see :func:`train_one`).
        settings: how they were made (match, budget, steps, optimizer, seeds).
    """

    rows: list[dict]
    settings: dict

    def summary(self) -> list[dict]:
        """Median [min, max] over seeds per (task, approximator, size): error, params,
        flops, seconds_per_step, compile_seconds; the first seed's compile time
        (``compile_seconds_first``) and the divergence count."""
        groups: dict[tuple, list[dict]] = {}
        for r in self.rows:
            groups.setdefault((r["task"], r["approximator"], r["size"]), []).append(r)
        out = []
        for (task, name, size), rows in groups.items():
            s = {
                "task": task,
                "approximator": name,
                "size": size,
                "seeds": len(rows),
                "diverged": sum(bool(r["diverged"]) for r in rows),
            }
            for k in ("error", "params", "flops", "seconds_per_step", "compile_seconds"):
                v = np.asarray([r[k] for r in rows], float)
                v = v[np.isfinite(v)]
                s[k] = (
                    [float(np.median(v)), float(v.min()), float(v.max())]
                    if v.size
                    else [math.nan] * 3
                )
            # the first seed's compile: the cold one when a persistent cache serves the others
            s["compile_seconds_first"] = float(rows[0]["compile_seconds"])
            out.append(s)
        return out

    def table(self) -> str:
        """A Markdown table of :meth:`summary`."""
        lines = [
            "| task | approximator | size | params | FLOPs | error median [min, max] | "
            "ms/step | compile s (first seed) | diverged |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for s in self.summary():
            e = s["error"]
            lines.append(
                f"| {s['task']} | {s['approximator']} | {s['size']} | {s['params'][0]:.0f} | "
                f"{s['flops'][0]:.0f} | {e[0]:.3g} [{e[1]:.3g}, {e[2]:.3g}] | "
                f"{1e3 * s['seconds_per_step'][0]:.3g} | {s['compile_seconds_first']:.2g} | "
                f"{s['diverged']}/{s['seeds']} |"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"settings": self.settings, "summary": self.summary(), "rows": self.rows}

    def to_json(self, path: str | os.PathLike) -> None:
        """Write settings, summary and rows as JSON."""
        with open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=1, default=float)

    def __str__(self) -> str:
        return self.table()


def _families(factories) -> dict[str, Family]:
    if factories is None:
        return default_families()
    if isinstance(factories, Mapping):
        fams = dict(factories)
    else:
        fams = {f.name: f for f in factories}
    for name, f in fams.items():
        if not isinstance(f, Family):
            raise ConfigError(
                f"compare: factory {name!r} must be a physnet.analysis.Family, got {f!r}"
            )
    if not fams:
        raise ConfigError("compare: no approximator families given")
    return fams


def compare(
    tasks: Sequence[Task] | Task,
    factories: Mapping[str, Family] | Sequence[Family] | None = None,
    *,
    match: str = "params",
    budget: float | None = None,
    seeds: int | Sequence[int] = 5,
    steps: int = 500,
    optimizer: optax.GradientTransformation | None = None,
    sizes: Mapping[str, Sequence[int]] | None = None,
    grid_update: bool = True,
) -> Comparison:
    """Train every approximator family on every task at a matched budget, over seeds.

    Each family is sized (:func:`size_for`) so that its parameter count (``match="params"``)
    or its forward-pass FLOPs as counted by XLA (``match="flops"``) is nearest ``budget``
    (default: the first family's measure at its default size, per task); or, with ``sizes``,
    run at the given sizes (for scaling curves). Every run uses the same optimizer, steps and
    full batch; seeds vary the initialisation (the data are fixed by the task).

    Args:
        tasks: one :class:`Task` or several (e.g. :func:`builtin_tasks`).
        factories: :class:`Family` objects by name (default :func:`default_families`).
        match: ``"params"`` or ``"flops"``.
        budget: the target parameter count or FLOPs.
        seeds: number of seeds (0..n-1) or the seeds.
        steps: optimizer steps per run.
        optimizer: optax optimizer (default ``optax.adam(1e-2)``).
        sizes: explicit sizes per family name (overrides matching for those families).
        grid_update: move KAN grids to the training inputs' range before training.

    Returns:
        :class:`Comparison` (``.table()``, ``.summary()``, ``.to_json(path)``).

    Raises:
        ConfigError: on an unknown ``match``, bad seeds or steps, or a non-Family factory.
    """
    if isinstance(tasks, Task):
        tasks = [tasks]
    fams = _families(factories)
    if match not in MATCHES:
        raise ConfigError(f"compare: match must be one of {MATCHES}, got {match!r}")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ConfigError(f"compare: seeds must be a positive count or a list, got {seeds!r}")
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"compare: steps must be a positive integer, got {steps!r}")
    rows = []
    budgets = {}
    for task in tasks:
        io = (task.in_features, task.out_features)
        first = next(iter(fams.values()))
        target = (
            budget
            if budget is not None
            else measure(first, first.default, *io, match, task.input_range)
        )
        budgets[task.name] = target
        for name, fam in fams.items():
            if sizes is not None and name in sizes:
                run_sizes = list(sizes[name])
            else:
                run_sizes = [size_for(fam, target, *io, match=match, input_range=task.input_range)]
            for size in run_sizes:
                for seed in seed_list:
                    rows.append(
                        train_one(
                            task,
                            fam,
                            size,
                            seed,
                            steps=steps,
                            optimizer=optimizer,
                            grid_update=grid_update,
                        )
                    )
    settings = {
        "match": match,
        "budget": budgets,
        "steps": steps,
        "seeds": seed_list,
        "optimizer": "adam(1e-2)" if optimizer is None else repr(optimizer),
        "families": list(fams),
        "tasks": {t.name: t.description for t in tasks},
    }
    return Comparison(rows, settings)


# --------------------------------------------------------------------------- scaling


def scaling_exponent(
    params: Sequence[float],
    errors: Sequence[float],
    seeds: Sequence[int] | None = None,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict:
    r"""Fit error ∝ N^-a by least squares of log error on log N.

    .. math:: \log e = c - a \log N

    The point estimate fits the per-size median error over seeds; the confidence interval is
    a bootstrap over seeds (seeds drawn with replacement, medians per size refitted) when
    ``seeds`` is given, else the regression's standard error (normal quantile).

    Args:
        params: parameter count per run, shape (n,).
        errors: test error per run, shape (n,).
        seeds: the run's seed, shape (n,), or None.
        n_boot: bootstrap draws.
        level: confidence level.

    Returns:
        ``{"exponent": a, "ci": [lo, hi], "stderr": se, "sizes": k}``.

    Raises:
        DataError: with fewer than 2 distinct sizes with a finite positive error.
    """
    p = np.asarray(params, float)
    e = np.asarray(errors, float)
    ok = np.isfinite(e) & (e > 0)
    s = np.zeros_like(p, dtype=int) if seeds is None else np.asarray(seeds, int)
    p, e, s = p[ok], e[ok], s[ok]
    sizes = np.unique(p)
    if sizes.size < 2:
        raise DataError(f"scaling_exponent: need >= 2 sizes with finite errors, got {sizes.size}")

    def fit_medians(pp, ee):
        u = np.unique(pp)
        med = np.array([np.median(ee[pp == v]) for v in u])
        A = np.stack([np.ones_like(u), np.log(u)], 1)
        coef, *_ = np.linalg.lstsq(A, np.log(med), rcond=None)
        return -coef[1], A, np.log(med), coef

    a, A, ly, coef = fit_medians(p, e)
    dof = max(len(ly) - 2, 1)
    resid = ly - A @ coef
    cov = np.linalg.pinv(A.T @ A) * float(resid @ resid) / dof
    se = float(np.sqrt(cov[1, 1]))
    z = float(jax.scipy.stats.norm.ppf(0.5 + level / 2))
    if seeds is not None and np.unique(s).size > 1:
        rng = np.random.default_rng(seed)
        useeds = np.unique(s)
        draws = []
        for _ in range(n_boot):
            pick = rng.choice(useeds, size=useeds.size, replace=True)
            idx = np.concatenate([np.flatnonzero(s == k) for k in pick])
            if np.unique(p[idx]).size >= 2:
                draws.append(fit_medians(p[idx], e[idx])[0])
        lo, hi = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
        ci, method = [float(lo), float(hi)], "bootstrap over seeds"
    else:
        ci, method = [float(a - z * se), float(a + z * se)], "regression standard error"
    return {
        "exponent": float(a),
        "ci": ci,
        "stderr": se,
        "sizes": int(sizes.size),
        "ci_method": method,
        "level": level,
    }


# --------------------------------------------------------------------------- continual learning


def peaks_task(
    dims: int = 1,
    *,
    n_per_region: int = 100,
    width: float | None = None,
    key: jax.Array | None = None,
):
    r"""The KAN paper's continual-learning target: Gaussian peaks, one per region.

    1-D: five peaks at c = -0.8, -0.4, 0, 0.4, 0.8 on [-1, 1], regions of width 0.4 around
    them, f(x) = Σ exp(-(x - c)²/(2σ²)) with σ = 0.05 (default). 2-D: four peaks at
    (±0.5, ±0.5), one per quadrant of [-1, 1]², σ = 0.1.

    Returns:
        ``(f, regions)``: the function ``(n, d) -> (n, 1)`` and a list of ``(x, y)`` per
        region (``n_per_region`` uniform samples each), in presentation order.
    """
    key = jax.random.key(0) if key is None else key
    if dims == 1:
        centers = np.array([[-0.8], [-0.4], [0.0], [0.4], [0.8]])
        sigma = 0.05 if width is None else width
        boxes = [(c - 0.2, c + 0.2) for c in centers]
    elif dims == 2:
        centers = np.array([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]])
        sigma = 0.1 if width is None else width
        boxes = [(c - 0.5, c + 0.5) for c in centers]
    else:
        raise ConfigError(f"peaks_task: dims must be 1 or 2, got {dims!r}")

    def f(x):
        d2 = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * sigma**2)).sum(1, keepdims=True)

    regions = []
    for k, (lo, hi) in zip(jax.random.split(key, len(boxes)), boxes, strict=True):
        x = _box(k, n_per_region, lo, hi)
        regions.append((x, f(x)))
    return f, regions


def continual_learning(
    family: Family,
    size: int,
    *,
    dims: int = 1,
    seed: int = 0,
    steps_per_phase: int = 300,
    optimizer: optax.GradientTransformation | None = None,
) -> dict:
    r"""Train on one peak region after another and measure forgetting (Liu et al. 2024, §3.5).

    Phase k trains (``steps_per_phase`` Adam steps, state carried over) on region k's data
    only. After each phase the test RMSE on every region is measured (fresh samples). The
    forgetting score after phase k is the mean over earlier regions j < k of
    RMSE_j(after k) − RMSE_j(after j): how much was lost of what had been learned. KAN grids
    stay fixed on the whole domain [-1, 1]^d (no grid updates: locality needs the grid).

    Returns:
        ``{"errors": E (phases × regions), "forgetting": per phase (NaN for the first),
        "final_mean_rmse": ..., "params": ...}``.
    """
    f, regions = peaks_task(dims, key=jax.random.key(100))
    _, tests = peaks_task(dims, key=jax.random.key(200))
    approx = family.build(size, dims, 1, nnx.Rngs(seed), (-1.0, 1.0))
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer

    def rmse(x, y):
        return float(np.sqrt(np.mean((np.asarray(jax.vmap(approx)(jnp.asarray(x))) - y) ** 2)))

    from ..training import fit_function

    errors = []
    opt_state = None
    diverged = False
    for x, y in regions:
        try:
            _, opt_state = fit_function(
                approx,
                x,
                y,
                steps=steps_per_phase,
                optimizer=optimizer,
                opt_state=opt_state,
                return_opt_state=True,
                chunk_size=steps_per_phase,
            )
        except TrainingDivergedError:
            diverged = True
        errors.append([rmse(tx, ty) for tx, ty in tests])
    E = np.asarray(errors)
    forgetting = [math.nan] + [
        float(np.mean([E[k, j] - E[j, j] for j in range(k)])) for k in range(1, len(E))
    ]
    return {
        "errors": E.tolist(),
        "forgetting": forgetting,
        "final_mean_rmse": float(E[-1].mean()),
        "params": parameter_count(approx),
        "diverged": diverged,
        "family": family.name,
        "size": int(size),
        "seed": int(seed),
        "dims": dims,
    }
