"""E1 from states only: an HNN trained by ``physnet train --loss trajectory`` on the source's
Duffing data with the derivative arrays removed, judged against the exact vector field, over
t = 100 with the true energy, and over t = 1000 with its own energy under implicit midpoint
and RK4 at the same step.

For each seed S the script

1. writes ``OUT/data_S.npz``: ``pn.data.generate(Duffing(1, 2, 0), 100, 5.0, 50,
   key=jax.random.key(S)).without_derivatives()`` (times and states only);
2. runs ``physnet train --data OUT/data_S.npz --model hnn --loss trajectory --window 2
   --steps 3000 --lr 3e-3 --seed S --quiet --out OUT/run_S`` (the CLI splits 80/20 by
   trajectory with the seed's key);
3. computes the derivative test MSE of the learned field against the exact Duffing field at
   the test states (the same split as the CLI);
4. runs ``physnet evaluate --run OUT/run_S --t1 100`` (RK4, dt = 0.01) for ``energy_drift``
   (true energy), and ``physnet evaluate --run OUT/run_S --t1 1000 --dt DT --solver
   implicit-midpoint`` (its ``learned_energy_drift`` measures H_θ from its value at the
   equilibrium, as step 5 does; the recorded results before 2026-11-24 used the raw H_θ,
   whose arbitrary additive constant, -30 to -90 here, made that number 10-80 times smaller);
5. rolls the learned HNN out to t = 1000 with implicit midpoint and with RK4 at the same step
   DT and reports, for the learned energy measured from its value at the equilibrium,
   E_θ(y) = H_θ(y) - H_θ(0), the relative error |E_θ(y(t)) - E_θ(y(0))| / |E_θ(y(0))| max over
   [0, 1000] and its growth: max over [900, 1000] divided by max over [0, 100] (about 1 when
   bounded, about 10 for a linear drift), medians over the test initial states.

Usage::

    physnet reproduce --experiments e1-states-only [--out DIR] [--quick]

The settings: :class:`E1StatesOnlyConfig` (``dt = 0.1``; the README's dt = 0.05 table is
``dataclasses.replace(config, dt=0.05)``).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..data import generate
from ..evaluation import energy_error, rollout
from ..systems import Duffing
from ..training import load_model
from ._common import study

TRAIN = ["--model", "hnn", "--loss", "trajectory", "--quiet"]


@dataclasses.dataclass(frozen=True)
class E1StatesOnlyConfig:
    """Per seed of ``seeds``: ``physnet train`` with ``--window``, ``--steps``, ``--lr`` on the
    source's data without derivatives; rollouts to ``t1`` (1000) at step ``dt``."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    dt: float = 0.1
    steps: int = 3000
    lr: float = 3e-3
    window: int = 2
    t1: float = 1000.0

    def train_options(self) -> list:
        return [*TRAIN, "--window", self.window, "--steps", self.steps, "--lr", self.lr]


def physnet(*args) -> dict:
    cmd = [sys.executable, "-m", "physnet.cli", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def growth(err: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """max over the last tenth of the horizon / max over the first tenth, per trajectory."""
    t1 = ts[-1]
    late = np.max(err[:, ts >= 0.9 * t1], axis=1)
    early = np.max(err[:, (ts > 0) & (ts <= 0.1 * t1)], axis=1)
    return late / early


def one_seed(seed: int, out: Path, cfg: E1StatesOnlyConfig, echo) -> dict:
    system = Duffing(1.0, 2.0, 0.0)
    data = generate(system, 100, 5.0, 50, key=jax.random.key(seed))
    path = data.without_derivatives().save(out / f"data_{seed}.npz")
    run = out / f"run_{seed}"
    physnet("train", "--data", path, *cfg.train_options(), "--seed", seed, "--out", run)
    seconds = json.loads((run / "metrics.json").read_text())["train_seconds"]
    model = load_model(run / "checkpoint")
    k_split, _ = jax.random.split(jax.random.key(seed))
    _, test = data.split(0.8, key=k_split)  # the CLI's split
    y = test.states.reshape(-1, 2)
    pred = jax.vmap(lambda s: model(0.0, s))(y)
    exact = jax.vmap(lambda s: system.vector_field(0.0, s))(y)
    row = {"seed": seed, "train_seconds": seconds}
    row["test_mse_exact"] = float(jnp.mean((pred - exact) ** 2))
    row["energy_drift_t100"] = physnet("evaluate", "--run", run, "--t1", 100)["energy_drift"]
    imr = physnet(
        "evaluate", "--run", run, "--t1", cfg.t1, "--dt", cfg.dt, "--solver", "implicit-midpoint",
        "--out", run / "evaluation_imr_t1000",
    )  # fmt: skip
    row["cli_imr_t1000"] = {k: imr[k] for k in ("energy_drift", "learned_energy_drift")}
    origin = jnp.zeros(2)

    def learned_energy(y):  # gauge fixed: zero at the equilibrium
        return model.energy(y) - model.energy(origin)

    ts = jnp.linspace(0.0, cfg.t1, int(round(cfg.t1)) + 1)
    substeps = int(round(1.0 / cfg.dt))
    for solver, tag in (("implicit-midpoint", "imr"), ("rk4", "rk4")):
        ys = rollout(model, test.y0, ts, solver=solver, substeps=substeps)
        err = np.asarray(energy_error(learned_energy, ys))
        true_err = np.asarray(energy_error(system.energy, ys))
        row[f"learned_drift_{tag}"] = float(np.median(err.max(axis=1)))
        row[f"learned_growth_{tag}"] = float(np.median(growth(err, np.asarray(ts))))
        row[f"true_drift_{tag}"] = float(np.median(true_err.max(axis=1)))
    echo(json.dumps(row))
    return row


def train_and_evaluate(cfg: E1StatesOnlyConfig, workdir: Path, figures: bool = True) -> dict:
    """Every seed; writes ``summary.json`` (and the data and runs) into ``workdir``."""
    echo = lambda s: print(s, flush=True)  # noqa: E731
    rows = [one_seed(s, workdir, cfg, echo) for s in cfg.seeds]
    keys = [k for k in rows[0] if k not in ("seed", "cli_imr_t1000")]
    summary = {k: float(np.median([r[k] for r in rows])) for k in keys}
    train_options = list(map(str, cfg.train_options()))
    result = {"dt": cfg.dt, "train_options": train_options, "median": summary, "per_seed": rows}
    (workdir / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
    echo(json.dumps({"median": summary}, indent=1))
    return {"config": dataclasses.asdict(cfg), **result}


def _shrink(cfg: E1StatesOnlyConfig) -> E1StatesOnlyConfig:
    return dataclasses.replace(cfg, seeds=cfg.seeds[:1], steps=20, t1=20.0)


E1_STATES_ONLY = study(
    "E1-STATES-ONLY",
    "E1 from states only: physnet train --loss trajectory, energy over t = 1000",
    E1StatesOnlyConfig(),
    train_and_evaluate,
    _shrink,
)
