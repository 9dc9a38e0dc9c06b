"""PySINDy's SINDYc (ẋ = f(x, u) by sparse regression) on the data of INPUTS-STUDY.

Two stages, because PySINDy lives in its own environment (the ``peers`` extra), not beside
physnet's JAX:

    python benchmarks/sindyc_inputs.py export DIR              # physnet's environment
    /work/peers-venv/bin/python benchmarks/sindyc_inputs.py fit DIR   # numpy, scipy, pysindy

``export`` writes, for every system, noise level and seed of the registered INPUTS-STUDY
settings, the training states, derivatives and inputs and the test record (chirp input) as
``.npz``; ``fit`` fits ``ps.SINDy(feature_library=PolynomialLibrary(3) (+ Fourier terms of x
for the pendulum), optimizer=STLSQ(0.05))`` with ``fit(x, t, x_dot=..., u=...)`` (the observed
derivatives, as physnet's derivative loss gets them), simulates each test trajectory under its
recorded chirp (``simulate(x0, t, u=...)``, u interpolated by SciPy) and prints the forecast
RMSE over the test horizon (the study's metric) and the coefficient of u in the dp/dt equation
(the input gain, true 1), as JSON lines and a markdown table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def export(out: Path) -> None:
    from physnet.reproduce import get_experiment
    from physnet.reproduce._inputs_study import SYSTEMS, make_data

    cfg = get_experiment("INPUTS-STUDY").config
    out.mkdir(parents=True, exist_ok=True)
    for system in cfg.systems:
        for noise in cfg.noises:
            for seed in cfg.seeds:
                train, test = make_data(SYSTEMS[system](), cfg, seed, noise)
                np.savez(
                    out / f"{system}_{noise:g}_{seed}.npz",
                    ts=np.asarray(train.ts), x=np.asarray(train.states),
                    dx=np.asarray(train.derivatives), u=np.asarray(train.inputs),
                    test_ts=np.asarray(test.ts), test_x=np.asarray(test.states),
                    test_u=np.asarray(test.inputs),
                )  # fmt: skip


def fit(folder: Path) -> None:
    import pysindy as ps

    rows = []
    for path in sorted(folder.glob("*.npz")):
        system, noise, seed = path.stem.rsplit("_", 2)
        d = np.load(path, allow_pickle=False)
        library = ps.PolynomialLibrary(degree=3)
        if system == "driven-pendulum":
            library = library + ps.FourierLibrary(n_frequencies=1)
        model = ps.SINDy(feature_library=library, optimizer=ps.STLSQ(threshold=0.05))
        model.fit(list(d["x"]), t=d["ts"], x_dot=list(d["dx"]), u=list(d["u"]))
        errors = []
        for x, u in zip(d["test_x"], d["test_u"], strict=True):
            try:
                sim = model.simulate(x[0], d["test_ts"], u=u)
                sim = np.concatenate([sim, np.full((len(x) - len(sim), 2), np.nan)])
                errors.append((sim - x) ** 2)
            except Exception:  # a diverging simulation
                errors.append(np.full_like(x, np.nan))
        rmse = float(np.sqrt(np.mean(errors)))
        names = model.get_feature_names()
        gain = dict(zip(names, model.coefficients()[1], strict=True)).get("u0", 0.0)
        row = {"system": system, "noise": float(noise), "seed": int(seed),
               "forecast_rmse": rmse if np.isfinite(rmse) else None, "input_gain": gain,
               "terms": int(np.count_nonzero(model.coefficients()))}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("| system | noise σ | SINDYc forecast RMSE | input gain (true 1) | diverged |")
    print("|---|---|---|---|---|")
    for system in sorted({r["system"] for r in rows}):
        for noise in sorted({r["noise"] for r in rows}):
            sel = [r for r in rows if r["system"] == system and r["noise"] == noise]
            ok = [r["forecast_rmse"] for r in sel if r["forecast_rmse"] is not None]
            g = [r["input_gain"] for r in sel]
            rmse = f"{np.median(ok):.3g} [{min(ok):.3g}, {max(ok):.3g}]" if ok else "-"
            print(
                f"| {system} | {noise:g} | {rmse} | {np.median(g):.3g} [{min(g):.3g}, "
                f"{max(g):.3g}] | {len(sel) - len(ok)} of {len(sel)} |"
            )


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("export", "fit"):
        raise SystemExit("usage: sindyc_inputs.py export|fit DIR")
    (export if sys.argv[1] == "export" else fit)(Path(sys.argv[2]))
