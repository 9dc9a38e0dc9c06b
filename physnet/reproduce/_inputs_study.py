"""Identification from states and measured inputs: train under one random excitation, forecast
under a different one.

Data: :class:`~physnet.systems.DrivenDuffing` (α = -1, β = 1, δ = 0.3, a force u) and
:class:`~physnet.systems.DrivenPendulum` (m = l = 1, g = 9.81, friction 0.1, a torque u);
``n_train`` trajectories on [0, ``t1``] at ``n_points`` times, each driven by its own
random-phase multisine (rms ``rms``, 10 angular frequencies up to ``max_frequency``), initial
states of the system's default distribution; the test set is ``n_test`` new initial states
driven by one linear chirp (``rms`` amplitude, 0.2 to ``max_frequency`` rad/s over ``t1``), an
input none of the training trajectories saw. Optional N(0, σ²) noise on the training states
and derivatives (``noises``).

Models: the neural ODE f(y, u) and the port-Hamiltonian model ẏ = (J - R)∇H + G u (friction
R, a constant learned gain G = (0, b)), each an MLP of ``width`` x ``depth`` (tanh), trained
by derivative matching with Adam at ``learning_rate`` for ``steps`` full-batch steps.

Metric: the forecast RMSE over the whole test horizon, each test trajectory rolled out from its
first state under its own recorded input (cubic interpolation of the samples), against the
recorded states; for the port model the learned gain b̂ (true 1) and damping γ̂.
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
from ..data import generate
from ..evaluation import rollout
from ..signals import Chirp, Multisine
from ..systems import DrivenDuffing, DrivenPendulum
from ..training import fit
from ._common import median_range_text, study

SYSTEMS = {
    "driven-duffing": lambda: DrivenDuffing(),
    "driven-pendulum": lambda: DrivenPendulum(friction=0.1),
}


@dataclasses.dataclass(frozen=True)
class InputsStudyConfig:
    """The study's settings (see the module's docstring)."""

    systems: tuple[str, ...] = ("driven-duffing", "driven-pendulum")
    models: tuple[str, ...] = ("node", "port-hnn")
    noises: tuple[float, ...] = (0.0, 0.05)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_train: int = 20
    n_test: int = 5
    t1: float = 10.0
    n_points: int = 101
    rms: float = 1.0
    max_frequency: float = 3.0
    steps: int = 1500
    learning_rate: float = 3e-3
    width: int = 32
    depth: int = 2


def make_data(system, cfg: InputsStudyConfig, seed: int, noise: float):
    """Training data under per-trajectory multisines, test data under one chirp."""
    k_train, k_test, k_input, k_noise = jax.random.split(jax.random.key(seed), 4)
    excitations = [
        Multisine.random(k, rms=cfg.rms, max_frequency=cfg.max_frequency)
        for k in jax.random.split(k_input, cfg.n_train)
    ]
    train = generate(system, cfg.n_train, cfg.t1, cfg.n_points, key=k_train, inputs=excitations)
    if noise > 0:
        train = train.with_noise(noise, key=k_noise)
    chirp = Chirp(cfg.rms, 0.2, cfg.max_frequency, cfg.t1)
    test = generate(system, cfg.n_test, cfg.t1, cfg.n_points, key=k_test, inputs=chirp)
    return train, test


def run_one(system_name: str, kind: str, seed: int, noise: float, cfg: InputsStudyConfig):
    train, test = make_data(SYSTEMS[system_name](), cfg, seed, noise)
    model = build_model(
        kind, 2, "mlp", seed=seed, input_size=1, width=cfg.width, depth=cfg.depth,
        activation="tanh",
    )  # fmt: skip
    t0 = time.perf_counter()
    fit(model, train, steps=cfg.steps, optimizer=optax.adam(cfg.learning_rate), progress=False)
    seconds = time.perf_counter() - t0
    forecast = rollout(model, test.y0, test.ts, substeps=4, inputs=test.input_signals())
    rmse = float(jnp.sqrt(jnp.mean((forecast - test.states) ** 2)))
    row = {
        "system": system_name, "model": kind, "seed": seed, "noise": noise,
        "forecast_rmse": rmse if np.isfinite(rmse) else None, "seconds": seconds,
    }  # fmt: skip
    readout = model.readout()
    if "input_gain_1_1" in readout:
        row["input_gain"] = readout["input_gain_1_1"]
        row["gamma_hat"] = readout.get("gamma_hat")
    return row


def _median_range(values) -> str:
    return median_range_text(values, "diverged")


def table(rows, cfg: InputsStudyConfig) -> str:
    lines = [
        "| system | noise σ | model | forecast RMSE under the chirp | learned gain b̂ (true 1) "
        "| γ̂ | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for system in cfg.systems:
        for noise in cfg.noises:
            for kind in cfg.models:
                sel = [
                    r for r in rows
                    if r["system"] == system and r["model"] == kind and r["noise"] == noise
                ]  # fmt: skip
                gain = _median_range([r.get("input_gain") for r in sel]) if kind != "node" else "-"
                gamma = _median_range([r.get("gamma_hat") for r in sel]) if kind != "node" else "-"
                lines.append(
                    f"| {system} | {noise:g} | {kind} | "
                    f"{_median_range([r['forecast_rmse'] for r in sel])} | {gain} | {gamma} | "
                    f"{np.median([r['seconds'] for r in sel]):.1f} |"
                )
    return "\n".join(lines) + "\n"


def train_and_evaluate(cfg: InputsStudyConfig, workdir: Path, figures: bool = True) -> dict:
    """Every system, noise level, model and seed; writes ``results.json`` and ``table.md``
    (medians and [min, max] over the seeds)."""
    rows = []
    for system in cfg.systems:
        for noise in cfg.noises:
            for kind in cfg.models:
                for seed in cfg.seeds:
                    rows.append(run_one(system, kind, seed, noise, cfg))
                    print(json.dumps(rows[-1]), flush=True)
    text = table(rows, cfg)
    results = {"rows": rows, "jax": jax.__version__}
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    (workdir / "table.md").write_text(text)
    return {"config": dataclasses.asdict(cfg), **results, "table": text}


def _shrink(cfg: InputsStudyConfig) -> InputsStudyConfig:
    return dataclasses.replace(cfg, seeds=(0,), steps=20, n_train=4, n_test=2, n_points=31)


INPUTS_STUDY = study(
    "INPUTS-STUDY",
    "identification under measured inputs: trained under multisines, forecast under a chirp",
    InputsStudyConfig(),
    train_and_evaluate,
    _shrink,
)
