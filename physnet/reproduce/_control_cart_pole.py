"""Control with a learned model: balance the TRUE cart-pole by an LQR designed on the
linearisation of a model identified from driven data (issue 28, item 5).

Data: :class:`~physnet.systems.CartPole` (M = 1, m = 0.1, l = 0.5, g = 9.81, frictionless, a
force u on the cart), ``n_train`` trajectories on [0, ``t1``] at ``n_points`` times from
initial states near upright: x uniform in ±``x_max``, θ - π uniform in ±``angle_max``, ẋ and
θ̇ uniform in ±``speed_max`` (then p = M(q) q̇), each driven by its own random-phase
multisine (rms ``rms`` N, angular frequencies up to ``max_frequency``); exact derivatives.

Models (``models``): the port-Hamiltonian model ẏ = (J - R)∇Ĥ + Ĝu (friction R, a constant
learned gain Ĝ = (0, B̂)ᵀ, B̂ ``(2, 1)``; the true B = (1, 0)ᵀ) and the neural ODE f(y, u),
each an MLP of ``width`` x ``depth`` (tanh), derivative matching with Adam at
``learning_rate`` for ``steps`` full-batch steps, initialisation seed = data seed.

Controller: :class:`~physnet.control.LQR` of the model's linearisation (A, B) = (∂f̂/∂y,
∂f̂/∂u) at the upright equilibrium y* = (0, π, 0, 0), u* = 0, weights Q = diag(``lqr_weights``)
on (x, θ, p_x, p_θ), R = ``input_weight``, saturated at |u| <= ``bound``, sampling the true
state every ``period`` s and holding the force.

Trials: the TRUE cart-pole from each start (x, θ - π) of ``starts`` at rest for ``duration``
s. Success: |x| < ``tolerance[0]`` m and |θ - π| < ``tolerance[1]`` rad (mod 2π) from a time
no later than ``settle_by`` s on to the end of the run. The LQR designed on the true field is
the reference row; for each design the largest real part of the eigenvalues of the TRUE
linearisation closed by the learned gain, A - B K̂, says whether it stabilises the true
upright state at all.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._build import build_model
from .._errors import ConfigError
from ..control import LQR, closed_loop, settling_time
from ..control._base import controlled_field
from ..data import generate
from ..signals import Multisine
from ..systems import CartPole
from ..training import fit
from ._common import median_range_text, study

UPRIGHT = (0.0, np.pi, 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class CartPoleControlConfig:
    """The study's settings (see the module's docstring)."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_train: int = 64
    t1: float = 1.5
    n_points: int = 31
    x_max: float = 0.5
    angle_max: float = 0.6
    speed_max: tuple[float, float] = (0.5, 1.0)
    rms: float = 1.0
    max_frequency: float = 5.0
    models: tuple[str, ...] = ("port-hnn", "node")
    steps: int = 2000
    learning_rate: float = 3e-3
    width: int = 32
    depth: int = 2
    lqr_weights: tuple[float, float, float, float] = (1.0, 10.0, 1.0, 1.0)
    input_weight: float = 0.1
    bound: float = 10.0
    period: float = 0.01
    starts: tuple[tuple[float, float], ...] = ((0.0, 0.2), (0.0, -0.3), (0.5, 0.3), (-0.5, -0.2))
    duration: float = 15.0
    settle_by: float = 10.0
    tolerance: tuple[float, float] = (0.1, 0.05)


def training_data(cfg: CartPoleControlConfig, seed: int):
    """Cart-pole trajectories near upright under per-trajectory multisine forces."""
    system = CartPole()
    k_q, k_v, k_u = jax.random.split(jax.random.key(seed), 3)
    centre = jnp.array([[0.0, np.pi]])
    spread = jnp.array([[cfg.x_max, cfg.angle_max]])
    q0 = centre + jax.random.uniform(k_q, (cfg.n_train, 2), minval=-spread, maxval=spread)
    speed = jnp.asarray([cfg.speed_max])
    v0 = jax.random.uniform(k_v, (cfg.n_train, 2), minval=-speed, maxval=speed)
    y0 = jax.vmap(system.to_canonical)(q0, v0)
    excitations = [
        Multisine.random(k, rms=cfg.rms, max_frequency=cfg.max_frequency)
        for k in jax.random.split(k_u, cfg.n_train)
    ]
    return generate(
        system, cfg.n_train, cfg.t1, cfg.n_points, key=k_q, initial_states=y0, inputs=excitations
    )


