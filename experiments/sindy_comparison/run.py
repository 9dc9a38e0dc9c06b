"""Duffing coefficients recovered by physnet (KAN dissipative HNN + polynomial read-out) and
by PySINDy (STLSQ on a cubic polynomial library), on the source's data setting.

Data: SPEC.md section 2 with γ = 0.1 (so α, β and γ are all identifiable): 100 trajectories,
t in [0, 5] at 50 points (dt ≈ 0.102), train split 80 %, clean or with N(0, 0.05²) noise on
q, p, dq/dt, dp/dt. Both methods see the same training trajectories.

- physnet: DissipativeHNN (friction form) with a [2, 1] KAN (G = 10) for H, Adam with a
  cosine-decayed learning rate 3e-2, 2000 full-batch steps of derivative matching; then
  H is read by :func:`physnet.interpret.read_hamiltonian` (STLSQ on monomials of (q, p) up to
  degree 4) and α̂ = 2·[q²], β̂ = 4·[q⁴] (H = α/2 q² + β/4 q⁴ + p²/2), γ̂ = the learned γ.
- PySINDy, two variants: with the observed derivatives (``x_dot``, the same information
  physnet gets), and with its default finite-difference derivatives from the states alone;
  ``PolynomialLibrary(degree=3)``, ``STLSQ(threshold=0.05)``; α̂, β̂, γ̂ = minus the
  coefficients of q, q³, p in the dp/dt equation.

Run: ``python experiments/sindy_comparison/run.py`` (needs the ``peers`` extra: pysindy).
"""

from __future__ import annotations

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

TRUE = {"alpha": 1.0, "beta": 2.0, "gamma": 0.1}


def physnet_estimate(train) -> dict:
    model = pn.DissipativeHNN(pn.KAN([2, 1], grid=10, rngs=nnx.Rngs(0)), gamma_init=0.01)
    update_grids(model, train.states.reshape(-1, 2), margin=0.05)
    steps = 2000
    schedule = optax.cosine_decay_schedule(3e-2, steps, 1e-3)
    pn.fit(model, train, steps=steps, optimizer=optax.adam(schedule), progress=False)
    readout = read_hamiltonian(model, train)
    c = readout.coefficients
    return {
        "alpha": 2 * c.get("q**2", 0.0),
        "beta": 4 * c.get("q**4", 0.0),
        "gamma": read_damping(model),
        "spurious_terms": sorted(set(c) - {"q**2", "q**4", "p**2"}),
    }


def sindy_estimate(train, *, use_derivatives: bool) -> dict:
    import pysindy as ps

    xs = [np.asarray(s) for s in train.states]
    t = np.asarray(train.ts)
    model = ps.SINDy(
        optimizer=ps.STLSQ(threshold=0.05), feature_library=ps.PolynomialLibrary(degree=3)
    )
    if use_derivatives:
        model.fit(xs, t=t, x_dot=[np.asarray(d) for d in train.derivatives])
    else:
        model.fit(xs, t=t)
    names = model.get_feature_names()
    coef = dict(zip(names, model.coefficients()[1], strict=True))
    expected = {"x0", "x0^3", "x1"}
    return {
        "alpha": -coef.get("x0", 0.0),
        "beta": -coef.get("x0^3", 0.0),
        "gamma": -coef.get("x1", 0.0),
        "spurious_terms": sorted(n for n, c in coef.items() if c != 0 and n not in expected)
        + sorted(
            f"dq/dt:{n}"
            for n, c in zip(names, model.coefficients()[0], strict=True)
            if c != 0 and n != "x1"
        ),
    }


def errors(est: dict) -> dict:
    return {k: abs(est[k] - v) / v for k, v in TRUE.items()}


def main() -> int:
    rows = []
    for noise in (0.0, 0.05):
        cfg = DataConfig(**TRUE, noise=noise)
        train, _ = make_data(pn.systems.Duffing(**TRUE), cfg)
        for name, fn in (
            ("physnet KAN-DHNN", physnet_estimate),
            ("PySINDy (observed derivatives)", lambda d: sindy_estimate(d, use_derivatives=True)),
            ("PySINDy (finite differences)", lambda d: sindy_estimate(d, use_derivatives=False)),
        ):
            t0 = time.perf_counter()
            est = fn(train)
            seconds = time.perf_counter() - t0
            rows.append(
                {"noise": noise, "method": name, "seconds": seconds, **est, "errors": errors(est)}
            )
            print(json.dumps(rows[-1]), flush=True)
    print()
    print("| noise σ | method | α̂ (err) | β̂ (err) | γ̂ (err) | spurious terms | seconds |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        e = r["errors"]
        print(
            f"| {r['noise']:g} | {r['method']} | {r['alpha']:.4f} ({100 * e['alpha']:.2f} %) | "
            f"{r['beta']:.4f} ({100 * e['beta']:.2f} %) | {r['gamma']:.4f} ({100 * e['gamma']:.1f} %) | "
            f"{len(r['spurious_terms'])} | {r['seconds']:.1f} |"
        )
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps({"true": TRUE, "rows": rows, "jax": jax.__version__}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
