"""KAN vs MLP vs soft-exponential MLP, measured fairly (issue 18).

    physnet reproduce --experiments kan_vs_mlp --out runs                 # everything, 5 seeds
    physnet reproduce --experiments kan_vs_mlp --out /tmp/k --quick       # smoke run
    python experiments/kan_vs_mlp/main.py --set parts=["compare","scaling"]   # some parts

Parts (README.md has the results): ``compare`` (9 tasks at matched parameters and matched
FLOPs, physnet.analysis.compare), ``scaling`` (error vs parameters on 3 tasks, fitted
exponents), ``continual`` (1-D five peaks and 2-D four peaks, forgetting per phase),
``softexp`` (the learnable α's trajectory on x·y and x³ against a tanh MLP of the same size,
and divergences at two learning rates). Writes ``results.json``, ``report.md`` and the
figures into the experiment's folder. Settings: :class:`KanVsMlpConfig`.
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

from ..analysis import (
    Family,
    builtin_tasks,
    compare,
    continual_learning,
    default_families,
    kan_grid_family,
    mlp_family,
    scaling_exponent,
    size_for,
)
from ..approximators import KAN, MLP
from ..training import fit_function
from ._common import study
from ._kan_vs_mlp_report import figures as write_figures
from ._kan_vs_mlp_report import report

PARTS = ("compare", "scaling", "scaling_lbfgs", "continual", "softexp")
SCALING_TASKS = ("cube", "xy", "bessel")


def part_compare(seeds, steps, quick):
    tasks = builtin_tasks(["xy", "cube"] if quick else None)
    out = {}
    for match in ("params", "flops"):
        t0 = time.time()
        result = compare(tasks, default_families(), match=match, seeds=seeds, steps=steps)
        out[match] = result.to_dict()
        print(f"## matched {match} ({time.time() - t0:.0f} s)\n{result.table()}\n", flush=True)
    return out


def part_scaling(seeds, steps, quick):
    fams = {
        "mlp": mlp_family(),
        "softexp": mlp_family(activation="soft_exponential"),
        "kan_grid": kan_grid_family(),
    }
    sizes = {"mlp": [4, 8, 16, 32], "softexp": [4, 8, 16, 32], "kan_grid": [3, 6, 12, 24]}
    if quick:
        sizes = {k: v[:2] for k, v in sizes.items()}
    out = {}
    for task in builtin_tasks(SCALING_TASKS[:1] if quick else SCALING_TASKS):
        t0 = time.time()
        result = compare([task], fams, sizes=sizes, seeds=seeds, steps=steps)
        fits = {}
        for name in fams:
            rows = [r for r in result.rows if r["approximator"] == name]
            fits[name] = scaling_exponent(
                [r["params"] for r in rows], [r["error"] for r in rows], [r["seed"] for r in rows]
            )
        out[task.name] = {"result": result.to_dict(), "exponents": fits}
        print(f"## scaling {task.name} ({time.time() - t0:.0f} s)\n{result.table()}", flush=True)
        for name, f in fits.items():
            print(f"  {name}: error ~ N^-{f['exponent']:.2f}, 95% CI {f['ci']}", flush=True)
    return out


def _rmse(net, task):
    pred = np.asarray(jax.vmap(net)(jnp.asarray(task.test[0])))
    return float(np.sqrt(np.mean((pred - task.test[1]) ** 2)))


def _lbfgs_fit(net, task, steps):
    try:
        fit_function(net, *task.train, steps=steps, optimizer=optax.lbfgs(), chunk_size=steps)
        return False
    except Exception:  # TrainingDivergedError: the last finite parameters stay
        return True


def part_scaling_lbfgs(seeds, steps, quick):
    """The KAN paper's scaling protocol, closer: 1000 training points, L-BFGS, and a KAN
    [in, in + 1, 1] trained at G = 3 then refined (grid extension, warm start) to 6, 12, 24,
    48 with ``steps`` L-BFGS steps per stage; MLPs [in, w, w, 1] trained from scratch by
    L-BFGS for 5 x ``steps`` steps (the KAN's total at its last stage)."""
    grids, widths = ([3, 6], [4, 8]) if quick else ([3, 6, 12, 24, 48], [4, 8, 16, 32])
    out = {}
    for task in builtin_tasks(SCALING_TASKS[:1] if quick else SCALING_TASKS, n_train=1000):
        t0 = time.time()
        x = jnp.asarray(task.train[0])
        rows = []
        for seed in seeds:
            kan = KAN(
                [task.in_features, task.in_features + 1, 1],
                grid=grids[0],
                grid_range=task.input_range,
                rngs=nnx.Rngs(seed),
            )
            kan.update_grid(x)
            for g in grids:
                if g != kan.grid:
                    kan.refine(g, x)
                bad = _lbfgs_fit(kan, task, steps)
                rows.append(
                    {
                        "approximator": "kan_grid_extension",
                        "size": g,
                        "seed": seed,
                        "params": kan.parameter_count(),
                        "error": _rmse(kan, task),
                        "diverged": bad,
                    }
                )
            for w in widths:
                mlp = MLP(task.in_features, 1, width=w, depth=2, rngs=nnx.Rngs(seed))
                bad = _lbfgs_fit(mlp, task, len(grids) * steps)
                n = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(mlp, nnx.Param)))
                rows.append(
                    {
                        "approximator": "mlp",
                        "size": w,
                        "seed": seed,
                        "params": n,
                        "error": _rmse(mlp, task),
                        "diverged": bad,
                    }
                )
        fits = {}
        for name in ("kan_grid_extension", "mlp"):
            rs = [r for r in rows if r["approximator"] == name]
            fits[name] = scaling_exponent(
                [r["params"] for r in rs], [r["error"] for r in rs], [r["seed"] for r in rs]
            )
            for size in dict.fromkeys(r["size"] for r in rs):
                e = [r["error"] for r in rs if r["size"] == size]
                print(
                    f"  {task.name} {name} size {size}: RMSE {np.median(e):.3g} "
                    f"[{min(e):.3g}, {max(e):.3g}]",
                    flush=True,
                )
            print(
                f"  {task.name} {name}: error ~ N^-{fits[name]['exponent']:.2f}, 95% CI "
                f"{np.round(fits[name]['ci'], 2).tolist()}",
                flush=True,
            )
        out[task.name] = {"rows": rows, "exponents": fits}
        print(f"## scaling_lbfgs {task.name} ({time.time() - t0:.0f} s)", flush=True)
    return out


