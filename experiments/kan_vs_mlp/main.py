"""KAN vs MLP vs soft-exponential MLP, measured fairly (issue 18).

    python experiments/kan_vs_mlp/main.py --out runs/kan_vs_mlp            # everything, 5 seeds
    python experiments/kan_vs_mlp/main.py --out runs/kan_vs_mlp --quick    # smoke run
    python experiments/kan_vs_mlp/main.py --parts compare scaling          # some parts

Parts (README.md has the results): ``compare`` (9 tasks at matched parameters and matched
FLOPs, physnet.analysis.compare), ``scaling`` (error vs parameters on 3 tasks, fitted
exponents), ``continual`` (1-D five peaks and 2-D four peaks, forgetting per phase),
``softexp`` (the learnable α's trajectory on x·y and x³ against a tanh MLP of the same size,
and divergences at two learning rates). Writes ``<out>/results.json`` and the figures.
The persistent compilation cache lives in a fresh folder under ``<out>``, so the first seed of
every configuration compiles cold (its time is the reported compile time) and later seeds
load the executable.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from physnet._compilation_cache import enable_compilation_cache
from physnet.analysis import (
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
from physnet.approximators import KAN, MLP
from physnet.training import fit_function

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


def figures(results, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "scaling" in results:
        tasks = list(results["scaling"])
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
        for ax, name in zip(axes[0], tasks, strict=True):
            summ = results["scaling"][name]["result"]["summary"]
            for fam in dict.fromkeys(s["approximator"] for s in summ):
                ss = sorted(
                    (s for s in summ if s["approximator"] == fam), key=lambda s: s["params"][0]
                )
                p = [s["params"][0] for s in ss]
                e = np.asarray([s["error"] for s in ss])
                a = results["scaling"][name]["exponents"][fam]
                ax.errorbar(
                    p,
                    e[:, 0],
                    yerr=[e[:, 0] - e[:, 1], e[:, 2] - e[:, 0]],
                    marker="o",
                    capsize=3,
                    label=f"{fam}: N^-{a['exponent']:.2f}",
                )
            ax.set(xscale="log", yscale="log", xlabel="parameters", ylabel="test RMSE", title=name)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "error_vs_params.png", dpi=110)
        plt.close(fig)
    if "scaling_lbfgs" in results:
        tasks = list(results["scaling_lbfgs"])
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
        for ax, name in zip(axes[0], tasks, strict=True):
            r = results["scaling_lbfgs"][name]
            for fam, fit in r["exponents"].items():
                rows = [x for x in r["rows"] if x["approximator"] == fam]
                ax.loglog(
                    [x["params"] for x in rows],
                    [x["error"] for x in rows],
                    "o",
                    alpha=0.6,
                    label=f"{fam}: N^-{fit['exponent']:.2f}",
                )
            ax.set(xlabel="parameters", ylabel="test RMSE", title=f"{name} (L-BFGS)")
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "error_vs_params_lbfgs.png", dpi=110)
        plt.close(fig)
    if "continual" in results:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        for ax, key in zip(axes, ("1d", "2d"), strict=True):
            for fam, r in results["continual"][key].items():
                med = np.asarray(r["forgetting_median"])
                ph = np.arange(2, len(med) + 2)
                ax.plot(ph, med, marker="o", label=f"{fam} ({r['params']} params)")
                ax.fill_between(ph, r["forgetting_min"], r["forgetting_max"], alpha=0.2)
            ax.set(
                xlabel="phase",
                ylabel="forgetting (Δ RMSE on earlier regions)",
                title=f"{key.upper()} peaks",
            )
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "forgetting.png", dpi=110)
        plt.close(fig)
    if "softexp" in results:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        for ax, name in zip(axes, results["softexp"], strict=True):
            for traj in results["softexp"][name]["0.01"]["alpha_trajectories"]:
                a = np.asarray(traj)
                ax.plot(np.arange(len(a)) * 50, a, color="C0", alpha=0.25, lw=0.8)
            ax.axhline(0, color="k", lw=0.5)
            ax.set(
                xlabel="step", ylabel="α (every neuron, 5 seeds)", title=name, ylim=(-1.05, 1.05)
            )
        fig.tight_layout()
        fig.savefig(out / "softexp_alpha.png", dpi=110)
        plt.close(fig)


def _mmm(values, fmt="{:.3g}"):
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not v.size:
        return "n/a"
    return f"{fmt.format(np.median(v))} [{fmt.format(v.min())}, {fmt.format(v.max())}]"


def report(results) -> str:
    """Markdown tables of ``results`` (median [min, max] over seeds)."""
    lines = []
    if "compare" in results:
        lines += [
            "### Matched parameters and matched FLOPs",
            "",
            "| task | approximator | params (size) | test error, matched params | "
            "FLOPs (size) | test error, matched FLOPs | ms/step (params run) | "
            "compile s (first seed, params run) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        by = {
            m: {(s["task"], s["approximator"]): s for s in results["compare"][m]["summary"]}
            for m in ("params", "flops")
        }
        for key, sp in by["params"].items():
            sf = by["flops"][key]
            lines.append(
                f"| {key[0]} | {key[1]} | {sp['params'][0]:.0f} ({sp['size']}) | "
                f"{sp['error'][0]:.3g} [{sp['error'][1]:.3g}, {sp['error'][2]:.3g}] | "
                f"{sf['flops'][0]:.0f} ({sf['size']}) | "
                f"{sf['error'][0]:.3g} [{sf['error'][1]:.3g}, {sf['error'][2]:.3g}] | "
                f"{1e3 * sp['seconds_per_step'][0]:.3g} | {sp.get('compile_seconds_first', math.nan):.2g} |"
            )
        lines.append("")
    if "scaling" in results:
        lines += [
            "### Scaling exponents (error ∝ N^-a)",
            "",
            "| task | approximator | sizes | params | a | 95% CI (bootstrap over seeds) |",
            "|---|---|---|---|---|---|",
        ]
        for task, r in results["scaling"].items():
            for fam, f in r["exponents"].items():
                summ = [s for s in r["result"]["summary"] if s["approximator"] == fam]
                sizes = ", ".join(str(s["size"]) for s in summ)
                params = ", ".join(f"{s['params'][0]:.0f}" for s in summ)
                lines.append(
                    f"| {task} | {fam} | {sizes} | {params} | {f['exponent']:.2f} | "
                    f"[{f['ci'][0]:.2f}, {f['ci'][1]:.2f}] |"
                )
            lines += [
                "",
                "| task | approximator | size | test RMSE per size |",
                "|---|---|---|---|",
            ]
            for s in r["result"]["summary"]:
                lines.append(
                    f"| {task} | {s['approximator']} | {s['size']} | "
                    f"{s['error'][0]:.3g} [{s['error'][1]:.3g}, {s['error'][2]:.3g}] |"
                )
            lines.append("")
    if "scaling_lbfgs" in results:
        lines += [
            "### Scaling with L-BFGS and KAN grid extension (error ∝ N^-a)",
            "",
            "| task | approximator | size: params, test RMSE median [min, max] | a | 95% CI |",
            "|---|---|---|---|---|",
        ]
        for task, r in results["scaling_lbfgs"].items():
            for fam, f in r["exponents"].items():
                rs = [x for x in r["rows"] if x["approximator"] == fam]
                cells = []
                for size in dict.fromkeys(x["size"] for x in rs):
                    sel = [x for x in rs if x["size"] == size]
                    cells.append(f"{size}: {sel[0]['params']}, {_mmm([x['error'] for x in sel])}")
                lines.append(
                    f"| {task} | {fam} | {'; '.join(cells)} | {f['exponent']:.2f} | "
                    f"[{f['ci'][0]:.2f}, {f['ci'][1]:.2f}] |"
                )
        lines.append("")
    if "continual" in results:
        lines += ["### Continual learning (forgetting per phase; final mean RMSE over regions)", ""]
        for key, res in results["continual"].items():
            n = len(next(iter(res.values()))["forgetting_median"])
            lines += [
                f"{key.upper()}:",
                "",
                "| approximator | params | "
                + " | ".join(f"after phase {k + 2}" for k in range(n))
                + " | final mean RMSE |",
                "|---" * (n + 3) + "|",
            ]
            for fam, r in res.items():
                per = [_mmm([run["forgetting"][k + 1] for run in r["runs"]]) for k in range(n)]
                lines.append(
                    f"| {fam} | {r['params']} | "
                    + " | ".join(per)
                    + f" | {_mmm(r['final_mean_rmse'])} |"
                )
            lines.append("")
    if "softexp" in results:
        lines += [
            "### Soft-exponential α (MLP [in, 8, 8, 1]) vs tanh MLP of the same size",
            "",
            "| task | lr | soft-exp RMSE | tanh RMSE | diverged soft-exp / tanh | "
            "final α quantiles 0/25/50/75/100 % | α < -0.5 | α > 0.5 | clipped, abs(α) ≥ 1 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for task, res in results["softexp"].items():
            for lr, r in res.items():
                q = ", ".join(f"{v:.2f}" for v in r["final_alpha_quantiles"])
                lines.append(
                    f"| {task} | {lr} | {_mmm(r['softexp_error'])} | {_mmm(r['tanh_error'])} | "
                    f"{r['softexp_diverged']} / {r['tanh_diverged']} | {q} | "
                    f"{r['final_alpha_fraction_log']:.2f} | {r['final_alpha_fraction_exp']:.2f} | "
                    f"{r.get('final_alpha_fraction_clipped', math.nan):.2f} |"
                )
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/kan_vs_mlp")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="2 seeds, few steps, few tasks")
    p.add_argument(
        "--report",
        action="store_true",
        help="only write report.md and the figures from <out>/results.json",
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.report:
        results = json.loads((out / "results.json").read_text())
        (out / "report.md").write_text(report(results))
        figures(results, out)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    enable_compilation_cache(out / f"jax-cache-{time.time_ns()}")
    seeds = list(range(2 if args.quick else args.seeds))
    steps = {
        "compare": 500,
        "scaling": 1000,
        "scaling_lbfgs": 200,
        "continual": 300,
        "softexp": 1000,
    }
    if args.quick:
        steps = dict.fromkeys(steps, 20)
    path = out / "results.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for part in args.parts:
        t0 = time.time()
        results[part] = globals()[f"part_{part}"](seeds, steps[part], args.quick)
        results.setdefault("seconds", {})[part] = time.time() - t0
        results.setdefault("settings", {})[part] = {
            "seeds": seeds,
            "steps": steps[part],
            "quick": args.quick,
        }
        path.write_text(json.dumps(results, indent=1, default=float))
        print(f"[{part}: {time.time() - t0:.0f} s]", flush=True)
    (out / "report.md").write_text(report(results))
    figures(results, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
