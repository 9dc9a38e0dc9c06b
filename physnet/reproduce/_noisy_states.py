"""Duffing coefficients from noisy states alone: physnet's states-only road (weak form, then
latent-start multiple shooting, both by Levenberg-Marquardt) against PySINDy (finite
differences and weak form), issue 14's table; plus the source's noisy experiment E4.

Data: SPEC.md section 2 with α = 1, β = 2, γ = 0.1: 100 trajectories from standard-normal
initial states, t in [0, 5] (50 points, dt ≈ 0.10; or 25/100 points for dt ≈ 0.2/0.05), the
80 % training split of seed s, derivatives removed, N(0, σ²) noise on the states only
(key 100 + s). E4: the training states of the source's E4 (``DataConfig(gamma=0.1,
noise=0.05)``, seed s: noise on states and derivatives), derivatives dropped.

- physnet, polynomial H: ``DissipativeHNN`` (friction form) with ``Polynomial(2, 1,
  degree=4, constant=False)`` as H (a prior the source did not have: H is a polynomial of
  degree 4), fitted by :func:`physnet.fit_states`: stage 1 Levenberg-Marquardt on
  ``WeakFormLoss()`` (30 iterations at most), stage 2 on ``LatentShootingLoss(T, substeps=8)``
  (each whole trajectory one window with its latent start; 20 iterations at most); α̂, β̂ from
  the polynomial's coefficients (exact read-out), γ̂ the learned γ, σ̂ from the residuals.
- physnet, KAN H (the source's form; only at dt ≈ 0.1, σ ∈ {0, 0.05}): the same road with a [2, 1] KAN (G = 10, grids on the
  data) as H, coefficients by ``read_hamiltonian`` (α̂ = 2·[q²], β̂ = 4·[q⁴]).
- PySINDy 2.1: ``PolynomialLibrary(degree=3)``, ``STLSQ(threshold=0.05)`` on finite
  differences, and ``WeakPDELibrary`` (defaults, and subdomain width 0.5).

Run: ``physnet reproduce --experiments noisy_states`` (PySINDy from the ``peers`` extra; the
full grid, 5 seeds, and E4; settings :class:`NoisyStatesConfig`); writes ``results.json``,
``table.md`` and ``errors_vs_noise.png`` into the experiment's folder. :func:`timing` times
one fit of the polynomial road (``python experiments/noisy_states/main.py --timing``; run it
twice: the second run has a warm compilation cache).
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

from .._compilation_cache import default_cache_dir, enable_compilation_cache
from .._errors import ConfigError
from ..approximators import KAN, Polynomial, update_grids
from ..data import Trajectories
from ..interpret import read_damping, read_hamiltonian
from ..models import DissipativeHNN
from ..systems import Duffing
from ..training import (
    LatentShootingLoss,
    TrajectoryLoss,
    WeakFormLoss,
    fit,
    latent_least_squares,
    least_squares,
)
from ._common import DataConfig, make_data, study

TRUE = {"alpha": 1.0, "beta": 2.0, "gamma": 0.1}
POINTS = {0.05: 100, 0.1: 50, 0.2: 25}
POLY = "physnet DHNN, polynomial H, weak then latent shooting (fit_states)"
KAN_ROW = "physnet DHNN, KAN H, weak then latent shooting (fit_states)"
#: the (dt, σ) where the KAN form runs (compute: the machine is shared)
KAN_SETTINGS = ((0.1, 0.0), (0.1, 0.05))
FIRST = ": after the first stage (weak form only)"


def make_states(sigma: float, dt: float, seed: int) -> Trajectories:
    cfg = DataConfig(**TRUE, n_points=POINTS[dt], seed=seed)
    train, _ = make_data(Duffing(**TRUE), cfg)
    train = train.without_derivatives()
    if sigma > 0:
        train = train.with_noise(sigma, key=jax.random.key(100 + seed), derivatives=False)
    return train


def make_e4_states(seed: int) -> Trajectories:
    """The training states of the source's E4 (noise σ = 0.05 on states and derivatives)."""
    cfg = DataConfig(gamma=0.1, noise=0.05, seed=seed)
    train, _ = make_data(Duffing(1.0, 2.0, 0.1), cfg)
    return train.without_derivatives()


def read_coefficients(model, train) -> dict:
    if isinstance(model.hamiltonian, Polynomial):
        c = read_hamiltonian(model, train, method="symbolic").coefficients  # exact
    else:
        c = read_hamiltonian(model, train).coefficients
    return {
        "alpha": 2 * c.get("q**2", 0.0),
        "beta": 4 * c.get("q**4", 0.0),
        "gamma": float(read_damping(model)),
    }


