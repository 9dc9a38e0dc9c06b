"""Identification from states and measured inputs: train under one random excitation, forecast
under different ones.

Data: :class:`~physnet.systems.DrivenDuffing` (α = -1, β = 1, δ = 0.3, a force u) and
:class:`~physnet.systems.DrivenPendulum` (m = l = 1, g = 9.81, friction 0.1, a torque u);
``n_train`` trajectories on [0, ``t1``] at ``n_points`` times, each driven by its own
random-phase multisine (rms ``rms``, 10 angular frequencies up to ``max_frequency``), initial
states of the system's default distribution. The test set is ``n_test`` new initial states,
each simulated twice, under two inputs none of the training trajectories saw: one linear chirp
(``rms`` amplitude, 0.2 to ``max_frequency`` rad/s over ``t1``) and one step (u = 0 before
``step_time``, ``step_height`` from it on; ``step_time`` is a sample time). Optional
N(0, σ²) noise on the training states and derivatives (``noises``); the test records are clean.

Models: the neural ODE f(y, u), the port-Hamiltonian model ẏ = (J - R)∇H + G u (friction R,
a constant learned gain G = (0, b)) and the Lagrangian model with generalised forces
(d/dt ∂L/∂q̇ = ∂L/∂q - γq̇ + b u, L = q̇²/2 + L_NN(q, q̇)), each with an MLP of ``width`` x
``depth`` (tanh; softplus for the LNN, whose mass matrix needs a smooth, non-odd network),
trained by derivative matching with Adam at ``learning_rate`` for ``steps`` full-batch steps.
Both systems have unit mass (m l² = 1), so their canonical state (q, p) is (q, q̇): the LNN
trains on the same arrays as the others.

Metric: the forecast RMSE over the whole test horizon, each test trajectory rolled out from its
first state under its input, against the recorded states: under the chirp the cubic
interpolation of its samples (as a measured input would be), under the step the exact step,
integrated in two pieces (before and after the jump, a constant input in each) so that no
integrator step straddles the discontinuity. Read-outs: the learned input gain (true 1) and
damping γ̂; for the LNN both are divided by its learned mass ∂²L/∂q̇² (median over the
training states), i.e. the gain and damping rate of q̈ that a unit-mass model reads.
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
from ..data import generate
from ..evaluation import rollout
from ..signals import Chirp, Multisine, Step, Zero
from ..systems import DrivenDuffing, DrivenPendulum
from ..training import fit
from ._common import median_range_text, study

SYSTEMS = {
    "driven-duffing": lambda: DrivenDuffing(),
    "driven-pendulum": lambda: DrivenPendulum(friction=0.1),
}

#: the test inputs, in the table's column order
TEST_INPUTS = ("chirp", "step")

#: RK4 steps per sample interval: the test records (as :func:`physnet.data.generate`) and the
#: forecasts
TRUTH_SUBSTEPS, FORECAST_SUBSTEPS = 100, 4


@dataclasses.dataclass(frozen=True)
class InputsStudyConfig:
    """The study's settings (see the module's docstring)."""

    systems: tuple[str, ...] = ("driven-duffing", "driven-pendulum")
    models: tuple[str, ...] = ("node", "port-hnn", "lnn")
    noises: tuple[float, ...] = (0.0, 0.01, 0.05)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_train: int = 20
    n_test: int = 5
    t1: float = 10.0
    n_points: int = 101
    rms: float = 1.0
    max_frequency: float = 3.0
    step_time: float = 2.0
    step_height: float = 1.0
    steps: int = 1500
    learning_rate: float = 3e-3
    width: int = 32
    depth: int = 2


def step_index(ts, step_time: float) -> int:
    """The index of the sample time at which the step switches on (it must be one)."""
    ts = np.asarray(ts)
    k = int(np.argmin(np.abs(ts - step_time)))
    if not (0 < k < ts.size - 1 and abs(ts[k] - step_time) <= 1e-9 * max(1.0, abs(step_time))):
        raise ConfigError(f"the step time {step_time} must be an inner sample time")
    return k


def step_rollout(field, y0, ts, step_time: float, height: float, substeps: int):
    """The rollout under the step u = 0 for t < ``step_time``, ``height`` after, exactly: RK4
    from ``y0`` ``(B, d)`` to the step's sample time under u = 0, then on from there under the
    constant ``height`` (no step straddles the jump; a plain rollout of :class:`Step` would give
    its last stage before the jump the value after it). ``field``: a model with an input port
    or a driven system's ``vector_field``. Returns ``(B, T, d)``."""
    ts = jnp.asarray(ts)
    k = step_index(ts, step_time)
    before = rollout(field, y0, ts[: k + 1], substeps=substeps, inputs=Zero())
    on = Step(height, t_step=float(ts[0]) - 1.0)  # the constant ``height`` on [ts[k], ...)
    after = rollout(field, before[:, -1], ts[k:], substeps=substeps, inputs=on)
    return jnp.concatenate([before, after[:, 1:]], axis=1)


