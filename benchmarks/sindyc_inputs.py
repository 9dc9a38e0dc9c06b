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
two test inputs (classical RK4 on ``model.predict(x, u)``, 4 steps per sample interval as the
study's rollouts; under the chirp u is the not-a-knot cubic spline of the samples as physnet's
``"cubic"``, under the step u is held at each interval's first sample, which is the exact step
since it switches at a sample time; PySINDy's own ``simulate`` stalled for minutes on some
fitted models) and prints the forecast RMSE over the test horizon under each (the study's
metric) and the coefficient of u in the dp/dt equation (the input gain, true 1), as JSON lines
and a markdown table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def export(out: Path) -> None:
    from physnet.reproduce import get_experiment
    from physnet.reproduce._inputs_study import SYSTEMS, make_data, step_inputs

    cfg = get_experiment("INPUTS-STUDY").config
    out.mkdir(parents=True, exist_ok=True)
    for system in cfg.systems:
        for noise in cfg.noises:
            for seed in cfg.seeds:
                train, test, step_states = make_data(SYSTEMS[system](), cfg, seed, noise)
                step_u = np.broadcast_to(step_inputs(test.ts, cfg), test.inputs.shape)
                np.savez(
                    out / f"{system}_{noise:g}_{seed}.npz",
                    ts=np.asarray(train.ts), x=np.asarray(train.states),
                    dx=np.asarray(train.derivatives), u=np.asarray(train.inputs),
                    test_ts=np.asarray(test.ts), test_x=np.asarray(test.states),
                    test_u=np.asarray(test.inputs), step_x=np.asarray(step_states),
                    step_u=np.asarray(step_u),
                )  # fmt: skip


#: RK4 steps per sample interval of the test forecast (as the study's rollouts)
SUBSTEPS = 4


def rk4_forecast(model, x0, ts, us, held: bool = False):
    """The learned model's forecast of every test trajectory at once: classical RK4 with
    :data:`SUBSTEPS` steps per sample interval, u the not-a-knot cubic spline of each
    trajectory's samples (as physnet's ``"cubic"``), or with ``held`` each interval's first
    sample on the whole closed interval (exact for a step at a sample time); a state that
    leaves |x| < 1e6 is diverged (NaN from there on). ``x0`` ``(B, d)``, ``us`` ``(B, T, m)``;
    returns ``(B, T, d)``."""
    from scipy.interpolate import CubicSpline

    spline = CubicSpline(ts, us, axis=1)
    interval = [0]

    def f(t, x):
        return model.predict(x, u=us[:, interval[0]] if held else spline(t))

    x = np.array(x0, dtype=float)
    out = [x.copy()]
    for i, (a, b) in enumerate(zip(ts[:-1], ts[1:], strict=True)):
        interval[0] = i
        h = (b - a) / SUBSTEPS
        for k in range(SUBSTEPS):
            t = a + k * h
            with np.errstate(all="ignore"):
                k1 = f(t, x)
                k2 = f(t + h / 2, x + h / 2 * k1)
                k3 = f(t + h / 2, x + h / 2 * k2)
                k4 = f(t + h, x + h * k3)
                x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            x = np.where(np.abs(x) < 1e6, x, np.nan)
            x = np.where(np.isnan(x).any(axis=1, keepdims=True), np.nan, x)
        out.append(x.copy())
    return np.stack(out, axis=1)


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
        rmse = {}
        for name, x, u, held in (
            ("chirp", "test_x", "test_u", False),
            ("step", "step_x", "step_u", True),
        ):
            forecast = rk4_forecast(model, d[x][:, 0], d["test_ts"], d[u], held=held)
            value = float(np.sqrt(np.mean((forecast - d[x]) ** 2)))
            rmse[name] = value if np.isfinite(value) else None
        names = model.get_feature_names()
        gain = dict(zip(names, model.coefficients()[1], strict=True)).get("u0", 0.0)
        row = {"system": system, "noise": float(noise), "seed": int(seed),
               "forecast_rmse": rmse["chirp"], "step_rmse": rmse["step"], "input_gain": gain,
               "terms": int(np.count_nonzero(model.coefficients()))}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        "| system | noise σ | SINDYc forecast RMSE under the chirp | under the step "
        "| input gain (true 1) | diverged (chirp, step) |"
    )
    print("|---|---|---|---|---|---|")
    for system in sorted({r["system"] for r in rows}):
        for noise in sorted({r["noise"] for r in rows}):
            sel = [r for r in rows if r["system"] == system and r["noise"] == noise]
            cells, diverged = [], []
            for key in ("forecast_rmse", "step_rmse"):
                ok = [r[key] for r in sel if r[key] is not None]
                cells.append(f"{np.median(ok):.3g} [{min(ok):.3g}, {max(ok):.3g}]" if ok else "-")
                diverged.append(str(len(sel) - len(ok)))
            g = [r["input_gain"] for r in sel]
            print(
                f"| {system} | {noise:g} | {cells[0]} | {cells[1]} | {np.median(g):.3g} "
                f"[{min(g):.3g}, {max(g):.3g}] | {', '.join(diverged)} of {len(sel)} |"
            )


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("export", "fit"):
        raise SystemExit("usage: sindyc_inputs.py export|fit DIR")
    (export if sys.argv[1] == "export" else fit)(Path(sys.argv[2]))
