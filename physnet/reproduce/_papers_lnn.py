"""The LNN paper's double pendulum (Cranmer et al. 2020): a softplus LNN vs a baseline vector
field, trained on random states with exact accelerations, scored by the final-time energy
error relative to the maximum potential energy."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..approximators import MLP
from ..data import Trajectories
from ..evaluation import rollout
from ..models import LNN, ConstrainedLNN, DeLaN, NeuralODE
from ..plotting import save_figure
from ..systems import ChainPendulum, DoublePendulum
from ..training import AccelerationLoss, fit
from ._common import Experiment, timed


@dataclasses.dataclass(frozen=True)
class LNNPaperConfig:
    """The recipe: states q ~ U[0, 2π)², q̇ ~ U[-qdot_max, qdot_max]² with exact q̈ targets,
    L1 acceleration loss, softplus MLP ``width`` wide, Adam. The paper resamples the states
    every epoch; physnet draws minibatches of ``batch_size`` from a pool of ``n_pool`` random
    states (a fixed pool, stated as the difference). Evaluation: ``eval_states`` initial
    states q ~ U[0, 2π)², q̇ ~ U[-eval_qdot, eval_qdot]² (physnet's choice: the paper's are
    not published in its text), rollouts to ``eval_t1`` at ``fps`` frames per second by RK4
    with ``eval_substeps`` steps per frame (dt = 0.01; a fixed step, so a model that blows up
    yields a non-finite state; an adaptive solver's step-budget failure, ``eval_max_steps``,
    counts the same), error
    |E(x̂(t1)) - E(x0)| / max V (29.4). Non-finite errors (blow-ups) are counted and left out
    of the mean (the paper's baseline number is a mean dominated by one blow-up).

    ``lnn`` and ``baseline`` train the paper's two models; ``delan`` trains a
    :class:`~physnet.models.DeLaN` (learned M(q) = LLᵀ + εI and V(q), periodic in the angles,
    ``delan_width`` x ``delan_depth`` softplus MLPs) with the same loss, steps and optimizer:
    physnet's structured answer to the same protocol. ``clnn`` trains a
    :class:`~physnet.models.ConstrainedLNN` (Finzi et al. 2020: Cartesian positions and
    velocities of the two bobs, learned V(x) ``clnn_width`` x ``clnn_depth`` and body masses,
    the rods as known constraints; a prior the paper's LNN does not have) on the same random
    states and exact accelerations mapped to Cartesian coordinates
    (:func:`cartesian_state_pool`), scored by the same true energy of its rollouts from the
    same initial states (mapped likewise). ``eval_solver`` serves every model; a Cartesian
    rollout with a fixed step is the wrong tool (RK4 with dt = 0.01 moves even the TRUE
    Cartesian chain off its rods: energy error 3.5e-4 median over the 40 states at t = 100),
    so the CLNN is scored with an adaptive solver (``"dopri8"``, rtol = atol =
    ``eval_tolerance``: the true Cartesian chain 5.8e-10)."""

    n_pool: int = 100_000
    qdot_max: float = 10.0
    width: int = 600
    depth: int = 3
    activation: str = "softplus"
    init: str = "lnn"
    steps: int = 3000
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    loss: str = "l1"
    baseline: bool = True
    lnn: bool = True
    delan: bool = False
    delan_width: int = 64
    delan_depth: int = 2
    clnn: bool = False
    clnn_width: int = 64
    clnn_depth: int = 2
    schedule: str = "constant"
    eval_states: int = 40
    eval_qdot: float = 1.0
    eval_t1: float = 100.0
    fps: float = 10.0
    eval_solver: str = "rk4"
    eval_substeps: int = 10
    eval_tolerance: float = 1e-10
    eval_max_steps: int = 100_000
    seed: int = 0


def random_state_pool(system: DoublePendulum, n: int, qdot_max: float, key) -> Trajectories:
    """``n`` independent random states (q, q̇) with exact derivatives (q̇, q̈), stored two
    per row of a :class:`Trajectories` (the times are placeholders: pointwise losses ignore
    them)."""
    kq, kv = jax.random.split(key)
    q = jax.random.uniform(kq, (n, 2), dtype=jnp.float64, minval=0.0, maxval=2 * jnp.pi)
    qdot = jax.random.uniform(kv, (n, 2), dtype=jnp.float64, minval=-qdot_max, maxval=qdot_max)
    acc = jax.vmap(system.acceleration)(q, qdot)
    states = jnp.concatenate([q, qdot], axis=-1).reshape(n // 2, 2, 4)
    derivs = jnp.concatenate([qdot, acc], axis=-1).reshape(n // 2, 2, 4)
    meta = {
        "system": system.name,
        "parameters": system.parameters(),
        "coordinates": "velocity",
        "unit_mass": False,
        "pool": "independent random states",
    }
    return Trajectories(ts=jnp.array([0.0, 1.0]), states=states, derivatives=derivs, metadata=meta)


def cartesian_state(chain: ChainPendulum, q, qdot, qddot):
    """The Cartesian state (x, ẋ) of the bobs and its derivative (ẋ, ẍ) at angles ``q``
    with angular velocity ``qdot`` and acceleration ``qddot`` (the chain's positions
    differentiated along the path q + q̇ t + q̈ t²/2 at t = 0), each ``(4N,)``."""

    def path(t):
        return chain.positions(q + qdot * t + 0.5 * qddot * t**2)

    x, v, a = path(0.0), jax.jacfwd(path)(0.0), jax.jacfwd(jax.jacfwd(path))(0.0)
    return jnp.concatenate([x, v]), jnp.concatenate([v, a])


def velocity_state_energy(chain: ChainPendulum):
    """The true energy of a Cartesian state (x, ẋ) of ``chain``'s bobs (velocities, not the
    momenta m ẋ that :class:`~physnet.systems.CartesianChainPendulum` takes)."""
    energy, d = chain.cartesian().energy, 2 * chain.n
    return lambda z: energy(z.at[d:].multiply(chain.mass))


def cartesian_state_pool(pool: Trajectories, chain: ChainPendulum) -> Trajectories:
    """:func:`random_state_pool`'s states (q, q̇) and exact (q̇, q̈) as Cartesian states
    (x, ẋ) of the bobs with their exact (ẋ, ẍ): the same motions, for the constrained
    models."""
    n = chain.n
    y, dy = pool.states.reshape(-1, 2 * n), pool.derivatives.reshape(-1, 2 * n)
    z, dz = jax.vmap(partial(cartesian_state, chain))(y[:, :n], y[:, n:], dy[:, n:])
    shape = pool.states.shape[:2] + (4 * n,)
    meta = dict(pool.metadata, system=chain.cartesian().name, parameters=chain.parameters())
    return Trajectories(
        ts=pool.ts, states=z.reshape(shape), derivatives=dz.reshape(shape), metadata=meta
    )


def shell_energy_errors(model, chain: ChainPendulum, z0s, key, samples: int = 2000):
    r"""The rollout-free estimate of the final-time energy error of an exactly conservative
    Cartesian model (a check beside the protocol, not a replacement).

    The learned flow keeps the learned energy Ê at Ê(z0), so x̂(t) stays on the level set
    {Ê = Ê(z0)} and |E(x̂(t)) − E(z0)| is bounded by how far the true energy E varies on it.
    The level set is sampled: configurations θ ~ U[0, 2π)^N and angular-velocity directions
    w ~ N(0, I) give (x, ẋ) = (r(θ), J(θ) w) on the rods; the velocity is scaled by s ≥ 0 with
    Ê(x, sẋ) = Ê(z0) (Ê is quadratic in ẋ: s² = (Ê(z0) − Ê(x, 0)) / (Ê(x, ẋ) − Ê(x, 0)));
    configurations with Ê(x, 0) > Ê(z0) are out of reach and left out.

    Returns per initial state ``(n,)`` the median and the maximum over the reachable samples of
    |E − E(z0)| / max V (NaN where no sample is reachable).
    """
    n = chain.n
    true_energy = velocity_state_energy(chain)
    kq, kw = jax.random.split(key)
    thetas = jax.random.uniform(kq, (samples, n), dtype=jnp.float64, maxval=2 * jnp.pi)
    ws = jax.random.normal(kw, (samples, n), dtype=jnp.float64)
    xs = jax.vmap(chain.positions)(thetas)
    vs = jax.vmap(lambda q, w: jax.jvp(chain.positions, (q,), (w,))[1])(thetas, ws)
    rest = jax.vmap(lambda x: model.energy(jnp.concatenate([x, jnp.zeros_like(x)])))(xs)
    moving = jax.vmap(lambda x, v: model.energy(jnp.concatenate([x, v])))(xs, vs)

    def one(z0):
        e_hat = model.energy(z0)
        s2 = (e_hat - rest) / (moving - rest)
        reach = s2 >= 0
        v = vs * jnp.sqrt(jnp.where(reach, s2, 0.0))[:, None]
        e = jax.vmap(lambda x, v_: true_energy(jnp.concatenate([x, v_])))(xs, v)
        err = jnp.where(reach, jnp.abs(e - true_energy(z0)), jnp.nan)
        return jnp.nanmedian(err), jnp.nanmax(err)

    med, top = jax.jit(jax.vmap(one))(z0s)
    scale = chain.max_potential_energy
    return np.asarray(med) / scale, np.asarray(top) / scale


def energy_errors(model, system: DoublePendulum, x0s, cfg: LNNPaperConfig, energy=None):
    """|E(x̂(t1)) - E(x0)| / max V per initial state ``(n,)``, the true energies along the
    paths, the recording times and the paths. ``energy``: the true energy of the model's
    states (default: the system's, on (q, q̇))."""
    ts = jnp.linspace(0.0, cfg.eval_t1, int(round(cfg.eval_t1 * cfg.fps)) + 1)
    xs = rollout(
        model,
        x0s,
        ts,
        solver=cfg.eval_solver,
        substeps=cfg.eval_substeps,
        rtol=cfg.eval_tolerance,
        atol=cfg.eval_tolerance,
        max_steps=cfg.eval_max_steps,
        throw=False,
    )
    if energy is None:
        energy = system.in_velocity_coordinates().energy
    e = jax.vmap(jax.vmap(energy))(xs)
    err = jnp.abs(e[:, -1] - jax.vmap(energy)(x0s)) / system.max_potential_energy
    return np.asarray(err), np.asarray(e), np.asarray(ts), xs


def train_and_evaluate(cfg: LNNPaperConfig, workdir: Path, figures: bool = True) -> dict:
    system = DoublePendulum()
    k_pool, k_eval, k_fit = jax.random.split(jax.random.key(cfg.seed), 3)
    pool = random_state_pool(system, cfg.n_pool, cfg.qdot_max, k_pool)
    kq, kv = jax.random.split(k_eval)
    x0s = jnp.concatenate(
        [
            jax.random.uniform(kq, (cfg.eval_states, 2), dtype=jnp.float64, maxval=2 * jnp.pi),
            jax.random.uniform(
                kv,
                (cfg.eval_states, 2),
                dtype=jnp.float64,
                minval=-cfg.eval_qdot,
                maxval=cfg.eval_qdot,
            ),
        ],
        axis=-1,
    )
    mlp = dict(width=cfg.width, depth=cfg.depth, activation=cfg.activation)
    models = {}
    if cfg.lnn:
        models["lnn"] = LNN(MLP(4, 1, **mlp, init=cfg.init, rngs=nnx.Rngs(cfg.seed)))
    if cfg.baseline:
        models["baseline"] = NeuralODE(MLP(4, 4, **mlp, rngs=nnx.Rngs(cfg.seed)))
    if cfg.delan:
        small = dict(width=cfg.delan_width, depth=cfg.delan_depth, activation=cfg.activation)
        rngs = nnx.Rngs(cfg.seed)
        models["delan"] = DeLaN(MLP(4, 3, **small, rngs=rngs), MLP(4, 1, **small, rngs=rngs),
                                periodic=True)  # fmt: skip
    if cfg.clnn:
        small = dict(width=cfg.clnn_width, depth=cfg.clnn_depth, activation=cfg.activation)
        potential = MLP(4, 1, **small, rngs=nnx.Rngs(cfg.seed))
        chain = ChainPendulum(2)  # the double pendulum's bobs (m1 = m2, l1 = l2)
        models["clnn"] = ConstrainedLNN(potential, chain.cartesian().constraints)
        cart_pool = cartesian_state_pool(pool, chain)
        cart_x0s = jax.vmap(lambda s: cartesian_state(chain, s[:2], s[2:], jnp.zeros(2))[0])(x0s)
    parts = [optax.add_decayed_weights(cfg.weight_decay)] if cfg.weight_decay > 0 else []
    metrics: dict = {"config": dataclasses.asdict(cfg)}
    energies = {}
    for label, model in models.items():
        lr = cfg.learning_rate
        if cfg.schedule == "cosine":
            lr = optax.cosine_decay_schedule(cfg.learning_rate, cfg.steps)
        opt = optax.chain(*parts, optax.adam(lr))
        cartesian = isinstance(model, ConstrainedLNN)
        history, seconds = timed(
            fit,
            model,
            cart_pool if cartesian else pool,
            steps=cfg.steps,
            optimizer=opt,
            loss=AccelerationLoss(cfg.loss),
            batch_size=cfg.batch_size,
            key=k_fit,
            progress=False,
        )
        err, e, ts, paths = (
            energy_errors(model, system, cart_x0s, cfg, velocity_state_energy(chain))
            if cartesian
            else energy_errors(model, system, x0s, cfg)
        )
        if cartesian:
            drift = jax.vmap(jax.vmap(model.constraint_values))(paths)[:, -1]
            metrics[f"{label}_constraint_drift"] = float(np.nanmax(np.abs(drift)))
            metrics[f"{label}_masses"] = np.asarray(model.masses()).tolist()
            shell, shell_max = shell_energy_errors(
                model, chain, cart_x0s, jax.random.fold_in(k_eval, 1)
            )
            metrics[f"{label}_shell_estimate"] = float(np.nanmean(shell))
            metrics[f"{label}_shell_max"] = float(np.nanmax(shell_max))
        finite = np.isfinite(err)
        metrics[f"{label}_energy_error"] = float(np.mean(err[finite])) if finite.any() else None
        metrics[f"{label}_energy_error_median"] = float(np.median(np.where(finite, err, np.inf)))
        metrics[f"{label}_blowups"] = int(np.sum(~finite))
        metrics[f"{label}_final_loss"] = history.final_train_loss()
        metrics[f"{label}_train_seconds"] = seconds
        energies[label] = e
    if figures:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for label, e in energies.items():
            ax.plot(ts, (e[0] - e[0, 0]) / system.max_potential_energy, label=label)
        ax.set_xlabel("t")
        ax.set_ylabel("(E(t) - E(0)) / max V")
        ax.set_title("double pendulum: true energy along the learned rollout")
        ax.legend()
        save_figure(fig, workdir / "double-pendulum-energy.png")
    return metrics


def _shrink(cfg: LNNPaperConfig) -> LNNPaperConfig:
    return dataclasses.replace(
        cfg,
        n_pool=512,
        width=16,
        depth=2,
        delan_width=8,
        clnn_width=8,
        steps=20,
        batch_size=64,
        eval_states=2,
        eval_t1=1.0,
    )


#: Cranmer et al. (2020): final-time energy error at t = 100 over 40 states
SOURCE = {"lnn_energy_error": 0.0043, "baseline_energy_error": 0.08}

LNN_PAPER = Experiment(
    name="LNN-PAPER",
    title="LNN paper: double pendulum, LNN vs baseline, final-time energy error",
    config=LNNPaperConfig(),
    quick_config=_shrink(LNNPaperConfig()),
    train_and_evaluate=train_and_evaluate,
    with_seed=lambda cfg, seed: dataclasses.replace(cfg, seed=seed),
    source=SOURCE,
    figures=("double-pendulum-energy.png",),
    #: physnet's structured model on the same protocol (issue 30): the constrained LNN in
    #: Cartesian coordinates (the rods known), scored with an adaptive solver (see
    #: LNNPaperConfig); the LNN and the baseline at the same steps come from the registered
    #: config with ``steps`` replaced (experiments/lnn_paper/README.md)
    best_config=LNNPaperConfig(
        lnn=False,
        baseline=False,
        clnn=True,
        steps=1000,
        schedule="cosine",
        learning_rate=3e-3,
        eval_solver="dopri8",
    ),
    shrink=_shrink,
)
