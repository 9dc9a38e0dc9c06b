"""Measured records with the defaults alone against the structures tried by hand (issue 27,
Build item 5).

For every record and seed S, in one process (compiled programs are reused across seeds):

- ``defaults``: ``physnet.runs.train_run(FILE, RUN, seed=S)``, nothing else, what
  ``physnet train --data FILE --out RUN --seed S`` does: the model ``auto`` (structure
  selection on the training part), ``--scale auto`` (the chosen structure's scales),
  ``--loss auto``, the ``fast`` recipe, the default split (by time for one or two trials);
- ``hand:<structure>``: every candidate structure that applies, trained by hand with
  ``--scale std --preset fast`` (``train_run(FILE, RUN, model=M, scale="std",
  preset="fast", seed=S)``).

Each run is scored by ``physnet.runs.evaluate_run(RUN)``: ``rollout_rmse``, the forecast RMSE
over the held-out last 20 % of every trial in the file's units (RK4, dt = 0.01, from the first
held-out state, over the recorded times). Records: the shipped ``real-oscillator``,
``real-pendulum`` and ``real-double-pendulum`` and, as a text file no test uses, a noisy Van
der Pol oscillator in its own units written as a whitespace-separated table and brought in
with ``physnet import``. Usage::

    python benchmarks/bench_select_records.py [--records a,b] [--seeds 0 1 2 3 4] [--json OUT]

Writes the JSON after every run (partial results survive an interruption).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

import physnet as pn
from physnet.models import model_class
from physnet.runs import CANDIDATES, evaluate_run, train_run

RECORDS = ("real-oscillator", "real-pendulum", "real-double-pendulum", "user-vanderpol")


def vanderpol_text(path: Path, seed: int = 0) -> Path:
    """A Van der Pol oscillator (mu = 0.8) recorded in millivolts: x = 40 u, v = 40 du/dt,
    600 samples at 25 Hz, Gaussian noise of 0.5 mV; a text file with a header line."""
    mu = 0.8

    def f(t, y):
        return [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]

    ts = np.arange(600) / 25.0
    sol = solve_ivp(f, (0, ts[-1]), [0.5, 0.0], t_eval=ts, rtol=1e-10, atol=1e-10)
    rng = np.random.default_rng(seed)
    xv = 40.0 * sol.y.T + rng.normal(0, 0.5, size=(600, 2))
    table = np.column_stack([ts, xv])
    np.savetxt(path, table, header="t x v", fmt="%.6f")
    return path


def record_file(name: str, work: Path) -> Path:
    out = work / f"{name}.npz"
    if name == "user-vanderpol":
        txt = vanderpol_text(work / "vanderpol.txt")
        cmd = [sys.executable, "-m", "physnet.cli", "import", str(txt), "--time", "t",
               "--states", "x,v", "--out", str(out)]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
        return out
    pn.datasets.load(name).save(out)
    return out


def applies(data, label, model, options) -> bool:
    velocity = pn.data.velocity_coordinates(data)
    return model_class(model).unsuitable(data.state_size, velocity) is None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default=",".join(RECORDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--json", default="benchmarks/results/select_records_dev2core.json")
    args = parser.parse_args(argv)
    results: dict = {"command": " ".join(sys.argv), "rows": []}
    work = Path(tempfile.mkdtemp(prefix="physnet_select_"))
    for name in args.records.split(","):
        path = record_file(name, work)
        data = pn.Trajectories.load(path)
        for seed in args.seeds:
            plans = [("defaults", {})]
            for label, model, options in CANDIDATES:
                if applies(data, label, model, options):
                    plans.append((f"hand:{label}", {"model": model, "options": options,
                                                    "scale": "std", "preset": "fast"}))  # fmt: skip
            for label, fields in plans:
                run = work / f"{name}_{seed}_{label.replace(':', '_')}"
                t0 = time.perf_counter()
                row = {"record": name, "seed": seed, "run": label}
                try:
                    _, metrics = train_run(path, run, seed=seed, progress=False, **fields)
                    _, ev = evaluate_run(run)
                    row |= {"rmse": ev["rollout_rmse"], "seconds": time.perf_counter() - t0}
                    if "selection" in metrics:
                        row["chosen"] = metrics["selection"]["chosen"]
                        row["validation"] = {
                            c["label"]: c["rmse"] for c in metrics["selection"]["candidates"]
                        }
                except Exception as err:  # a failed run is a row, the rest go on
                    row |= {"error": f"{type(err).__name__}: {err}"}
                results["rows"].append(row)
                print(json.dumps(row), flush=True)
                Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