def design(source, cfg: CartPoleControlConfig) -> LQR:
    """The LQR of ``source``'s linearisation at upright (a model or the true system)."""
    return LQR(
        source, jnp.asarray(UPRIGHT), q=np.diag(cfg.lqr_weights), r=[[cfg.input_weight]],
        periodic=(1,), bound=cfg.bound,
    )  # fmt: skip


def _trial(model: str, seed, start, lqr: LQR, cfg: CartPoleControlConfig) -> dict:
    """One closed loop on the true cart-pole from ``start`` = (x, θ - π) at rest."""
    y0 = jnp.asarray(UPRIGHT) + jnp.array([start[0], start[1], 0.0, 0.0])
    n = round(cfg.duration / cfg.period)
    ts, ys, us = closed_loop(CartPole(), lqr, y0, period=cfg.period, n_samples=n)
    tolerance = [*cfg.tolerance, np.inf, np.inf]
    settled = settling_time(ts, ys, jnp.asarray(UPRIGHT), tolerance, periodic=(1,))
    angle = (float(ys[-1, 1]) - np.pi + np.pi) % (2 * np.pi) - np.pi
    return {
        "model": model, "seed": seed, "start": list(start),
        "success": bool(settled <= cfg.settle_by),
        "settling_time": settled if np.isfinite(settled) else None,
        "final_x": float(ys[-1, 0]), "final_angle_error": abs(angle),
        "max_input": float(np.max(np.abs(np.asarray(us)))),
    }  # fmt: skip


def evaluate_design(model: str, seed, source, cfg: CartPoleControlConfig):
    """The design's summary and its trials: ``(design_row, trial_rows)``; a model whose
    linearisation has no stabilising LQR is a miss on every start, with the reason."""
    t0 = time.perf_counter()
    row = {"model": model, "seed": seed}
    try:
        lqr = design(source, cfg)
    except ConfigError as error:
        row.update(error=str(error), seconds=time.perf_counter() - t0)
        trials = [
            {"model": model, "seed": seed, "start": list(s), "success": False,
             "settling_time": None, "final_x": None, "final_angle_error": None,
             "max_input": None}
            for s in cfg.starts
        ]  # fmt: skip
        return row, trials
    true = design(CartPole(), cfg)
    closed = np.linalg.eigvals(true.a - true.b @ lqr.gain)
    field, _ = controlled_field("CONTROL-CART-POLE", source)
    rest = field(0.0, jnp.asarray(UPRIGHT), jnp.zeros(1))
    row.update(
        gain=np.asarray(lqr.gain).ravel().tolist(),
        input_column=np.asarray(lqr.b).ravel().tolist(),
        field_at_upright=np.asarray(rest).tolist(),
        true_loop_max_real=float(np.max(closed.real)),
    )
    trials = [_trial(model, seed, s, lqr, cfg) for s in cfg.starts]
    row["successes"] = sum(t["success"] for t in trials)
    row["seconds"] = time.perf_counter() - t0
    return row, trials


def run_seed(seed: int, cfg: CartPoleControlConfig):
    """Train every model on one seed's data and balance the true cart-pole with each one's
    LQR: ``(design_rows, trial_rows)``."""
    train = training_data(cfg, seed)
    designs, trials = [], []
    for kind in cfg.models:
        model = build_model(
            kind, 4, "mlp", seed=seed, input_size=1, width=cfg.width, depth=cfg.depth,
            activation="tanh",
        )  # fmt: skip
        t0 = time.perf_counter()
        history = fit(
            model, train, steps=cfg.steps, optimizer=optax.adam(cfg.learning_rate), progress=False
        )
        seconds = time.perf_counter() - t0
        row, rows = evaluate_design(kind, seed, model, cfg)
        row["train_seconds"] = seconds
        row["train_loss"] = float(np.asarray(history.train_loss)[-1])
        readout = model.readout()
        if "input_gain_1_1" in readout:
            row["input_gain"] = [readout["input_gain_1_1"], readout["input_gain_2_1"]]
        designs.append(row)
        trials += rows
    return designs, trials


