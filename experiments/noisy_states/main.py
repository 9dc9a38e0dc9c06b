"""Duffing coefficients from noisy states alone: physnet (weak form, then latent-start
multiple shooting) against PySINDy (finite differences and weak form), issue 14's table.

Data: SPEC.md section 2 with α = 1, β = 2, γ = 0.1: 100 trajectories from standard-normal
initial states, t in [0, 5] (50 points, dt ≈ 0.10; or 25/100 points for dt ≈ 0.2/0.05), the
80 % training split of seed s, derivatives removed, N(0, σ²) noise on the states only
(key 100 + s).

- physnet: DissipativeHNN (friction form) with a [2, 1] KAN (G = 10) as H; 300 L-BFGS steps
  on :class:`~physnet.training.TrajectoryLoss` (window 2; or
  :class:`~physnet.training.WeakFormLoss`), then 300 L-BFGS steps on
  :class:`~physnet.training.LatentShootingLoss` (window 4: errors in variables), then
  ``read_hamiltonian``: α̂ = 2·[q²], β̂ = 4·[q⁴], γ̂ = the learned γ; σ̂ from the residuals.
- PySINDy 2.1: ``PolynomialLibrary(degree=3)``, ``STLSQ(threshold=0.05)`` on finite
  differences, and ``WeakPDELibrary`` (defaults, and subdomain width 0.5).

Run: ``python experiments/noisy_states/main.py [--sigmas 0 0.05] [--dts 0.1] [--seeds 0 1 2 3 4]``
(PySINDy from the ``peers`` extra); writes ``results.json`` and ``errors_vs_noise.png`` here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx

import physnet as pn
from physnet.approximators import update_grids
from physnet.interpret import read_damping, read_hamiltonian
from physnet.reproduce import DataConfig, make_data
from physnet.training import LatentShootingLoss, TrajectoryLoss, WeakFormLoss

TRUE = {"alpha": 1.0, "beta": 2.0, "gamma": 0.1}
POINTS = {0.05: 100, 0.1: 50, 0.2: 25}


def make_states(sigma: float, dt: float, seed: int) -> pn.Trajectories:
    cfg = DataConfig(**TRUE, n_points=POINTS[dt], seed=seed)
    train, _ = make_data(pn.systems.Duffing(**TRUE), cfg)
    train = train.without_derivatives()
    if sigma > 0:
        train = train.with_noise(sigma, key=jax.random.key(100 + seed), derivatives=False)
    return train


def physnet_estimate(train, *, first="trajectory", first_steps=300, latent_steps=300,
                     window=4) -> dict:  # fmt: skip
    t0 = time.perf_counter()
    model = pn.DissipativeHNN(pn.KAN([2, 1], grid=10, rngs=nnx.Rngs(0)), gamma_init=0.01)
    update_grids(model, train.states.reshape(-1, 2), margin=0.05)
    first_loss = TrajectoryLoss(2) if first == "trajectory" else WeakFormLoss()
    pn.fit(model, train, steps=first_steps, optimizer=optax.lbfgs(), loss=first_loss,
           progress=False)  # fmt: skip
    first_seconds = time.perf_counter() - t0
    first_estimate = read_coefficients(model, train)
    if not latent_steps:
        return first_estimate | {"sigma_hat": [float("nan")] * 2}
    loss = LatentShootingLoss(window)
    wrapped = loss.wrap(model, train)
    pn.fit(wrapped, train, steps=latent_steps, optimizer=optax.lbfgs(), loss=loss,
           progress=False)  # fmt: skip
    return read_coefficients(wrapped.model, train) | {
        "sigma_hat": loss.noise_level(wrapped, train).tolist(),
        "first_stage": first_estimate | {"seconds": first_seconds},
    }


def read_coefficients(model, train) -> dict:
    c = read_hamiltonian(model, train).coefficients
    return {
        "alpha": 2 * c.get("q**2", 0.0),
        "beta": 4 * c.get("q**4", 0.0),
        "gamma": float(read_damping(model)),
    }


def sindy_estimate(train, *, weak: bool, width: float | None = None) -> dict:
    import pysindy as ps

    xs = [np.asarray(s) for s in train.states]
    t = np.asarray(train.ts)
    if weak:
        options = {} if width is None else {"H_xt": [width]}
        library = ps.WeakPDELibrary(
            ps.PolynomialLibrary(degree=3), spatiotemporal_grid=t, **options
        )
    else:
        library = ps.PolynomialLibrary(degree=3)
    model = ps.SINDy(optimizer=ps.STLSQ(threshold=0.05), feature_library=library)
    model.fit(xs, t=t)
    names = model.get_feature_names()
    coef = dict(zip(names, model.coefficients()[1], strict=True))
    return {"alpha": -coef.get("x0", 0.0), "beta": -coef.get("x0^3", 0.0),
            "gamma": -coef.get("x1", 0.0)}  # fmt: skip


PHYSNET_OPTIONS: dict = {}

METHODS = {
    "PySINDy 2.1, finite differences": lambda d: sindy_estimate(d, weak=False),
    "PySINDy 2.1, weak form (defaults)": lambda d: sindy_estimate(d, weak=True),
    "PySINDy 2.1, weak form, width 0.5": lambda d: sindy_estimate(d, weak=True, width=0.5),
    "physnet KAN-DHNN, weak form only": lambda d: physnet_estimate(d, first="weak", latent_steps=0),
    "physnet KAN-DHNN, trajectory loss (window 2) only": lambda d: physnet_estimate(
        d, latent_steps=0
    ),
    "physnet KAN-DHNN, trajectory loss then latent shooting": lambda d: physnet_estimate(
        d, **PHYSNET_OPTIONS
    ),
}


def summary(rows, method, sigma, dt):
    sel = [r for r in rows if r["method"] == method and r["sigma"] == sigma and r["dt"] == dt]
    if not sel:
        return None
    out = {}
    for k in TRUE:
        e = 100 * np.array([r["errors"][k] for r in sel])
        out[k] = (float(np.median(e)), float(e.min()), float(e.max()))
    out["seconds"] = float(np.median([r["seconds"] for r in sel]))
    out["n"] = len(sel)
    return out


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), sharey=True)
    dts = sorted({r["dt"] for r in rows})
    for ax, k in zip(axes, TRUE, strict=True):
        for method in dict.fromkeys(r["method"] for r in rows):
            for dt in dts:
                sig = sorted({r["sigma"] for r in rows if r["method"] == method and r["dt"] == dt})
                med = [summary(rows, method, s, dt)[k][0] for s in sig]
                if sig:
                    ax.plot(sig, med, "o-", label=f"{method} (dt {dt})")
        ax.set_yscale("log")
        ax.set_xlabel("noise σ")
        ax.set_title(f"{k}: median relative error (%)")
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 0.01, 0.05, 0.1])
    p.add_argument("--dts", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--latent-steps", type=int, default=300, help="L-BFGS steps, second stage")
    p.add_argument("--latent-window", type=int, default=4, help="latent-shooting window")
    p.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = p.parse_args(argv)
    PHYSNET_OPTIONS.update(latent_steps=args.latent_steps, window=args.latent_window)
    rows = []
    for dt in args.dts:
        for sigma in args.sigmas:
            for seed in args.seeds:
                train = make_states(sigma, dt, seed)
                for method in args.methods:
                    t0 = time.perf_counter()
                    est = METHODS[method](train)
                    seconds = time.perf_counter() - t0
                    first = est.pop("first_stage", None)
                    if first is not None:  # the same fit read after its first stage
                        name = f"{method}: after the first stage"
                        seconds_first = first.pop("seconds")
                        err = {k: abs(first[k] - v) / v for k, v in TRUE.items()}
                        rows.append({"method": name, "sigma": sigma, "dt": dt, "seed": seed,
                                     "seconds": seconds_first, **first, "errors": err})  # fmt: skip
                        print(json.dumps(rows[-1]), flush=True)
                    err = {k: abs(est[k] - v) / v for k, v in TRUE.items()}
                    rows.append({"method": method, "sigma": sigma, "dt": dt, "seed": seed,
                                 "seconds": seconds, **est, "errors": err})  # fmt: skip
                    print(json.dumps(rows[-1]), flush=True)
    Path(args.out).write_text(json.dumps({"true": TRUE, "rows": rows}, indent=1))
    print("| dt | σ | method | α err % | β err % | γ err % | s per fit | seeds |")
    print("|---|---|---|---|---|---|---|---|")
    for dt in args.dts:
        for sigma in args.sigmas:
            for method in dict.fromkeys(r["method"] for r in rows):
                s = summary(rows, method, sigma, dt)
                if s is None:
                    continue
                cells = " | ".join(f"{s[k][0]:.3g} [{s[k][1]:.3g}, {s[k][2]:.3g}]" for k in TRUE)
                print(f"| {dt} | {sigma} | {method} | {cells} | {s['seconds']:.1f} | {s['n']} |")
    plot(rows, Path(args.out).with_name("errors_vs_noise.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
