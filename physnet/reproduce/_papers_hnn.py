"""The HNN paper's three tasks (Greydanus et al. 2019, Table 1): mass-spring, ideal pendulum
and two-body, baseline neural ODE vs HNN on the paper's recipes, scored by its energy MSE."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..approximators import MLP
from ..data import generate
from ..evaluation import derivative_mse, energy_mse, rollout
from ..models import HNN, NeuralODE
from ..plotting import save_figure
from ..systems import AbstractSystem, MassSpring, Pendulum, TwoBody
from ..training import fit
from ._common import Experiment, timed


@dataclasses.dataclass(frozen=True)
class HNNPaperTask:
    """One task's recipe, from the paper's code.

    Initial states: ``"radius"`` draws a direction uniform in the square [-1, 1]² (normalised)
    and a radius ~ U[r_min, r_max] in the (q, p) plane; ``"orbits"`` the near-circular orbits
    of :meth:`TwoBody.sample_initial_states`. Noise N(0, noise²) is added to the states only
    (the derivative targets stay exact), as the paper does.
    """

    system: str
    n_trajectories: int
    t1: float
    n_points: int
    noise: float
    test_fraction: float
    steps: int
    batch_size: int | None = None
    r_min: float = 0.0
    r_max: float = 0.0


MASS_SPRING = HNNPaperTask("mass-spring", 50, 3.0, 30, 0.1, 0.5, 2000, None, 0.1, 1.0)
PENDULUM = HNNPaperTask("pendulum", 50, 3.0, 45, 0.1, 0.5, 2000, None, 1.3, 2.3)
TWO_BODY = HNNPaperTask("two-body", 1000, 20.0, 50, 0.0, 0.2, 10_000, 200)


@dataclasses.dataclass(frozen=True)
class HNNPaperConfig:
    """The HNN paper's protocol: MLP 200-200 tanh, Adam lr 1e-3 with (coupled, PyTorch-style)
    L2 weight decay 1e-4 (``optax.add_decayed_weights`` before ``optax.adam``); energy MSE
    from ``eval_states`` held-out initial states drawn by the task's recipe, t in
    [0, eval_t1] at ``eval_points`` points, adaptive Dormand-Prince at rtol = atol =
    ``eval_tol`` for both the learned and the true field."""

    tasks: tuple[HNNPaperTask, ...] = (MASS_SPRING, PENDULUM, TWO_BODY)
    width: int = 200
    depth: int = 2
    activation: str = "tanh"
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "constant"
    eval_states: int = 15
    eval_t1: float = 20.0
    eval_points: int = 100
    eval_solver: str = "dopri5"
    eval_tol: float = 1e-9
    seed: int = 0


def paper_system(name: str) -> AbstractSystem:
    """The paper's system: H = q² + p²; H = 3(1 - cos q) + p²; two bodies with m = G = 1."""
    return {
        "mass-spring": MassSpring(mass=0.5, stiffness=2.0),
        "pendulum": Pendulum(g_over_l=6.0, mass=0.5),
        "two-body": TwoBody(),
    }[name]


def initial_states(task: HNNPaperTask, system: AbstractSystem, key, n: int):
    """``n`` initial states of the task's distribution."""
    if task.system == "two-body":
        return system.sample_initial_states(key, n)
    k_dir, k_r = jax.random.split(key)
    y = jax.random.uniform(k_dir, (n, 2), dtype=jnp.float64, minval=-1.0, maxval=1.0)
    r = jax.random.uniform(k_r, (n, 1), dtype=jnp.float64, minval=task.r_min, maxval=task.r_max)
    return y / jnp.linalg.norm(y, axis=-1, keepdims=True) * r


def task_data(task: HNNPaperTask, seed: int):
    """(system, train, test, held-out initial states) of one task and seed."""
    system = paper_system(task.system)
    k_y0, k_noise, k_eval = jax.random.split(jax.random.key(seed), 3)
    y0 = initial_states(task, system, k_y0, task.n_trajectories)
    data = generate(
        system, task.n_trajectories, task.t1, task.n_points, key=k_y0, initial_states=y0
    )
    if task.noise > 0:
        data = data.with_noise(task.noise, key=k_noise, derivatives=False)
    n_test = int(round(task.test_fraction * task.n_trajectories))
    train, test = data.take(np.arange(n_test, task.n_trajectories)), data.take(np.arange(n_test))
    return system, train, test, k_eval


def optimizer(cfg: HNNPaperConfig, steps: int) -> optax.GradientTransformation:
    lr = cfg.learning_rate
    if cfg.schedule == "cosine":
        lr = optax.cosine_decay_schedule(cfg.learning_rate, steps)
    parts = [optax.add_decayed_weights(cfg.weight_decay)] if cfg.weight_decay > 0 else []
    return optax.chain(*parts, optax.adam(lr))