def table(designs, trials, cfg: CartPoleControlConfig) -> str:
    lines = [
        f"| model | succeeded (|x| < {cfg.tolerance[0]:g} m, |θ - π| < {cfg.tolerance[1]:g} "
        f"rad by {cfg.settle_by:g} s, held to {cfg.duration:g} s) | settling time (s), when "
        "settled | final |x| (m) | final |θ - π| (rad) | max |u| (N) |",
        "|---|---|---|---|---|---|",
    ]
    for model in ("true", *cfg.models):
        sel = [t for t in trials if t["model"] == model]
        if not sel:
            continue
        final_x = [None if t["final_x"] is None else abs(t["final_x"]) for t in sel]
        lines.append(
            f"| {model} | {sum(t['success'] for t in sel)} of {len(sel)} | "
            f"{median_range_text([t['settling_time'] for t in sel])} | {median_range_text(final_x)} | "
            f"{median_range_text([t['final_angle_error'] for t in sel])} | "
            f"{median_range_text([t['max_input'] for t in sel])} |"
        )
    lines += [
        "",
        "| model | seed | successes | ∂f̂/∂u at upright (x, θ, p_x, p_θ); true (0, 0, 1, 0) "
        "| learned gain B̂ (true (1, 0)) | LQR gain K̂ | max Re eig(A - B K̂), true A, B |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in designs:
        fmt = lambda v: "-" if v is None else "(" + ", ".join(f"{x:.4g}" for x in v) + ")"  # noqa: E731
        successes = d.get("successes", 0)
        loop = d.get("true_loop_max_real")
        lines.append(
            f"| {d['model']} | {'-' if d['seed'] is None else d['seed']} | "
            f"{successes} of {len(cfg.starts)} | {fmt(d.get('input_column'))} | "
            f"{fmt(d.get('input_gain'))} | {fmt(d.get('gain'))} | "
            f"{'-' if loop is None else f'{loop:.3g}'} |"
        )
    return "\n".join(lines) + "\n"


def train_and_evaluate(cfg: CartPoleControlConfig, workdir: Path, figures: bool = True) -> dict:
    """The true-model reference, then every seed; writes ``results.json`` and ``table.md``."""
    t0 = time.perf_counter()
    designs, trials = [], []
    row, rows = evaluate_design("true", None, CartPole(), cfg)
    designs.append(row)
    trials += rows
    print(json.dumps(row), flush=True)
    for seed in cfg.seeds:
        seed_designs, seed_trials = run_seed(seed, cfg)
        designs += seed_designs
        trials += seed_trials
        for d in seed_designs:
            print(json.dumps(d), flush=True)
    text = table(designs, trials, cfg)
    results = {
        "designs": designs, "trials": trials, "seconds": time.perf_counter() - t0,
        "jax": jax.__version__,
    }  # fmt: skip
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    (workdir / "table.md").write_text(text)
    return {"config": dataclasses.asdict(cfg), **results, "table": text}


def _shrink(cfg: CartPoleControlConfig) -> CartPoleControlConfig:
    return dataclasses.replace(
        cfg, seeds=(0,), steps=20, n_train=4, n_points=11, starts=cfg.starts[:1], duration=0.5,
        settle_by=0.25,
    )  # fmt: skip


CONTROL_CART_POLE = study(
    "CONTROL-CART-POLE",
    "control with a learned model: balance the true cart-pole by the LQR of a port-HNN's or "
    "a neural ODE's linearisation",
    CartPoleControlConfig(),
    train_and_evaluate,
    _shrink,
)