def _continual_families(dims):
    """KAN with locality (1-D: one edge [1, 1] with G = 50 as in the KAN paper's [1, 1], which
    used G = 200; 2-D: [2, 5, 1], G = 10), and MLP / soft-exp MLP sized to its parameters."""
    if dims == 1:
        kan = Family(
            "kan", lambda s, i, o, r, g: KAN([i, o], grid=s, grid_range=g, rngs=r), (50,), 50
        )
    else:
        kan = Family(
            "kan", lambda s, i, o, r, g: KAN([i, 5, o], grid=s, grid_range=g, rngs=r), (10,), 10
        )
    n = sum(
        int(np.prod(p.shape))
        for p in jax.tree.leaves(
            nnx.state(
                nnx.eval_shape(lambda: kan.build(kan.default, dims, 1, nnx.Rngs(0), (-1, 1))),
                nnx.Param,
            )
        )
    )
    fams = [(kan, kan.default)]
    for fam in (mlp_family(), mlp_family(activation="soft_exponential")):
        fams.append((fam, size_for(fam, n, dims, 1)))
    return fams


def part_continual(seeds, steps, quick):
    out = {}
    for dims in (1, 2):
        res = {}
        for fam, size in _continual_families(dims):
            runs = [
                continual_learning(fam, size, dims=dims, seed=s, steps_per_phase=steps)
                for s in seeds
            ]
            E = np.asarray([r["forgetting"] for r in runs])[:, 1:]
            res[fam.name] = {
                "size": size,
                "params": runs[0]["params"],
                "runs": runs,
                "forgetting_median": np.median(E, 0).tolist(),
                "forgetting_min": E.min(0).tolist(),
                "forgetting_max": E.max(0).tolist(),
                "final_mean_rmse": [r["final_mean_rmse"] for r in runs],
            }
            print(
                f"continual {dims}-D {fam.name} (size {size}, {runs[0]['params']} params): "
                f"forgetting per phase (median) {np.round(np.median(E, 0), 3).tolist()}, "
                f"final mean RMSE {np.median(res[fam.name]['final_mean_rmse']):.3g}",
                flush=True,
            )
        out[f"{dims}d"] = res
    return out