def states_road(train, *, hamiltonian="polynomial", weak_steps=30, latent_steps=20) -> dict:
    """The two stages of :func:`physnet.fit_states`, read after each."""
    t0 = time.perf_counter()
    if hamiltonian == "polynomial":
        h = Polynomial(2, 1, degree=4, constant=False, rngs=nnx.Rngs(0))
        model = DissipativeHNN(h, gamma_init=0.01)
    else:
        model = DissipativeHNN(KAN([2, 1], grid=10, rngs=nnx.Rngs(0)), gamma_init=0.01)
        update_grids(model, train.states.reshape(-1, 2), margin=0.05)
    max_step = 1.0 if hamiltonian == "polynomial" else None  # see least_squares
    weak = least_squares(model, train, WeakFormLoss(), steps=weak_steps, max_step=max_step)
    first = read_coefficients(model, train) | {"seconds": time.perf_counter() - t0}
    window = int(np.max(train.trajectory_lengths))
    latent = latent_least_squares(
        model, train, LatentShootingLoss(window, substeps=8), steps=latent_steps
    )
    return read_coefficients(model, train) | {
        "sigma_hat": latent.noise_level.tolist(),
        "iterations": [
            int(np.sum(np.diff(weak.costs) != 0)),
            int(np.sum(np.diff(latent.costs) != 0)),
        ],  # fmt: skip
        "first_stage": first,
    }


def kan_trajectory_then_latent(train, *, first_steps=300, latent_steps=300, window=4) -> dict:
    """The first attempt's road (pn.fit with L-BFGS): KAN-DHNN, trajectory loss (window 2),
    then latent shooting (window 4); 55 s per fit, not in the default methods."""
    model = DissipativeHNN(KAN([2, 1], grid=10, rngs=nnx.Rngs(0)), gamma_init=0.01)
    update_grids(model, train.states.reshape(-1, 2), margin=0.05)
    fit(model, train, steps=first_steps, optimizer=optax.lbfgs(), loss=TrajectoryLoss(2),
           progress=False)  # fmt: skip
    loss = LatentShootingLoss(window)
    wrapped = loss.wrap(model, train)
    fit(wrapped, train, steps=latent_steps, optimizer=optax.lbfgs(), loss=loss,
           progress=False)  # fmt: skip
    return read_coefficients(wrapped.model, train) | {
        "sigma_hat": loss.noise_level(wrapped, train).tolist()
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


#: the methods by their key in :attr:`NoisyStatesConfig.methods`: (row label, estimator)
METHOD_KEYS = {
    "poly": POLY,
    "kan": KAN_ROW,
    "sindy-weak": "PySINDy 2.1, weak form (defaults)",
    "sindy-weak-0.5": "PySINDy 2.1, weak form, width 0.5",
    "sindy-fd": "PySINDy 2.1, finite differences",
    "kan-lbfgs": "physnet KAN-DHNN, trajectory loss then latent shooting (pn.fit, L-BFGS; "
    "first attempt)",
}
METHODS = {
    POLY: states_road,
    KAN_ROW: lambda d: states_road(d, hamiltonian="kan"),
    "PySINDy 2.1, weak form (defaults)": lambda d: sindy_estimate(d, weak=True),
    "PySINDy 2.1, weak form, width 0.5": lambda d: sindy_estimate(d, weak=True, width=0.5),
    "PySINDy 2.1, finite differences": lambda d: sindy_estimate(d, weak=False),
}
#: methods run only when named (slow)
EXTRA_METHODS = {
    "physnet KAN-DHNN, trajectory loss then latent shooting (pn.fit, L-BFGS; first attempt)": (
        kan_trajectory_then_latent
    ),
}


def run_method(method, train, rows, **where):
    t0 = time.perf_counter()
    est = (METHODS | EXTRA_METHODS)[method](train)
    seconds = time.perf_counter() - t0
    first = est.pop("first_stage", None)
    if first is not None:  # the same fit read after its first stage
        seconds_first = first.pop("seconds")
        err = {k: abs(first[k] - v) / v for k, v in TRUE.items()}
        rows.append({"method": method + FIRST, **where, "seconds": seconds_first, **first,
                     "errors": err})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    err = {k: abs(est[k] - v) / v for k, v in TRUE.items()}
    rows.append({"method": method, **where, "seconds": seconds, **est, "errors": err})
    print(json.dumps(rows[-1]), flush=True)


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
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.8), sharey=True)
    dts = sorted({r["dt"] for r in rows})
    for ax, k in zip(axes, TRUE, strict=True):
        for method in dict.fromkeys(r["method"] for r in rows):
            for dt in dts:
                sig = sorted({r["sigma"] for r in rows if r["method"] == method and r["dt"] == dt})
                med = [summary(rows, method, s, dt)[k][0] for s in sig]
                if sig:
                    label = method.replace(" shooting (fit_states)", "").replace(
                        " (weak form only)", ""
                    )
                    ax.plot(sig, med, "o-", label=label)
        ax.set_yscale("log")
        ax.set_xlabel("noise σ (dt ≈ 0.1)")
        ax.set_title(f"{k}: median relative error (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    fig.savefig(path, dpi=120)


def table(rows, dts, sigmas) -> list[str]:
    lines = ["| data | dt | σ | method | α err % | β err % | γ err % | s per fit | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    keys = sorted({(r["data"], r["dt"], r["sigma"]) for r in rows},
                  key=lambda k: (k[0] != "states", k[1] != 0.1, k[1], k[2]))  # fmt: skip
    for data, dt, sigma in keys:
        for method in dict.fromkeys(r["method"] for r in rows):
            sel = [r for r in rows if r["data"] == data]
            s = summary(sel, method, sigma, dt)
            if s is None:
                continue
            cells = " | ".join(f"{s[k][0]:.3g} [{s[k][1]:.3g}, {s[k][2]:.3g}]" for k in TRUE)
            lines.append(f"| {data} | {dt} | {sigma} | {method} | {cells} | "
                         f"{s['seconds']:.2f} | {s['n']} |")  # fmt: skip
    return lines


def timing() -> int:
    """One fit of the polynomial road on the source's data (σ = 0.05, seed 0), timed."""
    enable_compilation_cache()
    train = make_states(0.05, 0.1, 0)
    t0, c0 = time.perf_counter(), time.process_time()
    est = states_road(train)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"one fit: {wall:.2f} s wall, {cpu:.2f} s CPU (all threads; compilation included; "
          f"cache at {default_cache_dir()})", json.dumps(est))  # fmt: skip
    return 0


