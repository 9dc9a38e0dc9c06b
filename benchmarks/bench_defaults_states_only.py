"""The states-only HNN case with physnet's defaults alone (issue 27, Build items 2 and 3), and
the same Duffing data as other kinds of input (``--input``).

Per seed S: ``pn.data.generate(Duffing(1, 2, 0), 100, 5.0, 50, key=jax.random.key(S))``,
as ``--input states`` (the default) ``.without_derivatives()``, is saved and trained by
``physnet train --data FILE --out RUN``, no other flag. Other inputs: ``derivatives`` (the
exact derivatives kept), ``noisy`` (Gaussian noise of σ = 0.05 on the states, derivatives
removed), ``ragged`` (states only, each trajectory cut to a random 25-50 of its 50 points).
For states only: ``--loss auto`` chooses the trajectory loss (the data have no derivatives),
the default recipe is ``fast`` (50 Adam steps, then L-BFGS; 1000 steps), the split 80/20 by
trajectory with the seed's key. Then

- the derivative MSE of the learned field against the exact Duffing field at the test states
  (the CLI's split), and
- ``physnet evaluate --run RUN --t1 100`` (RK4, dt = 0.01): ``energy_drift``, the median over
  the test initial states of the largest relative error of the true energy along the rollout.

The issue's target: medians over 5 seeds <= 1e-4 (MSE) and <= 0.5 % (drift), every seed
<= 1e-3 and <= 2 %. Usage::

    python benchmarks/bench_defaults_states_only.py [--input states] [--seeds 0 1 2 3 4]
        [--json OUT.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import physnet as pn
from physnet.systems import Duffing


def physnet(*args) -> tuple[dict, str]:
    """Run ``python -m physnet.cli ARGS``: the last stdout line as JSON, and stderr."""
    cmd = [sys.executable, "-m", "physnet.cli", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


INPUTS = ("states", "derivatives", "noisy", "ragged")


def make_input(data, kind: str, seed: int):
    """The generated ``data`` as input ``kind`` (see the module docstring)."""
    if kind == "derivatives":
        return data
    if kind == "noisy":
        return data.with_noise(0.05, key=jax.random.key(10_000 + seed)).without_derivatives()
    states = data.without_derivatives()
    if kind == "ragged":
        rng = np.random.default_rng(seed)
        lengths = rng.integers(25, 51, size=data.n_trajectories)
        return dataclasses.replace(states, lengths=lengths)
    return states


def one_seed(seed: int, work: Path, kind: str = "states") -> dict:
    system = Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 100, 5.0, 50, key=jax.random.key(seed))
    path = make_input(data, kind, seed).save(work / f"data_{seed}.npz")
    run = work / f"run_{seed}"
    t0 = time.perf_counter()
    _, said = physnet("train", "--data", path, "--out", run)
    wall = time.perf_counter() - t0
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    model = pn.training.load_model(run / "checkpoint")
    _, test = pn.runs.RunDirectory.open(run).split.apply(data)  # the run's own split
    y = test.clean_states if test.clean_states is not None else test.states
    y = y[test.mask]
    pred = jax.vmap(lambda s: model(0.0, s))(y)
    exact = jax.vmap(lambda s: system.vector_field(0.0, s))(y)
    evaluated, _ = physnet("evaluate", "--run", run, "--t1", 100)
    return {
        "seed": seed,
        "derivative_mse_exact": float(jnp.mean((pred - exact) ** 2)),
        "energy_drift_t100": evaluated["energy_drift"],
        "loss": config["loss"],
        "preset": config.get("preset"),
        "steps": config["steps"],
        "train_seconds": metrics["train_seconds"],
        "wall_seconds": wall,
        "said": [line for line in said.splitlines() if "loss auto" in line],
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", choices=INPUTS, default="states")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--json", default=None, help="write the result here")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            rows.append(one_seed(seed, Path(tmp), args.input))
            print(json.dumps(rows[-1]), flush=True)
    mse = np.array([r["derivative_mse_exact"] for r in rows])
    drift = np.array([r["energy_drift_t100"] for r in rows])
    result = {
        "command": "physnet train --data FILE --out RUN (no other flag)",
        "input": args.input,
        "median": {
            "derivative_mse_exact": float(np.median(mse)),
            "energy_drift_t100": float(np.median(drift)),
        },
        "max": {"derivative_mse_exact": float(mse.max()), "energy_drift_t100": float(drift.max())},
        "min": {"derivative_mse_exact": float(mse.min()), "energy_drift_t100": float(drift.min())},
        "targets_met": bool(
            np.median(mse) <= 1e-4
            and np.median(drift) <= 5e-3
            and mse.max() <= 1e-3
            and drift.max() <= 2e-2
        ),
        "per_seed": rows,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "per_seed"}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