def make_data(system, cfg: InputsStudyConfig, seed: int, noise: float):
    """Training data under per-trajectory multisines; test data under one chirp, and the same
    initial states under the step: ``(train, test, step_states)``."""
    k_train, k_test, k_input, k_noise = jax.random.split(jax.random.key(seed), 4)
    excitations = [
        Multisine.random(k, rms=cfg.rms, max_frequency=cfg.max_frequency)
        for k in jax.random.split(k_input, cfg.n_train)
    ]
    train = generate(system, cfg.n_train, cfg.t1, cfg.n_points, key=k_train, inputs=excitations)
    if noise > 0:
        train = train.with_noise(noise, key=k_noise)
    chirp = Chirp(cfg.rms, 0.2, cfg.max_frequency, cfg.t1)
    test = generate(
        system, cfg.n_test, cfg.t1, cfg.n_points, key=k_test, inputs=chirp,
        substeps=TRUTH_SUBSTEPS,
    )  # fmt: skip
    step_states = step_rollout(
        system.vector_field, test.y0, test.ts, cfg.step_time, cfg.step_height, TRUTH_SUBSTEPS
    )
    return train, test, step_states


def step_inputs(ts, cfg: InputsStudyConfig) -> np.ndarray:
    """The step's samples ``(T, 1)`` at ``ts`` (u = ``step_height`` from its sample time on)."""
    k = step_index(ts, cfg.step_time)
    u = np.zeros((np.size(ts), 1))
    u[k:] = cfg.step_height
    return u


def _build(kind: str, cfg: InputsStudyConfig, seed: int):
    options = {"activation": "tanh"}
    if kind == "lnn":  # softplus and L = q̇²/2 + L_NN: the presets; friction as the port model's
        options = {"activation": "softplus", "kinetic": 1.0, "dissipation": "friction"}
    return build_model(
        kind, 2, "mlp", seed=seed, input_size=1, width=cfg.width, depth=cfg.depth, **options
    )


def lnn_readout(model, states) -> dict[str, float]:
    """The LNN's gain and damping divided by its learned mass ∂²L/∂q̇² (median over
    ``states`` ``(N, 2)``), and that mass's range over the states."""
    raw = model.readout()
    masses = np.asarray(jax.vmap(model.mass_matrix)(jnp.asarray(states)))[:, 0, 0]
    mass = float(np.median(masses))
    return {
        "input_gain": raw["input_gain_1_1"] / mass,
        "gamma_hat": raw["gamma_hat"] / mass,
        "mass_median": mass, "mass_min": float(masses.min()), "mass_max": float(masses.max()),
    }  # fmt: skip


def _rmse(forecast, truth):
    rmse = float(jnp.sqrt(jnp.mean((forecast - truth) ** 2)))
    return rmse if np.isfinite(rmse) else None


def run_one(system_name: str, kind: str, seed: int, noise: float, cfg: InputsStudyConfig):
    train, test, step_states = make_data(SYSTEMS[system_name](), cfg, seed, noise)
    model = _build(kind, cfg, seed)
    t0 = time.perf_counter()
    fit(model, train, steps=cfg.steps, optimizer=optax.adam(cfg.learning_rate), progress=False)
    seconds = time.perf_counter() - t0
    chirp = rollout(
        model, test.y0, test.ts, substeps=FORECAST_SUBSTEPS, inputs=test.input_signals()
    )
    step = step_rollout(model, test.y0, test.ts, cfg.step_time, cfg.step_height, FORECAST_SUBSTEPS)
    row = {
        "system": system_name, "model": kind, "seed": seed, "noise": noise,
        "forecast_rmse": _rmse(chirp, test.states), "step_rmse": _rmse(step, step_states),
        "seconds": seconds,
    }  # fmt: skip
    if kind == "lnn":
        row |= lnn_readout(model, np.asarray(train.states).reshape(-1, 2))
        return row
    readout = model.readout()
    if "input_gain_1_1" in readout:
        row["input_gain"] = readout["input_gain_1_1"]
        row["gamma_hat"] = readout.get("gamma_hat")
    return row


def _median_range(values) -> str:
    """``median [min, max]`` over the finite values, and how many diverged (None)."""
    text = median_range_text(values, "diverged")
    missing = sum(v is None for v in values)
    return text + (
        f" ({missing} of {len(values)} diverged)" if missing and text != "diverged" else ""
    )


def table(rows, cfg: InputsStudyConfig) -> str:
    lines = [
        "| system | noise σ | model | forecast RMSE under the chirp | forecast RMSE under the "
        "step | learned gain b̂ (true 1) | γ̂ | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for system in cfg.systems:
        for noise in cfg.noises:
            for kind in cfg.models:
                sel = [
                    r for r in rows
                    if r["system"] == system and r["model"] == kind and r["noise"] == noise
                ]  # fmt: skip
                if not sel:
                    continue
                gain = _median_range([r.get("input_gain") for r in sel]) if kind != "node" else "-"
                gamma = _median_range([r.get("gamma_hat") for r in sel]) if kind != "node" else "-"
                lines.append(
                    f"| {system} | {noise:g} | {kind} | "
                    f"{_median_range([r['forecast_rmse'] for r in sel])} | "
                    f"{_median_range([r['step_rmse'] for r in sel])} | {gain} | {gamma} | "
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
    return dataclasses.replace(
        cfg, seeds=(0,), noises=(0.0,), steps=20, n_train=4, n_test=2, n_points=31
    )


INPUTS_STUDY = study(
    "INPUTS-STUDY",
    "identification under measured inputs: trained under multisines, forecast under a chirp "
    "and a step",
    InputsStudyConfig(),
    train_and_evaluate,
    _shrink,
)