def _alpha_run(task, width, seed, steps, lr, every=50):
    """Train a soft-exp MLP [in, width, width, out] and record α quantiles every ``every``
    steps; returns (alpha trajectory, error, diverged)."""
    x, y = task.train
    net = MLP(
        task.in_features,
        1,
        width=width,
        depth=2,
        activation="soft_exponential",
        rngs=nnx.Rngs(seed),
    )
    traj, state, diverged = [], None, False
    alphas = lambda: np.concatenate([np.asarray(a.alpha[...]) for a in net.activations])  # noqa: E731
    traj.append(alphas().tolist())
    for _ in range(steps // every):
        try:
            _, state = fit_function(
                net,
                x,
                y,
                steps=every,
                optimizer=optax.adam(lr),
                opt_state=state,
                return_opt_state=True,
                chunk_size=every,
            )
        except Exception:  # TrainingDivergedError: stop, keep the last finite parameters
            diverged = True
            break
        traj.append(alphas().tolist())
    err = float(
        np.sqrt(np.mean((np.asarray(jax.vmap(net)(jnp.asarray(task.test[0]))) - task.test[1]) ** 2))
    )
    return traj, err, diverged or not math.isfinite(err)


def _tanh_run(task, width, seed, steps, lr):
    x, y = task.train
    net = MLP(task.in_features, 1, width=width, depth=2, activation="tanh", rngs=nnx.Rngs(seed))
    diverged = False
    try:
        fit_function(net, x, y, steps=steps, optimizer=optax.adam(lr), chunk_size=steps)
    except Exception:
        diverged = True
    err = float(
        np.sqrt(np.mean((np.asarray(jax.vmap(net)(jnp.asarray(task.test[0]))) - task.test[1]) ** 2))
    )
    return err, diverged or not math.isfinite(err)


def part_softexp(seeds, steps, quick, width=8):
    out = {}
    for task in builtin_tasks(["xy", "cube"]):
        res = {}
        for lr in (1e-2, 1e-1):
            runs = [_alpha_run(task, width, s, steps, lr) for s in seeds]
            tanh = [_tanh_run(task, width, s, steps, lr) for s in seeds]
            final = np.concatenate([np.asarray(r[0][-1]) for r in runs])
            res[str(lr)] = {
                "alpha_trajectories": [r[0] for r in runs],
                "softexp_error": [r[1] for r in runs],
                "softexp_diverged": int(sum(r[2] for r in runs)),
                "tanh_error": [t[0] for t in tanh],
                "tanh_diverged": int(sum(t[1] for t in tanh)),
                "final_alpha_fraction_log": float(np.mean(final < -0.5)),
                "final_alpha_fraction_exp": float(np.mean(final > 0.5)),
                "final_alpha_fraction_linear": float(np.mean(np.abs(final) < 0.1)),
                "final_alpha_fraction_clipped": float(np.mean(np.abs(final) >= 1.0)),
                "final_alpha_quantiles": np.quantile(final, [0, 0.25, 0.5, 0.75, 1]).tolist(),
            }
            r = res[str(lr)]
            print(
                f"softexp {task.name} lr={lr}: err {np.median(r['softexp_error']):.3g} vs "
                f"tanh {np.median(r['tanh_error']):.3g}; diverged {r['softexp_diverged']} vs "
                f"{r['tanh_diverged']}; α quantiles {np.round(r['final_alpha_quantiles'], 3)}",
                flush=True,
            )
        out[task.name] = res
    return out


@dataclasses.dataclass(frozen=True)
class KanVsMlpConfig:
    """``parts`` (of :data:`PARTS`) over ``seeds``, each part with its own step count;
    ``reduced``: fewer tasks, sizes and grids (the quick run's task set)."""

    parts: tuple[str, ...] = PARTS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    compare_steps: int = 500
    scaling_steps: int = 1000
    scaling_lbfgs_steps: int = 200
    continual_steps: int = 300
    softexp_steps: int = 1000
    reduced: bool = False


def train_and_evaluate(cfg: KanVsMlpConfig, workdir: Path, figures: bool = True) -> dict:
    """The parts of ``cfg.parts``; writes ``results.json``, ``report.md`` and the figures."""
    unknown = [p for p in cfg.parts if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    seeds = list(cfg.seeds)
    path = workdir / "results.json"
    results: dict = {}
    for part in cfg.parts:
        t0 = time.time()
        steps = getattr(cfg, f"{part}_steps")
        results[part] = globals()[f"part_{part}"](seeds, steps, cfg.reduced)
        results.setdefault("seconds", {})[part] = time.time() - t0
        results.setdefault("settings", {})[part] = {
            "seeds": seeds,
            "steps": steps,
            "quick": cfg.reduced,
        }
        path.write_text(json.dumps(results, indent=1, default=float))
        print(f"[{part}: {time.time() - t0:.0f} s]", flush=True)
    text = report(results)
    (workdir / "report.md").write_text(text)
    if figures:
        write_figures(results, workdir)
    plain = json.loads(json.dumps(results, default=float))  # NumPy scalars as floats
    return {"config": dataclasses.asdict(cfg), **plain, "table": text}


def _shrink(cfg: KanVsMlpConfig) -> KanVsMlpConfig:
    return dataclasses.replace(
        cfg,
        seeds=(0, 1),
        compare_steps=20,
        scaling_steps=20,
        scaling_lbfgs_steps=20,
        continual_steps=20,
        softexp_steps=20,
        reduced=True,
    )


KAN_VS_MLP = study(
    "KAN-VS-MLP",
    "KAN vs MLP vs soft-exponential MLP at matched parameters and FLOPs",
    KanVsMlpConfig(),
    train_and_evaluate,
    _shrink,
    figures=(
        "error_vs_params.png",
        "error_vs_params_lbfgs.png",
        "forgetting.png",
        "softexp_alpha.png",
    ),
)
