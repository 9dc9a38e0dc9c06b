"""E1 and E2: an HNN on the conservative Duffing oscillator, clean and noisy (SPEC.md §3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from flax import nnx

from ..approximators import MLP
from ..evaluation import derivative_mse, rollout_metrics, true_rollout
from ..models import HNN, NeuralODE
from ..systems import Duffing
from ..training import Adam, fit
from ._common import (
    DataConfig,
    Experiment,
    clean_initial_states,
    make_data,
    trajectory_figures,
    with_seed,
)


@dataclasses.dataclass(frozen=True)
class HNNConfig:
    """Settings of E1/E2: an HNN (and a neural ODE baseline) on Duffing data.

    An HNN (and optionally a neural ODE baseline) on Duffing data, the source's settings:
    H = MLP 2-32-32-1 tanh, Adam lr 1e-3, 3000 full-batch steps."""

    data: DataConfig = DataConfig()
    width: int = 32
    depth: int = 2
    activation: str = "tanh"
    learning_rate: float = 1e-3
    schedule: str = "constant"
    steps: int = 3000
    model_seed: int = 0
    compare_node: bool = True
    rollout_t1: float = 100.0
    rollout_dt: float = 0.01
    long_rollout_t1: float = 1000.0
    long_rollout_dt: float = 0.05
    figure_y0: tuple[float, float] = (1.0, 0.0)
    figure_t1: float = 40.0


def true_rollouts(cfg: HNNConfig, test) -> dict:
    """The true system's rollouts from the test states on the times of the short and long
    rollout metrics, by ``(t1, dt)`` (computed once, shared by the models compared)."""
    system = Duffing(cfg.data.alpha, cfg.data.beta, cfg.data.gamma)
    y0 = clean_initial_states(test)
    return {
        (t1, dt): true_rollout(system, y0, t1=t1, dt=dt)
        for t1, dt in ((cfg.rollout_t1, cfg.rollout_dt), (cfg.long_rollout_t1, cfg.long_rollout_dt))
    }


def train_model(model, train, test, cfg: HNNConfig, true: dict | None = None):
    true = true_rollouts(cfg, test) if true is None else true
    optimizer = Adam(cfg.learning_rate, cfg.schedule)
    history = fit(model, train, steps=cfg.steps, optimizer=optimizer, test_data=test)
    metrics = {
        "train_mse": derivative_mse(model, train),
        "test_mse": derivative_mse(model, test),
        "test_mse_clean": derivative_mse(model, test, clean=True),
        "train_seconds": history.train_seconds,
        "compile_seconds": history.compile_seconds,
        "steps": cfg.steps,
    }
    system = Duffing(cfg.data.alpha, cfg.data.beta, cfg.data.gamma)
    y0 = clean_initial_states(test)
    short = (cfg.rollout_t1, cfg.rollout_dt)
    long = (cfg.long_rollout_t1, cfg.long_rollout_dt)
    metrics.update(rollout_metrics(model, system, y0, t1=short[0], dt=short[1], true=true[short]))
    long = rollout_metrics(model, system, y0, t1=long[0], dt=long[1], true=true[long])
    metrics["energy_drift_t1000"] = long["energy_drift"]
    return metrics


def run_hnn_experiment(cfg: HNNConfig, workdir: Path, figures: dict[str, str], title: str) -> dict:
    system = Duffing(cfg.data.alpha, cfg.data.beta, cfg.data.gamma)
    train, test = make_data(system, cfg.data)
    mlp = dict(width=cfg.width, depth=cfg.depth, activation=cfg.activation)
    hnn = HNN(MLP(2, 1, **mlp, rngs=nnx.Rngs(cfg.model_seed)))
    true = true_rollouts(cfg, test)
    metrics = train_model(hnn, train, test, cfg, true)
    metrics["model"] = "hnn"
    if cfg.compare_node:  # the unstructured baseline on the same data
        node = NeuralODE(MLP(2, 2, **mlp, rngs=nnx.Rngs(cfg.model_seed)))
        metrics["neural_ode"] = train_model(node, train, test, cfg, true)
    metrics["config"] = dataclasses.asdict(cfg)
    trajectory_figures(
        hnn,
        system,
        workdir,
        y0=cfg.figure_y0,
        t1=cfg.figure_t1,
        names=figures,
        label="learned HNN",
        title=title,
    )
    return metrics


E1_FIGURES = {
    "true_phase": "fig01_e1_true_phase.png",
    "learned_phase": "fig02_e1_learned_phase.png",
    "q_time": "fig03_e1_q_time.png",
    "p_time": "fig04_e1_p_time.png",
}
E2_FIGURES = {
    "learned_phase": "fig05_e2_learned_phase.png",
    "time_series": "fig06_e2_time_series.png",
    "overlay_phase": "fig07_e2_true_vs_learned_phase.png",
}


def e1(cfg: HNNConfig, workdir: Path, make_figures: bool = True) -> dict:
    figures = E1_FIGURES if make_figures else {}
    return run_hnn_experiment(cfg, workdir, figures, "E1 (HNN, clean data)")


def e2(cfg: HNNConfig, workdir: Path, make_figures: bool = True) -> dict:
    figures = E2_FIGURES if make_figures else {}
    return run_hnn_experiment(cfg, workdir, figures, "E2 (HNN, noise σ = 0.05)")


def _quick(cfg: HNNConfig) -> HNNConfig:
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, n_trajectories=20),
        steps=200,
        rollout_t1=10.0,
        long_rollout_t1=50.0,
        figure_t1=10.0,
    )


E1_CONFIG = HNNConfig()
E2_CONFIG = HNNConfig(data=DataConfig(noise=0.05), compare_node=False)
# physnet best: a wider H, twice the steps at a 10x larger peak rate with warm-up and cosine
# decay (measured on seeds 0-4 on 2026-11-24: E1 median test MSE 4.2e-5 against 1.75e-3 with
# the source's settings; the width 32 network with this schedule reached 1.3e-4)
E1_BEST = HNNConfig(
    width=64, learning_rate=1e-2, schedule="warmup-cosine", steps=6000, compare_node=False
)
# E2 has no "physnet best": its test MSE against noisy targets is dominated by the noise in
# the input states (f(q + δ) - f(q) with ∂f/∂q up to ~10 for the cubic force), which no
# training setting removes. Measured on seeds 0-4 (2026-11-24): E1_BEST's settings on E2's
# data gave a median test MSE of 0.102 (overfitting the noise) against 0.067 for the source's,
# and warm-up/cosine at 3e-3 for 3000 steps 0.066: no better.

E1 = Experiment(
    name="E1",
    title="HNN, γ = 0, clean data",
    config=E1_CONFIG,
    quick_config=_quick(E1_CONFIG),
    train_and_evaluate=e1,
    with_seed=with_seed,
    source={"train_mse": 0.00059, "test_mse": 0.00092},
    figures=tuple(E1_FIGURES.values()),
    best_config=E1_BEST,
    shrink=_quick,
)
E2 = Experiment(
    name="E2",
    title="HNN, γ = 0, noise σ = 0.05",
    config=E2_CONFIG,
    quick_config=_quick(E2_CONFIG),
    train_and_evaluate=e2,
    with_seed=with_seed,
    source={"train_mse": 0.035, "test_mse": 0.105},
    figures=tuple(E2_FIGURES.values()),
)
