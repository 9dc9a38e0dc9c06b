"""Finzi, Wang & Wilson 2020's chain-pendulum protocol: trajectories cut in 5-step chunks,
RK4 inside the loss, geometric-mean relative state error over T = 3, median over the test
trajectories, beside the floor of a 1e-4 perturbation of the initial state."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .._errors import TrainingDivergedError
from ..approximators import MLP
from ..data import Trajectories, generate
from ..evaluation import rollout
from ..models import HNN, ConstrainedHNN, ConstrainedLNN, DeLaN, NeuralODE, StructuredHNN
from ..systems import ChainPendulum, constraint_drift
from ..training import TrajectoryLoss, fit
from ._common import Experiment, timed

#: the models this protocol can train: Cartesian-constrained, or in angle coordinates
MODELS = ("chnn", "clnn", "structured-hnn", "delan", "hnn", "node")


@dataclasses.dataclass(frozen=True)
class FinziChainConfig:
    """The protocol on the ``links``-link chain (m = l = 1, g = 9.8; physnet's choice: the
    source draws masses and lengths at random in [0.6, 1.4]).

    Training: ``n_train`` trajectories of ``chunk`` states dt = ``dt`` apart from random
    states (angles and angular velocities N(0, 1)), each one chunk (the source cuts longer
    trajectories and draws one chunk of 5 from each), trajectory loss over the whole chunk
    with RK4 (one step per dt) inside it, AdamW (``learning_rate`` with cosine decay,
    ``weight_decay``), ``steps`` steps of batch ``batch_size``, softplus MLPs ``width`` x
    ``depth``. Models (:data:`MODELS`): ``chnn`` (:class:`~physnet.models.ConstrainedHNN`
    in Cartesian coordinates, learned V(x) and masses, known rods), ``clnn``
    (:class:`~physnet.models.ConstrainedLNN`, the same on Cartesian positions and
    velocities), ``structured-hnn`` (periodic M(θ)⁻¹, V(θ) in angles), ``delan``
    (:class:`~physnet.models.DeLaN`, periodic M(θ), V(θ) on (θ, θ̇)), ``hnn`` and ``node``
    (MLPs on (θ, p)).

    Evaluation: ``n_test`` random initial states, rollouts to ``t1`` (RK4, ``dt`` /
    ``eval_substeps`` steps); at every frame t in (0, t1] the relative error
    |ẑ - z| / (|ẑ| + |z|) of the Cartesian state z = (positions, velocities), its geometric
    mean over the frames, and the median over the test states (``*_error``; ``None`` with
    ``*_diverged`` for a model whose training diverged). ``floor_error``:
    the same metric for the true system started 1e-4 away (the source's floor)."""

    links: int = 2
    n_train: int = 800
    chunk: int = 5
    dt: float = 0.1
    models: tuple[str, ...] = MODELS
    width: int = 256
    depth: int = 3
    steps: int = 8000
    batch_size: int = 200
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    n_test: int = 100
    t1: float = 3.0
    eval_substeps: int = 10
    seed: int = 0


def _angle_to_cartesian_velocity(system: ChainPendulum, y):
    z = system.to_cartesian(y)
    d = 2 * system.n
    return jnp.concatenate([z[:d], z[d:] / system.mass])


def relative_errors(pred, true):
    """Geometric mean over frames 1.. of |ẑ - z| / (|ẑ| + |z|), per trajectory ``(n,)``."""
    num = jnp.linalg.norm(pred - true, axis=-1)
    den = jnp.linalg.norm(pred, axis=-1) + jnp.linalg.norm(true, axis=-1)
    return jnp.exp(jnp.mean(jnp.log(num[:, 1:] / den[:, 1:]), axis=-1))


def _build(name: str, system: ChainPendulum, cfg: FinziChainConfig, rngs):
    n = system.n
    mlp = dict(width=cfg.width, depth=cfg.depth, activation="softplus", rngs=rngs)
    if name == "chnn":
        return ConstrainedHNN(MLP(2 * n, 1, **mlp), system.cartesian().constraints)
    if name == "clnn":
        return ConstrainedLNN(MLP(2 * n, 1, **mlp), system.cartesian().constraints)
    if name == "delan":
        return DeLaN(MLP(2 * n, n * (n + 1) // 2, **mlp), MLP(2 * n, 1, **mlp), periodic=True)
    if name == "structured-hnn":
        return StructuredHNN(
            MLP(2 * n, n * (n + 1) // 2, **mlp), MLP(2 * n, 1, **mlp), periodic=True
        )
    if name == "hnn":
        return HNN(MLP(2 * n, 1, **mlp))
    if name == "node":
        return NeuralODE(MLP(2 * n, 2 * n, **mlp))
    raise ValueError(f"FinziChainConfig: unknown model {name!r}; choose from {', '.join(MODELS)}")


def train_and_evaluate(cfg: FinziChainConfig, workdir: Path, figures: bool = True) -> dict:
    system = ChainPendulum(n=cfg.links)
    cart = system.cartesian()
    k_train, k_test, k_fit, k_floor = jax.random.split(jax.random.key(cfg.seed), 4)
    t_chunk = cfg.dt * (cfg.chunk - 1)
    angle_data = generate(system, cfg.n_train, t_chunk, cfg.chunk, key=k_train, substeps=50)
    cart_states = jax.vmap(jax.vmap(system.to_cartesian))(angle_data.states)
    cart_data = Trajectories(ts=angle_data.ts, states=cart_states, metadata={"system": cart.name})
    angle_only = Trajectories(ts=angle_data.ts, states=angle_data.states, metadata={})
    to_z = jax.jit(jax.vmap(jax.vmap(lambda y: _angle_to_cartesian_velocity(system, y))))
    n = system.n
    data_of = {
        "chnn": cart_data,
        "clnn": Trajectories(ts=angle_data.ts, states=to_z(angle_data.states), metadata={}),
        "delan": Trajectories(
            ts=angle_data.ts,
            states=jax.vmap(jax.vmap(system.to_velocity))(angle_data.states),
            metadata={},
        ),
    }
    y0s = system.sample_initial_states(k_test, cfg.n_test)
    ts = jnp.linspace(0.0, cfg.t1, int(round(cfg.t1 / cfg.dt)) + 1)
    true_paths = rollout(system.vector_field, y0s, ts, substeps=10 * cfg.eval_substeps)
    true_z = to_z(true_paths)
    nudged = y0s + 1e-4 * jax.random.normal(k_floor, y0s.shape)
    floor = relative_errors(to_z(rollout(system.vector_field, nudged, ts, substeps=100)), true_z)
    metrics: dict = {"config": dataclasses.asdict(cfg), "floor_error": float(np.median(floor))}
    loss = TrajectoryLoss(cfg.chunk, solver="rk4", substeps=1)
    for name in cfg.models:
        model = _build(name, system, cfg, nnx.Rngs(cfg.seed))
        data = data_of.get(name, angle_only)
        schedule = optax.cosine_decay_schedule(cfg.learning_rate, cfg.steps)
        opt = optax.adamw(schedule, weight_decay=cfg.weight_decay)
        try:
            history, seconds = timed(fit, model, data, steps=cfg.steps, optimizer=opt, loss=loss,
                                     batch_size=cfg.batch_size, key=k_fit, progress=False)  # fmt: skip
        except TrainingDivergedError as err:  # reported as a miss, not hidden
            metrics[f"{name}_error"] = None
            metrics[f"{name}_diverged"] = str(err).split(";")[0]
            continue
        if name in ("chnn", "clnn"):
            start = system.to_cartesian if name == "chnn" else partial(
                _angle_to_cartesian_velocity, system
            )  # fmt: skip
            z0s = jax.vmap(model.project)(jax.vmap(start)(y0s))
            paths = rollout(model, z0s, ts, substeps=cfg.eval_substeps)
            d = 2 * system.n
            pred = paths
            if name == "chnn":  # momenta to velocities with the learned masses
                masses = jnp.repeat(model.masses(), 2)
                pred = jnp.concatenate(
                    [paths[..., :d], paths[..., d:] / masses[None, None]], axis=-1
                )
            drift = jax.vmap(lambda p, c=model.constraints: constraint_drift(c, p))(paths)
            metrics[f"{name}_constraint_drift"] = float(
                np.median(np.max(np.asarray(drift), axis=-1))
            )
        elif name == "delan":
            paths = rollout(model, jax.vmap(system.to_velocity)(y0s), ts,
                            substeps=cfg.eval_substeps)  # fmt: skip
            canonical = jax.vmap(jax.vmap(lambda s: system.to_canonical(s[:n], s[n:])))(paths)
            pred = to_z(canonical)
        else:
            pred = to_z(rollout(model, y0s, ts, substeps=cfg.eval_substeps))
        err = np.asarray(relative_errors(pred, true_z))
        metrics[f"{name}_error"] = float(np.median(np.where(np.isfinite(err), err, np.inf)))
        metrics[f"{name}_final_loss"] = history.final_train_loss()
        metrics[f"{name}_train_seconds"] = seconds
    return metrics


def _shrink(cfg: FinziChainConfig) -> FinziChainConfig:
    return dataclasses.replace(
        cfg, n_train=16, width=8, depth=2, steps=5, batch_size=8, n_test=2, t1=0.3
    )


#: Finzi et al. 2020, 2-link chain, N = 800 trajectories, 8000 steps (median over 100 test
#: trajectories of the geometric-mean relative error over T = 3)
SOURCE = {
    "chnn_error": 9.3e-5,
    "clnn_error": 1.0e-4,
    "delan_error": 7.5e-4,
    "hnn_error": 1.08e-3,
    "node_error": 4.55e-2,
    "floor_error": 5.7e-5,
}

FINZI_CHAINS = Experiment(
    name="FINZI-CHAINS",
    title="Finzi et al. 2020: chain pendulum, constrained vs structured vs plain models",
    config=FinziChainConfig(),
    quick_config=_shrink(FinziChainConfig()),
    train_and_evaluate=train_and_evaluate,
    with_seed=lambda cfg, seed: dataclasses.replace(cfg, seed=seed),
    source=SOURCE,
    shrink=_shrink,
    columns=tuple(f"{name}_error" for name in MODELS) + ("floor_error",),
)
