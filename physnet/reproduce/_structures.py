"""New structures (issue 16): the neural symplectic form on non-canonical coordinates, the
port-Hamiltonian model on the forced Duffing oscillator, and the chaotic forced Duffing.

(a) Double pendulum in (q, q̇) (``DoublePendulum().in_velocity_coordinates()``: the
    coordinates measured data come in; the true 2-form there is not the canonical one):
    HNN (wrong structure: it imposes W = -J on (q, q̇)) vs NSF vs LNN, all with softplus
    MLPs (width ``--width``, depth 2) trained by Adam (``--dp-lr``) on the derivative loss with exact
    (q̇, q̈); read-out: the long-rollout energy error max_t |E(x̂(t)) - E(x0)| / |E(x0)| of the
    TRUE energy, median over test initial states, then median [min, max] over seeds.
(b) Forced Duffing, γ = 0.2 (the port-HNN paper's setting: α = -1, β = 1, δ = 0.3, ω = 1.2;
    y0 ~ U[-2.5, 2.5]², dt 0.01, t to 10, 10 training / 25 test trajectories): PortHNN
    (KAN [2, 1] H, Friction, one-term FourierForce) on the derivative loss; read-out: the
    learned forcing amplitude A, frequency ω and damping δ (relative errors), an ensemble of
    the seeds' models for the uncertainty, H read as a formula. Baseline: a neural ODE given
    t as an input, f(t, q, p) (MLP 3 -> 2), read as A, ω from a least-squares cos fit of
    f_p(t, 0, 0) and δ = -∂f_p/∂p(t, 0, 0) averaged over t. Test rollout RMSE to t = 10 for both.
    The frequency is found by gradient descent only inside its basin, so every fit starts
    from ``--omega-starts`` (a short Adam run each) and continues the one of least loss.
(c) Chaotic case ẍ = x - x³ - 0.1ẋ + 0.39 cos 1.4t, same protocol as (b): stroboscopic
    Poincaré sections (period 2π/ω) of the true and learned flows, the largest Lyapunov
    exponent of both (variational equation, renormalised every period), and the short-horizon
    error growth of test rollouts against e^{λ₁ t}.

    physnet reproduce --experiments structures                  # the README's numbers
    physnet reproduce --experiments structures --quick --out /tmp/s   # a smoke run

The settings: :class:`StructuresConfig` (the former ``--options`` of
``experiments/structures/main.py``, same names).
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
from flax import nnx

from ..analysis import error_growth, largest_lyapunov_exponent, stroboscopic_section
from ..approximators import KAN, MLP, update_grids
from ..data import generate
from ..evaluation import derivative_mse, energy_drift, rollout, trajectory_rmse
from ..interpret import read_hamiltonian
from ..models import (
    HNN,
    LNN,
    AbstractVectorField,
    Ensemble,
    FourierForce,
    Friction,
    NeuralSymplecticForm,
    PortHNN,
)
from ..systems import DoublePendulum, ForcedDuffing
from ..training import fit
from ._common import study


@dataclasses.dataclass(frozen=True)
class StructuresConfig:
    """``parts``: which of (a), (b), (c) run, over ``seeds``. (b), (c): ``n_train`` /
    ``n_test`` trajectories of ``points`` points to t = 10; PortHNN with a KAN H (grid
    ``grid``) and a Fourier force (frequency at least ``min_frequency``), ``start_steps`` Adam
    steps at ``lr`` from each of ``omega_starts``, then ``steps`` in all; the baseline MLP
    ``width`` wide; (c): λ₁ over ``lyapunov_t1``, ``n_section`` periods of the section.
    (a): ``dp_trajectories`` of ``dp_points`` points to ``dp_t1`` (initial states of std
    ``dp_y0_std``), softplus MLPs ``width`` wide, ``dp_steps`` Adam steps at ``dp_lr``
    (``dp_schedule``: "warmup-cosine" with ``dp_warmup`` steps, or "constant"), judged on
    ``dp_test`` rollouts to ``dp_horizon``."""

    parts: str = "abc"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    width: int = 32
    lr: float = 1e-2
    steps: int = 2000
    start_steps: int = 200
    omega_starts: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
    min_frequency: float = 0.0
    grid: int = 10
    n_train: int = 10
    n_test: int = 25
    points: int = 1001
    dp_trajectories: int = 20
    dp_points: int = 51
    dp_t1: float = 5.0
    dp_y0_std: float = 0.5
    dp_test: int = 10
    dp_horizon: float = 100.0
    dp_steps: int = 3000
    dp_lr: float = 1e-2
    dp_schedule: str = "warmup-cosine"
    dp_warmup: int = 200
    lyapunov_t1: float = 300.0
    n_section: int = 300


# ------------------------------------------------------------------ (a) double pendulum
def double_pendulum(seed: int, cfg: StructuresConfig) -> dict:
    system = DoublePendulum().in_velocity_coordinates()
    data = generate(system, cfg.dp_trajectories, cfg.dp_t1, cfg.dp_points,
                    key=jax.random.key(seed), y0_std=cfg.dp_y0_std)  # fmt: skip
    test_y0 = system.sample_initial_states(jax.random.key(1000 + seed), cfg.dp_test,
                                           cfg.dp_y0_std)  # fmt: skip
    ts = jnp.linspace(0.0, cfg.dp_horizon, int(cfg.dp_horizon * 10) + 1)
    true = rollout(system.vector_field, test_y0, ts, substeps=10)
    rngs = nnx.Rngs(seed)

    def mlp(i, o):
        return MLP(i, o, width=cfg.width, depth=2, activation="softplus", rngs=rngs)

    models = {
        "HNN on (q, q̇)": HNN(mlp(4, 1)),
        "NSF (canonical=1)": NeuralSymplecticForm(mlp(4, 4), mlp(4, 1), canonical=1.0),
        "NSF (Lagrangian chart, canonical=1)": NeuralSymplecticForm(
            mlp(4, 2), mlp(4, 1), canonical=1.0, lagrangian=True
        ),
        "LNN (kinetic=1)": LNN(mlp(4, 1), kinetic=1.0),
    }
    out = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        lr = cfg.dp_lr
        if cfg.dp_schedule == "warmup-cosine":
            lr = optax.warmup_cosine_decay_schedule(0.0, cfg.dp_lr, cfg.dp_warmup, cfg.dp_steps)
        fit(model, data, steps=cfg.dp_steps, optimizer=optax.adam(lr), progress=False)
        seconds = time.perf_counter() - t0
        ys = rollout(model, test_y0, ts, substeps=10)
        drift = energy_drift(system.energy, ys)
        finite = jnp.isfinite(drift)
        out[name] = {
            "energy_error": float(jnp.median(jnp.where(finite, drift, jnp.inf))),
            "blow_ups": int(jnp.sum(~finite)),
            "rollout_rmse_t10": float(trajectory_rmse(ys[:, :101], true[:, :101])),
            "derivative_mse": float(derivative_mse(model, data)),
            "seconds": seconds,
        }
        print(json.dumps({"part": "a", "seed": seed, "model": name, **out[name]}), flush=True)
    return out


# ------------------------------------------------------------------ (b), (c) forced Duffing
class TimeInputODE(AbstractVectorField):
    """The baseline: dy/dt = f_NN(t, y), an MLP of (t, y) (no structure)."""

    name = "node-t"

    def __init__(self, vector_field):
        self.vector_field = vector_field
        self.state_size = vector_field.out_features

    def __call__(self, t, y, args=None):
        return self.vector_field(jnp.concatenate([jnp.reshape(t, (1,)), y]))

    def config(self):
        return {}

    def submodules(self):
        return {"vector_field": self.vector_field}


def duffing_data(system: ForcedDuffing, seed: int, cfg: StructuresConfig):
    train = generate(system, cfg.n_train, 10.0, cfg.points, key=jax.random.key(seed))
    test = generate(system, cfg.n_test, 10.0, cfg.points, key=jax.random.key(500 + seed))
    return train, test


def port_model(train, omega: float, seed: int, cfg: StructuresConfig) -> PortHNN:
    h = KAN([2, 1], grid=cfg.grid, rngs=nnx.Rngs(seed))
    force = FourierForce(
        1, 1, omega_init=max(1.0, 2 * cfg.min_frequency), min_frequency=cfg.min_frequency
    )
    model = PortHNN(h, Friction(0.1), force)
    # set the start by value, so that every start shares one compiled training step
    model.force.raw_omega[...] = jnp.asarray([math.log(math.expm1(omega - cfg.min_frequency))])
    update_grids(model, train.states.reshape(-1, 2), margin=0.05)
    return model


def fit_port(train, seed: int, cfg: StructuresConfig) -> tuple[PortHNN, dict]:
    """Multi-start in ω: ``--start-steps`` Adam steps from each start, keep the least loss."""
    best = None
    for omega in cfg.omega_starts:
        model = port_model(train, omega, seed, cfg)
        hist = fit(model, train, steps=cfg.start_steps, optimizer=optax.adam(cfg.lr),
                      progress=False)  # fmt: skip
        loss = float(hist.train_loss[-1])
        if best is None or loss < best[1]:
            best = (model, loss, omega)
    model = best[0]
    fit(model, train, steps=cfg.steps - cfg.start_steps, optimizer=optax.adam(cfg.lr),
           progress=False)  # fmt: skip
    return model, {"omega_start": best[2]}


def read_node_t(model, t1: float = 10.0) -> dict:
    """A, ω, δ of the time-input neural ODE: f_p(t, 0, 0) fitted by a cos/sin pair (ω on a
    grid, then least squares), δ = -mean_t ∂f_p/∂p(t, 0, 0)."""
    ts = jnp.linspace(0.0, t1, 1001)
    zero = jnp.zeros(2)
    fp = np.asarray(jax.vmap(lambda t: model(t, zero)[1])(ts))
    dfp = jax.vmap(lambda t: jax.grad(lambda y: model(t, y)[1])(zero)[1])(ts)
    best = None
    for w in np.linspace(0.2, 3.0, 2801):
        basis = np.stack([np.cos(w * ts), np.sin(w * ts), np.ones_like(ts)], axis=1)
        coef, res, *_ = np.linalg.lstsq(basis, fp, rcond=None)
        r = float(np.sum((basis @ coef - fp) ** 2))
        if best is None or r < best[0]:
            best = (r, w, coef)
    _, w, coef = best
    return {"amplitude": float(np.hypot(coef[0], coef[1])), "omega": float(w),
            "delta": float(-jnp.mean(dfp))}  # fmt: skip


def forced_duffing(
    seed: int, system: ForcedDuffing, cfg: StructuresConfig, *, chaos: bool = False
) -> dict:
    train, test = duffing_data(system, seed, cfg)
    t0 = time.perf_counter()
    port, extra = fit_port(train, seed, cfg)
    seconds = time.perf_counter() - t0
    node = TimeInputODE(MLP(3, 2, width=cfg.width, depth=2, activation="tanh",
                               rngs=nnx.Rngs(seed)))  # fmt: skip
    t0 = time.perf_counter()
    fit(node, train, steps=cfg.steps, optimizer=optax.adam(cfg.lr), progress=False)
    node_seconds = time.perf_counter() - t0
    truth = system.parameters()
    learned = {
        "amplitude": float(port.force.amplitudes[0, 0]),
        "omega": float(port.force.frequencies[0]),
        "delta": float(port.gamma),
    }
    baseline = read_node_t(node)
    ts = test.ts
    rows = {}
    for name, model, read, secs in (("PortHNN (KAN H, Fourier F)", port, learned, seconds),
                                    ("NeuralODE f(t, y)", node, baseline, node_seconds)):  # fmt: skip
        ys = rollout(model, test.y0, ts, substeps=10)
        rows[name] = {
            **read,
            "amplitude_error": abs(read["amplitude"] - truth["gamma"]) / truth["gamma"],
            "omega_error": abs(read["omega"] - truth["omega"]) / truth["omega"],
            "delta_error": abs(read["delta"] - truth["delta"]) / truth["delta"],
            "test_rollout_rmse": float(trajectory_rmse(ys, test.states)),
            "test_derivative_mse": float(derivative_mse(model, test)),
            "seconds": secs,
        }
        if chaos:
            growth = error_growth(ys, test.states)
            rows[name]["error_growth"] = np.asarray(growth[::10]).tolist()
    rows["PortHNN (KAN H, Fourier F)"].update(extra)
    formula = read_hamiltonian(port, train)
    rows["PortHNN (KAN H, Fourier F)"]["hamiltonian"] = {
        k: float(v) for k, v in formula.coefficients.items()
    }
    for name, row in rows.items():
        line = {k: v for k, v in row.items() if k != "error_growth"}
        print(json.dumps({"part": "c" if chaos else "b", "seed": seed, "model": name, **line}),
              flush=True)  # fmt: skip
    return {"rows": rows, "port": port, "node": node}


def chaos_readouts(system, models: dict, cfg: StructuresConfig) -> dict:
    """λ₁ of the true flow and of each learned flow; Poincaré sections for the figure."""
    y0 = jnp.array([0.5, 0.0])
    out = {}
    sections = {}
    for name, field in {"true": system.vector_field, **models}.items():
        lam = largest_lyapunov_exponent(field, y0, t1=cfg.lyapunov_t1, transient=50.0,
                                        renormalise_every=system.period)  # fmt: skip
        sec = stroboscopic_section(field, y0, period=system.period, n_periods=cfg.n_section,
                                   transient=20)  # fmt: skip
        out[name] = {"lyapunov": lam}
        sections[name] = np.asarray(sec)
        print(json.dumps({"part": "c", "flow": name, "lyapunov": lam}), flush=True)
    return out, sections


def median_range(values) -> list[float]:
    v = np.asarray(values, dtype=float)
    return [float(np.median(v)), float(np.min(v)), float(np.max(v))]


def summarise(per_seed: list[dict], keys) -> dict:
    models = per_seed[0].keys()
    return {m: {k: median_range([s[m][k] for s in per_seed]) for k in keys} for m in models}


def train_and_evaluate(cfg: StructuresConfig, workdir: Path, figures: bool = True) -> dict:
    """The parts of ``cfg.parts``; writes ``results.json`` (``sections.npz`` and
    ``poincare.png`` for (c)) into ``workdir``."""
    out = workdir
    results: dict = {"config": dataclasses.asdict(cfg)}
    if "a" in cfg.parts:
        rows = [double_pendulum(s, cfg) for s in cfg.seeds]
        results["a"] = {"per_seed": rows, "summary": summarise(
            rows, ("energy_error", "rollout_rmse_t10", "derivative_mse", "seconds"))}  # fmt: skip
    keys = ("amplitude", "omega", "delta", "amplitude_error", "omega_error", "delta_error",
            "test_rollout_rmse", "test_derivative_mse", "seconds")  # fmt: skip
    for part, system in (("b", ForcedDuffing()), ("c", ForcedDuffing.chaotic())):
        if part not in cfg.parts:
            continue
        runs = [forced_duffing(s, system, cfg, chaos=part == "c") for s in cfg.seeds]
        rows = [r["rows"] for r in runs]
        results[part] = {"system": system.parameters(), "per_seed": rows,
                         "summary": summarise(rows, keys)}  # fmt: skip
        ens = Ensemble([r["port"] for r in runs]) if len(runs) > 1 else None
        if ens is not None:
            results[part]["ensemble"] = {
                "amplitude": median_range([r["port"].force.amplitudes[0, 0] for r in runs]),
                "amplitude_std": float(np.std([r["port"].force.amplitudes[0, 0] for r in runs])),
                "omega_std": float(np.std([r["port"].force.frequencies[0] for r in runs])),
                "delta_std": float(np.std([r["port"].gamma for r in runs])),
            }
        if part == "c":
            first = runs[0]
            lams, sections = chaos_readouts(system, {"PortHNN": first["port"],
                                                     "NeuralODE f(t, y)": first["node"]}, cfg)  # fmt: skip
            results["c"]["lyapunov_seed0"] = lams
            np.savez(out / "sections.npz", **{k.replace(" ", "_"): v for k, v in sections.items()})
            from ..plotting import poincare_section, save_figure

            labels = {"true": "true flow", "PortHNN": "PortHNN (seed 0)",
                      "NeuralODE f(t, y)": "NeuralODE f(t, y) (seed 0)"}  # fmt: skip
            title = (f"Chaotic forced Duffing: stroboscopic section ({cfg.n_section} periods "
                     "after 20, from (0.5, 0))")  # fmt: skip
            fig = poincare_section({labels[k]: v for k, v in sections.items()}, title=title)
            save_figure(fig, out / "poincare.png")
            lam = lams["true"]["lyapunov"]
            growth = np.array([r["PortHNN (KAN H, Fourier F)"]["error_growth"] for r in rows])
            results["c"]["error_growth_times"] = np.asarray(
                generate(system, 1, 10.0, cfg.points, key=jax.random.key(0)).ts[::10]
            ).tolist()
            results["c"]["error_growth_median_port"] = np.median(growth, axis=0).tolist()
            results["c"]["true_lyapunov"] = lam
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    lines = []
    for part in ("a", "b", "c"):
        if part in results:
            lines.append(f"## part {part}")
            for model, row in results[part]["summary"].items():
                cells = ", ".join(
                    f"{k} {v[0]:.3g} [{v[1]:.3g}, {v[2]:.3g}]" for k, v in row.items()
                )
                lines.append(f"- {model}: {cells}")
    results["table"] = "\n".join(lines) + "\n"
    return results


def _shrink(cfg: StructuresConfig) -> StructuresConfig:
    return dataclasses.replace(
        cfg, seeds=(0,), steps=40, start_steps=10, dp_steps=40, points=101, n_train=3,
        n_test=3, dp_horizon=5.0, lyapunov_t1=10.0, n_section=20, width=8, dp_warmup=10,
    )  # fmt: skip


STRUCTURES = study(
    "STRUCTURES",
    "neural symplectic form, port-HNN on the forced Duffing, the chaotic case",
    StructuresConfig(),
    train_and_evaluate,
    _shrink,
    figures=("poincare.png",),
)
