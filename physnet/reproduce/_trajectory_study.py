"""Learning without derivative data: derivative loss vs finite-difference targets vs trajectory
loss, for a neural ODE, an HNN and a dissipative HNN, on coarse and noisy Duffing data.

For every data setting (sampling step dt, state noise σ) and seed, one data set of the
conservative Duffing oscillator (α = 1, β = 2, γ = 0; initial states N(0, 1); t in [0, t1];
80/20 split by trajectory) is generated, and every model is trained three ways:

- ``derivative``: derivative loss on the observed derivatives (exact field at the states, plus
  N(0, σ²) noise when σ > 0, as in the source's data);
- ``fd``: derivative loss on derivatives estimated from the observed states (central
  differences when σ = 0, Savitzky-Golay with window 7, cubic, when σ > 0; ``--fd-method``);
- ``trajectory``: :class:`physnet.training.TrajectoryLoss` on the states only, once per
  window length in ``--windows`` (default 2; ``--full``: 2 and 5; consecutive windows share
  their end points), RK4 with substeps so that the step is at most 0.05.

Each trained model is judged on the clean test trajectories:

- ``deriv_mse``: mean squared error of the learned field against the exact Duffing field at
  the clean test states;
- ``rollout_rmse``: RMSE of the learned rollout against the true one over t in [0, 10] (twice
  the training horizon), from the clean test initial states;
- ``drift_rk4``, ``drift_imr``: energy drift at t = 1000, the median over test initial states
  of max_t |H(y(t)) - H(y(0))| / |H(y(0))| (H the TRUE energy) along the learned rollout with
  RK4 and with the symplectic implicit midpoint rule at the same step (``--rollout-dt``,
  default 0.1); ``inf`` marks a rollout that blew up;
- ``learned_drift_rk4``, ``learned_drift_imr``: the same for the model's own energy measured
  from the equilibrium, E_θ(y) = H_θ(y) - H_θ(0) (H_θ's additive constant is arbitrary and
  would scale a relative error at will); HNN and dissipative HNN, for which it includes the
  decay by the learned damping;
- ``gamma_hat``: the dissipative HNN's learned damping (true value 0).

The registered settings (``TrajectoryTrajectoryStudyConfig()``) are small (two CPU cores shared with
other jobs: ~10 minutes): 40 trajectories, 800 steps at learning rate 3e-3, one seed (1: seed
0's data contain a trajectory with H ≈ 100, twelve times the others, on which every HNN
variant fails at these sizes), the t = 1000 rollouts from 10 test states. :data:`FULL` holds
the source's sizes (100 trajectories, 3000 steps at learning rate 1e-3), seeds 0, 1, 2
(medians), windows 2 and 5, 20 test states. Results go to ``results.json`` and ``table.md``
(the table of the README) in the experiment's folder.

Usage::

    physnet reproduce --experiments trajectory_study [--out DIR] [--quick]
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._build import build_model
from .._errors import TrainingDivergedError
from ..data import generate
from ..evaluation import energy_drift, rollout
from ..models import AbstractEnergyModel
from ..systems import Duffing
from ..training import TrajectoryLoss, fit
from ._common import study

MODELS = ("node", "hnn", "dhnn")
METHODS = ("derivative", "fd", "trajectory")
MODEL_NAMES = {"node": "neural ODE", "hnn": "HNN", "dhnn": "dissipative HNN"}


@dataclasses.dataclass(frozen=True)
class TrajectoryStudyConfig:
    """Every (dt, σ) of ``dts`` × ``noises`` and seed of ``seeds``: ``models`` (of
    :data:`MODELS`, MLPs ``width`` wide, ``depth`` deep) trained by each of ``methods`` (of
    :data:`METHODS`; trajectory loss once per window of ``windows``, step at most
    ``max_train_step``; ``fd_method`` "auto": central when σ = 0, else Savitzky-Golay) for
    ``steps`` full-batch Adam steps at ``learning_rate`` on ``n_trajectories`` trajectories to
    ``t1``; judged on ``n_eval`` test states: rollout RMSE to ``error_t1``, energy drift to
    ``rollout_t1`` at step ``rollout_dt``."""

    dts: tuple[float, ...] = (0.1, 0.2)
    noises: tuple[float, ...] = (0.0, 0.05, 0.1)
    models: tuple[str, ...] = MODELS
    methods: tuple[str, ...] = METHODS
    seeds: tuple[int, ...] = (1,)
    n_trajectories: int = 40
    t1: float = 5.0
    steps: int = 800
    learning_rate: float = 3e-3
    width: int = 32
    depth: int = 2
    windows: tuple[int, ...] = (2,)
    max_train_step: float = 0.05
    fd_method: str = "auto"
    rollout_t1: float = 1000.0
    rollout_dt: float = 0.1
    error_t1: float = 10.0
    n_eval: int = 10


#: the source's sizes, 3 seeds (hours on 2 cores; not run)
FULL = TrajectoryStudyConfig(
    n_trajectories=100, steps=3000, learning_rate=1e-3, seeds=(0, 1, 2), windows=(2, 5), n_eval=20
)


def expand_methods(cfg: TrajectoryStudyConfig) -> list[str]:
    out = []
    for method in cfg.methods:
        if method == "trajectory":
            out.extend(f"trajectory-{w}" for w in cfg.windows)
        else:
            out.append(method)
    return out


def make_data(cfg: TrajectoryStudyConfig, dt: float, noise: float, seed: int):
    """Train/test trajectories sampled every ``dt`` over [0, t1], noise σ on states and
    derivatives; the clean arrays are kept for evaluation."""
    system = Duffing(1.0, 2.0, 0.0)
    k_data, k_split, k_noise = jax.random.split(jax.random.key(seed), 3)
    n_points = int(round(cfg.t1 / dt)) + 1
    data = generate(system, cfg.n_trajectories, cfg.t1, n_points, key=k_data)
    if noise > 0:
        data = data.with_noise(noise, key=k_noise)
    train, test = data.split(0.8, key=k_split)
    return system, train, test


def fd_method(cfg: TrajectoryStudyConfig, noise: float) -> str:
    if cfg.fd_method != "auto":
        return cfg.fd_method
    return "central" if noise == 0 else "savgol"


def train_one(
    cfg: TrajectoryStudyConfig, kind: str, method: str, train, dt: float, noise: float, seed
):
    """Train one model; ``method`` is ``"derivative"``, ``"fd"`` or ``"trajectory-W"``."""
    model = build_model(kind, 2, "mlp", seed=seed, width=cfg.width, depth=cfg.depth)
    if method == "derivative":
        data, loss = train, "derivative"
    elif method == "fd":
        data = train.without_derivatives().with_estimated_derivatives(fd_method(cfg, noise))
        loss = "derivative"
    elif method.startswith("trajectory-"):
        substeps = max(1, math.ceil(dt / cfg.max_train_step - 1e-9))
        window = int(method.split("-")[1])
        data, loss = train.without_derivatives(), TrajectoryLoss(window, substeps=substeps)
    else:
        raise ValueError(f"unknown method {method!r}")
    try:
        history = fit(
            model,
            data,
            steps=cfg.steps,
            optimizer=optax.adam(cfg.learning_rate),
            loss=loss,
            chunk_size=cfg.steps,
            progress=False,
        )
        seconds, diverged = history.train_seconds + history.compile_seconds, False
    except TrainingDivergedError:
        seconds, diverged = float("nan"), True
    return model, seconds, diverged


def _median_drift(energy, ys) -> float:
    drift = np.asarray(energy_drift(energy, ys))
    drift = np.where(np.isfinite(drift), drift, np.inf)
    return float(np.median(drift))


def evaluate(cfg: TrajectoryStudyConfig, model, system, test, reference) -> dict:
    y = (test.states if test.clean_states is None else test.clean_states).reshape(-1, 2)
    exact = jax.vmap(lambda s: system.vector_field(0.0, s))(y)
    pred = jax.jit(jax.vmap(lambda s: model(0.0, s)))(y)
    metrics = {"deriv_mse": float(jnp.mean((pred - exact) ** 2))}
    y0, ts_err, true_err, ts_long = reference
    origin = jnp.zeros(2)

    def learned_energy(y):  # H_θ's additive constant is arbitrary: measure from the equilibrium
        return model.energy(y) - model.energy(origin)

    substeps = int(round((ts_long[1] - ts_long[0]) / cfg.rollout_dt))
    for solver, tag in (("rk4", "rk4"), ("implicit-midpoint", "imr")):
        ys = rollout(model, y0, ts_long, solver=solver, substeps=substeps)
        metrics[f"drift_{tag}"] = _median_drift(system.energy, ys)
        if isinstance(model, AbstractEnergyModel):
            metrics[f"learned_drift_{tag}"] = _median_drift(learned_energy, ys)
        if tag == "rk4":
            learned_err = rollout(model, y0, ts_err, solver="rk4", substeps=10)
            err = np.asarray(learned_err - true_err)
            metrics["rollout_rmse"] = (
                float(np.sqrt(np.mean(err**2))) if np.all(np.isfinite(err)) else float("inf")
            )
    gamma = model.readout().get("gamma_hat")  # a dissipation with a scalar damping
    if gamma is not None:
        metrics["gamma_hat"] = gamma
    return metrics


def reference_rollouts(cfg: TrajectoryStudyConfig, system, test):
    y0 = test.clean_states[:, 0] if test.clean_states is not None else test.y0
    y0 = y0[: cfg.n_eval]
    n_err = int(round(cfg.error_t1 / (10 * cfg.rollout_dt)))
    ts_err = jnp.linspace(0.0, cfg.error_t1, n_err * 10 + 1)
    true_err = rollout(system.vector_field, y0, ts_err, solver="rk4", substeps=10)
    n_long = int(round(cfg.rollout_t1 / 1.0))
    ts_long = jnp.linspace(0.0, cfg.rollout_t1, n_long + 1)  # record every 1.0
    return y0, ts_err, true_err, ts_long


def run(cfg: TrajectoryStudyConfig, out: Path, echo=print) -> dict:
    rows = []
    t_start = time.perf_counter()
    for seed in cfg.seeds:
        for dt in cfg.dts:
            for noise in cfg.noises:
                system, train, test = make_data(cfg, dt, noise, seed)
                reference = reference_rollouts(cfg, system, test)
                for kind in cfg.models:
                    for method in expand_methods(cfg):
                        model, seconds, diverged = train_one(
                            cfg, kind, method, train, dt, noise, seed
                        )
                        row = {
                            "seed": seed,
                            "dt": dt,
                            "noise": noise,
                            "model": kind,
                            "method": method,
                            "train_seconds": seconds,
                            "diverged": diverged,
                        }
                        row.update(evaluate(cfg, model, system, test, reference))
                        rows.append(row)
                        echo(
                            f"[{time.perf_counter() - t_start:7.1f}s] seed {seed} dt {dt} "
                            f"σ {noise} {kind:5s} {method:10s} deriv_mse "
                            f"{row['deriv_mse']:.3g} rmse {row['rollout_rmse']:.3g} drift "
                            f"rk4 {row['drift_rk4']:.3g} imr {row['drift_imr']:.3g}"
                        )
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "config": dataclasses.asdict(cfg),
        "rows": rows,
        "seconds": time.perf_counter() - t_start,
    }
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    summary["table"] = table(cfg, rows)
    (out / "table.md").write_text(summary["table"])
    return summary


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return "blew up" if x > 0 else "nan"
    return f"{x:.2g}" if abs(x) < 1e3 else f"{x:.1e}"


def table(cfg: TrajectoryStudyConfig, rows: list[dict]) -> str:
    """Markdown table: one line per (dt, σ, model, method), medians over seeds."""
    cols = [
        ("deriv_mse", "deriv. MSE"),
        ("rollout_rmse", f"rollout RMSE t≤{cfg.error_t1:g}"),
        ("drift_rk4", "H drift RK4"),
        ("drift_imr", "H drift IMR"),
        ("learned_drift_rk4", "H_θ drift RK4"),
        ("learned_drift_imr", "H_θ drift IMR"),
        ("gamma_hat", "γ̂"),
    ]
    head = "| dt | σ | model | loss | " + " | ".join(c for _, c in cols) + " |"
    lines = [head, "|" + "---|" * (4 + len(cols))]
    for dt in cfg.dts:
        for noise in cfg.noises:
            for kind in cfg.models:
                for method in expand_methods(cfg):
                    sel = [
                        r
                        for r in rows
                        if r["dt"] == dt
                        and r["noise"] == noise
                        and r["model"] == kind
                        and r["method"] == method
                    ]
                    if not sel:
                        continue
                    cells = []
                    for key, _ in cols:
                        values = [r[key] for r in sel if key in r]
                        cells.append(_fmt(float(np.median(values))) if values else "-")
                    label = {"fd": f"fd ({fd_method(cfg, noise)})"}.get(method, method)
                    label = label.replace("trajectory-", "trajectory W=")
                    lines.append(
                        f"| {dt:g} | {noise:g} | {MODEL_NAMES[kind]} | {label} | "
                        + " | ".join(cells)
                        + " |"
                    )
    return "\n".join(lines) + "\n"


def train_and_evaluate(cfg: TrajectoryStudyConfig, workdir: Path, figures: bool = True) -> dict:
    """The whole study; writes ``results.json`` and ``table.md`` into ``workdir``."""
    return run(cfg, workdir, echo=lambda s: print(s, flush=True))


def _shrink(cfg: TrajectoryStudyConfig) -> TrajectoryStudyConfig:
    return dataclasses.replace(
        cfg, dts=(0.1,), noises=(0.0,), n_trajectories=10, steps=20, rollout_t1=20.0, n_eval=2
    )


TRAJECTORY_STUDY = study(
    "TRAJECTORY-STUDY",
    "learning without derivative data: derivative vs fd vs trajectory loss, RK4 vs IMR",
    TrajectoryStudyConfig(),
    train_and_evaluate,
    _shrink,
)