@dataclasses.dataclass(frozen=True)
class NoisyStatesConfig:
    """Every σ of ``sigmas`` at dt ≈ 0.1, and every further dt of ``dts`` at σ = 0.05, over
    ``seeds``, by each method of ``methods`` (keys of :data:`METHOD_KEYS`; the KAN form only
    at :data:`KAN_SETTINGS`); ``e4``: also the polynomial road on E4's training states."""

    sigmas: tuple[float, ...] = (0.0, 0.01, 0.05, 0.1)
    dts: tuple[float, ...] = (0.05, 0.2)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    methods: tuple[str, ...] = ("poly", "kan", "sindy-weak", "sindy-weak-0.5", "sindy-fd")
    e4: bool = True


def train_and_evaluate(cfg: NoisyStatesConfig, workdir: Path, figures: bool = True) -> dict:
    """The grid; writes ``results.json``, ``table.md`` and ``errors_vs_noise.png``."""
    unknown = [m for m in cfg.methods if m not in METHOD_KEYS]
    if unknown:
        raise ConfigError(f"unknown method(s) {unknown}; choose from {', '.join(METHOD_KEYS)}")
    methods = [METHOD_KEYS[m] for m in cfg.methods]
    settings = [(0.1, s) for s in cfg.sigmas] + [(dt, 0.05) for dt in cfg.dts if dt != 0.1]
    rows = []
    for dt, sigma in settings:
        for seed in cfg.seeds:
            train = make_states(sigma, dt, seed)
            for method in methods:
                if method == KAN_ROW and (dt, sigma) not in KAN_SETTINGS:
                    continue
                run_method(method, train, rows, data="states", sigma=sigma, dt=dt, seed=seed)
    if cfg.e4:
        for seed in cfg.seeds:
            run_method(POLY, make_e4_states(seed), rows, data="E4", sigma=0.05, dt=0.1, seed=seed)
    (workdir / "results.json").write_text(json.dumps({"true": TRUE, "rows": rows}, indent=1))
    text = "\n".join(table(rows, cfg.dts, cfg.sigmas)) + "\n"
    (workdir / "table.md").write_text(text)
    if figures:
        plot([r for r in rows if r["data"] == "states" and r["dt"] == 0.1],
             workdir / "errors_vs_noise.png")  # fmt: skip
    return {"config": dataclasses.asdict(cfg), "true": TRUE, "rows": rows, "table": text}


def _shrink(cfg: NoisyStatesConfig) -> NoisyStatesConfig:
    return dataclasses.replace(cfg, sigmas=(0.05,), dts=(), seeds=(0,), methods=("poly",),
                               e4=False)  # fmt: skip


def _requires(cfg: NoisyStatesConfig) -> tuple[str, ...]:
    return ("pysindy",) if any(m.startswith("sindy") for m in cfg.methods) else ()


NOISY_STATES = study(
    "NOISY-STATES",
    "Duffing coefficients from noisy states alone: physnet vs weak SINDy",
    NoisyStatesConfig(),
    train_and_evaluate,
    _shrink,
    figures=("errors_vs_noise.png",),
    requires=_requires,
)
