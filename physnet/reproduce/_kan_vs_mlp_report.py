"""KAN vs MLP vs soft-exponential MLP: the figures and the Markdown report of
physnet/reproduce/_kan_vs_mlp.py's results."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def figures(results, out: Path):
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
