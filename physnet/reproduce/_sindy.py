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

Run: ``physnet reproduce --experiments sindy_comparison`` (needs the ``peers`` extra:
pysindy); writes ``results.json`` and ``table.md`` into the experiment's folder.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx

from ..approximators import KAN, update_grids
from ..interpret import read_damping, read_hamiltonian
from ..models import DissipativeHNN
from ..systems import Duffing
from ..training import fit
from ._common import DataConfig, make_data, study

TRUE = {"alpha": 1.0, "beta": 2.0, "gamma": 0.1}


@dataclasses.dataclass(frozen=True)
class SindyComparisonConfig:
    """Data: the source's Duffing with γ = 0.1 (``DataConfig(**TRUE, noise=σ, seed=s)``)
    for each σ in ``noises`` and s in ``seeds`` (the README's table: seed 0); physnet: ``steps`` Adam steps, learning rate cosine-decayed from
    ``learning_rate`` to ``final_learning_rate``, KAN grid ``grid``; PySINDy:
    ``PolynomialLibrary(degree)``, ``STLSQ(threshold)``."""

    noises: tuple[float, ...] = (0.0, 0.05)
    steps: int = 2000
    learning_rate: float = 3e-2
    final_learning_rate: float = 1e-3
    grid: int = 10
    degree: int = 3
    threshold: float = 0.05
    seeds: tuple[int, ...] = (0,)


def physnet_estimate(train, cfg: SindyComparisonConfig) -> dict:
    model = DissipativeHNN(KAN([2, 1], grid=cfg.grid, rngs=nnx.Rngs(0)), gamma_init=0.01)
    update_grids(model, train.states.reshape(-1, 2), margin=0.05)
    steps = cfg.steps
    schedule = optax.cosine_decay_schedule(cfg.learning_rate, steps, cfg.final_learning_rate)
    fit(model, train, steps=steps, optimizer=optax.adam(schedule), progress=False)
    readout = read_hamiltonian(model, train)
    c = readout.coefficients
    return {
        "alpha": 2 * c.get("q**2", 0.0),
        "beta": 4 * c.get("q**4", 0.0),
        "gamma": read_damping(model),
        "spurious_terms": sorted(set(c) - {"q**2", "q**4", "p**2"}),
    }


def sindy_estimate(train, cfg: SindyComparisonConfig, *, use_derivatives: bool) -> dict:
    import pysindy as ps

    xs = [np.asarray(s) for s in train.states]
    t = np.asarray(train.ts)
    model = ps.SINDy(
        optimizer=ps.STLSQ(threshold=cfg.threshold),
        feature_library=ps.PolynomialLibrary(degree=cfg.degree),
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


def table(rows) -> str:
    lines = [
        "| noise σ | method | α̂ (err) | β̂ (err) | γ̂ (err) | spurious terms | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        e = r["errors"]
        lines.append(
            f"| {r['noise']:g} | {r['method']} | {r['alpha']:.4f} ({100 * e['alpha']:.2f} %) | "
            f"{r['beta']:.4f} ({100 * e['beta']:.2f} %) | {r['gamma']:.4f} ({100 * e['gamma']:.1f} %) | "
            f"{len(r['spurious_terms'])} | {r['seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def train_and_evaluate(cfg: SindyComparisonConfig, workdir: Path, figures: bool = True) -> dict:
    """Every method at every noise level; writes ``results.json`` and ``table.md``."""
    rows = []
    for seed in cfg.seeds:
        for noise in cfg.noises:
            data_cfg = DataConfig(**TRUE, noise=noise, seed=seed)
            train, _ = make_data(Duffing(**TRUE), data_cfg)
            for name, fn in (
                ("physnet KAN-DHNN", lambda d: physnet_estimate(d, cfg)),
                (
                    "PySINDy (observed derivatives)",
                    lambda d: sindy_estimate(d, cfg, use_derivatives=True),
                ),
                (
                    "PySINDy (finite differences)",
                    lambda d: sindy_estimate(d, cfg, use_derivatives=False),
                ),
            ):
                t0 = time.perf_counter()
                est = fn(train)
                seconds = time.perf_counter() - t0
                rows.append(
                    {"noise": noise, "method": name, "seconds": seconds, **est,
                     "errors": errors(est)}
                )  # fmt: skip
                if len(cfg.seeds) > 1:
                    rows[-1]["seed"] = seed
                print(json.dumps(rows[-1]), flush=True)
    text = table(rows)
    results = {"true": TRUE, "rows": rows, "jax": jax.__version__}
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    (workdir / "table.md").write_text(text)
    return {"config": dataclasses.asdict(cfg), **results, "table": text}


def _shrink(cfg: SindyComparisonConfig) -> SindyComparisonConfig:
    return dataclasses.replace(cfg, steps=50)


SINDY_COMPARISON = study(
    "SINDY-COMPARISON",
    "Duffing coefficients recovered by physnet and by PySINDy (needs the peers extra)",
    SindyComparisonConfig(),
    train_and_evaluate,
    _shrink,
    requires=("pysindy",),
)
