"""E1 and E2: an HNN on the conservative Duffing oscillator, clean and noisy (SPEC.md §3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optax
from flax import nnx

from ..approximators import MLP
from ..models import HNN, NeuralODE
from ..systems import Duffing
from ..training import fit
from ._common import (
    DataConfig,
    Experiment,
    clean_initial_states,
    derivative_mse,
    make_data,
    rollout_metrics,
    trajectory_figures,
)


@dataclasses.dataclass(frozen=True)
class HNNConfig:
    """An HNN (and optionally a neural ODE baseline) on Duffing data, the source's settings:
    H = MLP 2-32-32-1 tanh, Adam lr 1e-3, 3000 full-batch steps."""

    data: DataConfig = DataConfig()
    width: int = 32
    depth: int = 2
    activation: str = "tanh"
    learning_rate: float = 1e-3
    steps: int = 3000
    model_seed: int = 0
    compare_node: bool = True
    rollout_t1: float = 100.0
    rollout_dt: float = 0.01
    figure_y0: tuple[float, float] = (1.0, 0.0)
    figure_t1: float = 40.0


def train_model(model, train, test, cfg: HNNConfig):
    history = fit(
        model, train, steps=cfg.steps, optimizer=optax.adam(cfg.learning_rate), test_data=test
    )
    metrics = {
        "train_mse": derivative_mse(model, train),
        "test_mse": derivative_mse(model, test),
        "test_mse_clean": derivative_mse(model, test, clean=True),
        "train_seconds": history.train_seconds,
        "compile_seconds": history.compile_seconds,
        "steps": cfg.steps,
    }
    metrics.update(
        rollout_metrics(
            model,
            Duffing(cfg.data.alpha, cfg.data.beta, cfg.data.gamma),
            clean_initial_states(test),
            t1=cfg.rollout_t1,
            dt=cfg.rollout_dt,
        )
    )
    return metrics


def run_hnn_experiment(cfg: HNNConfig, workdir: Path, figures: dict[str, str], title: str) -> dict:
    system = Duffing(cfg.data.alpha, cfg.data.beta, cfg.data.gamma)
    train, test = make_data(system, cfg.data)
    mlp = dict(width=cfg.width, depth=cfg.depth, activation=cfg.activation)
    hnn = HNN(MLP(2, 1, **mlp, rngs=nnx.Rngs(cfg.model_seed)))
    metrics = train_model(hnn, train, test, cfg)
    metrics["model"] = "hnn"
    if cfg.compare_node:  # the unstructured baseline on the same data
        node = NeuralODE(MLP(2, 2, **mlp, rngs=nnx.Rngs(cfg.model_seed)))
        metrics["neural_ode"] = train_model(node, train, test, cfg)
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


def with_seed(cfg: HNNConfig, seed: int) -> HNNConfig:
    """The same experiment with data seed and initialisation seed ``seed``."""
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, seed=seed), model_seed=seed)


def _quick(cfg: HNNConfig) -> HNNConfig:
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, n_trajectories=20),
        steps=200,
        rollout_t1=10.0,
        figure_t1=10.0,
    )


E1_CONFIG = HNNConfig()
E2_CONFIG = HNNConfig(data=DataConfig(noise=0.05), compare_node=False)

E1 = Experiment(
    name="E1",
    title="HNN, γ = 0, clean data",
    config=E1_CONFIG,
    quick_config=_quick(E1_CONFIG),
    train_and_evaluate=e1,
    with_seed=with_seed,
    source={"train_mse": 0.00059, "test_mse": 0.00092},
    figures=tuple(E1_FIGURES.values()),
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