def energy_mse_from(model, system, y0s, cfg: HNNPaperConfig):
    """Per-state energy MSE ``(n,)`` and the learned/true paths ``(n, T, d)``."""
    ts = jnp.linspace(0.0, cfg.eval_t1, cfg.eval_points)
    kw = dict(solver=cfg.eval_solver, rtol=cfg.eval_tol, atol=cfg.eval_tol)
    learned = rollout(model, y0s, ts, **kw)
    true = rollout(system.vector_field, y0s, ts, **kw)
    per_state = jax.vmap(lambda a, b: energy_mse(system.energy, a, b))(learned, true)
    return np.asarray(per_state), np.asarray(learned), np.asarray(true), np.asarray(ts)


def run_task(task: HNNPaperTask, cfg: HNNPaperConfig, workdir: Path, figures: bool) -> dict:
    system, train, test, k_eval = task_data(task, cfg.seed)
    y0s = initial_states(task, system, k_eval, cfg.eval_states)
    d = system.state_size
    mlp = dict(width=cfg.width, depth=cfg.depth, activation=cfg.activation)
    models = {
        "baseline": NeuralODE(MLP(d, d, **mlp, rngs=nnx.Rngs(cfg.seed))),
        "hnn": HNN(MLP(d, 1, **mlp, rngs=nnx.Rngs(cfg.seed))),
    }
    out, paths = {}, {}
    for label, model in models.items():
        history, seconds = timed(
            fit,
            model,
            train,
            steps=task.steps,
            optimizer=optimizer(cfg, task.steps),
            batch_size=task.batch_size,
            key=jax.random.key(cfg.seed),
            progress=False,
        )
        per_state, learned, true, ts = energy_mse_from(model, system, y0s, cfg)
        out[f"{label}_energy_mse"] = float(np.mean(per_state))
        out[f"{label}_train_loss"] = derivative_mse(model, train)
        out[f"{label}_test_loss"] = derivative_mse(model, test)
        out[f"{label}_train_seconds"] = seconds
        paths[label] = learned
    if figures:
        _figures(task, system, paths, true, ts, workdir)
    return out


def _figures(task, system, paths, true, ts, workdir: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for label, ys in (("true", true), *paths.items()):
        y = ys[0]
        if task.system == "two-body":
            axes[0].plot(y[:, 0], y[:, 2], label=f"{label} body 1")
            axes[0].plot(y[:, 1], y[:, 3], "--", label=f"{label} body 2")
        else:
            axes[0].plot(y[:, 0], y[:, 1], label=label)
        axes[1].plot(ts, np.asarray(jax.vmap(system.energy)(jnp.asarray(y))), label=label)
    axes[0].set_title(f"{task.system}: held-out state 0")
    axes[0].set_xlabel("x" if task.system == "two-body" else "q")
    axes[0].set_ylabel("y" if task.system == "two-body" else "p")
    axes[1].set_title("true energy along the paths")
    axes[1].set_xlabel("t")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, workdir / f"{task.system}.png")


def train_and_evaluate(cfg: HNNPaperConfig, workdir: Path, figures: bool = True) -> dict:
    """Every task of ``cfg`` for one seed: metrics ``<task>_<model>_<metric>``."""
    metrics: dict = {"config": dataclasses.asdict(cfg)}
    for task in cfg.tasks:
        for key, value in run_task(task, cfg, workdir, figures).items():
            metrics[f"{task.system}_{key}"] = value
    return metrics


def _shrink(cfg: HNNPaperConfig) -> HNNPaperConfig:
    small = tuple(
        dataclasses.replace(t, n_trajectories=min(t.n_trajectories, 10), steps=50, batch_size=None)
        for t in cfg.tasks
    )
    return dataclasses.replace(
        cfg, tasks=small, width=16, eval_states=2, eval_t1=2.0, eval_points=10, eval_tol=1e-6
    )


#: Table 1 of Greydanus et al. (2019), energy MSE baseline / HNN
SOURCE = {
    "mass-spring_baseline_energy_mse": 1.71e-1,
    "mass-spring_hnn_energy_mse": 3.84e-4,
    "pendulum_baseline_energy_mse": 4.15e-2,
    "pendulum_hnn_energy_mse": 2.49e-2,
    "two-body_baseline_energy_mse": 6.33e-2,
    "two-body_hnn_energy_mse": 3.88e-5,
}

HNN_PAPER = Experiment(
    name="HNN-PAPER",
    title="HNN paper Table 1: baseline vs HNN on mass-spring, pendulum, two-body",
    config=HNNPaperConfig(),
    quick_config=_shrink(HNNPaperConfig()),
    train_and_evaluate=train_and_evaluate,
    with_seed=lambda cfg, seed: dataclasses.replace(cfg, seed=seed),
    source=SOURCE,
    figures=("mass-spring.png", "pendulum.png", "two-body.png"),
    best_config=HNNPaperConfig(schedule="cosine", weight_decay=0.0),
    shrink=_shrink,
)
