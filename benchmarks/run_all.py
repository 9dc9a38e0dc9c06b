"""Run every benchmark and (re)write benchmarks/README.md from the results in results/.

    python benchmarks/run_all.py --tag dev2core            # run all here, then write the README
    python benchmarks/run_all.py --report-only             # rebuild the README from results/*.json

Each benchmark writes ``results/<benchmark>_<tag>.json``; the README has one table per
benchmark with a row per result file (machine, date, command). Results from other machines
(for example a GPU host) are produced by running the same scripts there with another --tag.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"

BENCHMARKS = {
    "e1_training": ["bench_e1_training.py", "--repeats", "3"],
    "ensemble": ["bench_ensemble.py", "--repeats", "3"],
    "rollout": ["bench_rollout.py", "--repeats", "1"],
    "kan": ["bench_kan.py"],
    "checkpoint": ["bench_checkpoint.py", "--repeats", "3"],
    "distributed": ["bench_distributed.py", "--repeats", "5"],
    "ntk": ["bench_ntk.py", "--sizes", "100,1000,2000,4000", "--naive-sizes", "50,100,200"],
    "real_pendulum": ["bench_real_pendulum.py", "--repeats", "2"],
    "time_to_accuracy": ["bench_time_to_accuracy.py", "--repeats", "3"],
    "fit_states": ["bench_fit_states.py", "--repeats", "2"],
}


def run(
    tag: str, only: list[str] | None, peak_gflops: float | None = None, force: bool = False
) -> None:
    RESULTS.mkdir(exist_ok=True)
    for name, cmd in BENCHMARKS.items():
        if only and name not in only:
            continue
        script = HERE / cmd[0]
        if not script.exists():
            print(f"skip {name}: {script.name} not found", file=sys.stderr)
            continue
        out = RESULTS / f"{name}_{tag}.json"
        if peak_gflops and name == "ensemble":
            cmd = [*cmd, "--peak-gflops", str(peak_gflops)]
        if force:
            cmd = [*cmd, "--force"]
        print(f"running {name} -> {out}", flush=True)
        subprocess.run([sys.executable, str(script), *cmd[1:], "--json", str(out)], check=True)
        data = json.loads(out.read_text())
        data.setdefault("date", datetime.date.today().isoformat())
        data.setdefault("command", " ".join(["python", f"benchmarks/{cmd[0]}", *cmd[1:]]))
        out.write_text(json.dumps(data, indent=2))


def _rows(name: str):
    for path in sorted(RESULTS.glob(f"{name}_*.json")):
        yield path, json.loads(path.read_text())


def _record(d: dict) -> str:
    """Load at start/end, date and command of a result (``_machine.finish``'s record); files
    from before the record existed say so."""
    r = d.get("record")
    if not r:
        return "(no load record: measured before benchmarks/_machine.py)"
    flag = "**CONTENDED** " if r.get("contended") else ""
    return (
        f"{flag}load {r['load_start'][0]} -> {r['load_end'][0]} on {r['machine']}, "
        f"{r['date']}, `{r['command']}`"
    )


def _records(name: str) -> list[str]:
    """One line per result file of benchmark ``name``: its load record."""
    return [f"- {path.name}: {_record(d)}" for path, d in _rows(name)]


def _spread(s, unit=" s") -> str:
    if not s:
        return "-"
    if all(float(s[k]).is_integer() for k in ("median", "min", "max")) and not unit.strip():
        return f"{s['median']:.0f} [{s['min']:.0f}, {s['max']:.0f}]"  # step counts
    return f"{s['median']:.3g}{unit} [{s['min']:.3g}, {s['max']:.3g}]"


def _s(x) -> str:
    """Seconds, or "-" when not measured."""
    return "-" if x is None else f"{_f(x)} s"


def _f(x, digits=3) -> str:
    return "-" if x is None else (f"{x:.{digits}g}" if isinstance(x, float) else str(x))


def _distributed_section() -> list[str]:
    """The table of bench_distributed.py: 1 vs 2 processes per step, and the estimate."""
    rows = list(_rows("distributed"))
    if not rows:
        return []
    lines = [
        "",
        "## Across processes: 1 vs 2 processes (jax.distributed, gloo) per step of E1",
        "",
        "E1 training (HNN 2-32-32-1, float64, Adam 1e-3, full batch, 80 x 50 samples) in one",
        "process and data parallel in 2 processes on the same machine (`physnet launch`'s",
        "`run_local`, gloo over localhost TCP, each process one CPU device and half the",
        "trajectories), interleaved; seconds per step from `History.train_seconds` (compilation",
        "excluded), median [min, max] over the repeats. On 2 cores no speed-up is expected: the",
        "second process takes the core the first one's XLA threads used, and every step adds",
        "the all-reduce. *estimate*: a ring all-reduce of the gradient across hosts (8 bytes x",
        "parameters x 2 (P - 1) / P at the bandwidth, plus 2 (P - 1) latencies).",
        "Command: `python benchmarks/bench_distributed.py --repeats 5 --json "
        "results/distributed_TAG.json`.",
        "",
        "| result file | machine | params | 1 process / step | 2 processes / step | "
        "**overhead / step** | 2 / 1 | estimate: 2 hosts 10 Gbit/s 50 us; 8 hosts |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path, d in rows:
        est = list(d["estimate_allreduce_s"].values())
        lines.append(
            f"| {path.name} | {d['record']['machine']} | {d['params']} | "
            f"{_spread(d['one_process_step_s'])} | {_spread(d['two_processes_step_s'])} | "
            f"**{_spread(d['overhead_per_step_s'])}** | {_spread(d['ratio'], 'x')} | "
            f"{est[0] * 1e3:.2g} ms; {est[1] * 1e3:.2g} ms |"
        )
    return [*lines, "", *_records("distributed")]


def report() -> str:
    lines = [
        "# physnet benchmarks",
        "",
        "Speed is measured here, not asserted in tests. Each script times physnet and a reference",
        "(a minimal hand-written loop or a peer implementation) **in the same run**, interleaved,",
        "and reports medians and ratios. Machines are shared and noisy: compare ratios, not",
        "absolute times. Raw results are in `results/`; this file is written by",
        "`python benchmarks/run_all.py --report-only` (run everything: `python benchmarks/run_all.py --tag NAME`).",
        "",
        "## E1 training: physnet vs a minimal hand-written JAX loop vs plain PyTorch",
        "",
        "The source's E1 training (HNN, H = MLP 2-32-32-1 tanh, float64, Adam 1e-3, 3000 full-batch",
        "steps on 80 x 50 samples). The hand-written loop is one jitted `lax.scan` with plain optax",
        "and nothing else; PyTorch is the same computation (`nn.Sequential`, `autograd.grad(create_graph=True)`, Adam), float64.",
        "Compile time (ahead-of-time) is separate from run time.",
        "",
        "| result file | machine | physnet run | hand-written run | physnet / hand-written | PyTorch run | PyTorch / physnet | compile physnet | date |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path, d in _rows("e1_training"):
        t = d.get("torch", {})
        tdesc = (
            f"{_f(t.get('run_s_median'))} s ({t.get('device', '')}, torch {t.get('version', '')})"
            if t
            else "not installed"
        )
        lines.append(
            f"| {path.name} | {d['machine']} | {_f(d['physnet']['run_s_median'])} s | "
            f"{_f(d['handwritten']['run_s_median'])} s | **{_f(d['ratio_run_physnet_over_handwritten'])}** | "
            f"{tdesc} | **{_f(d.get('speedup_physnet_over_torch'))}x** | {_f(d['physnet']['compile_s_median'])} s | {d.get('date', '2026-11-23')} |"
        )
    lines += [
        "",
        "## Ensembles: N members in one compiled call vs one model",
        "",
        "*vmapped*: `fit_ensemble` (all members vmapped at once, the default); *in sequence*:",
        "`fit_ensemble(member_batch_size=1)` (`lax.map` over members in the same compiled call; not",
        "measured in the older files). *GFLOP/s*: the single model's rate by XLA's flop count of a",
        "training step; *floor*: members x (single model's share of the float64 peak), the lowest",
        "ratio any schedule could reach at full peak (only where the peak was given).",
        "",
        "| result file | machine | members | steps | one model | vmapped | **vmapped / one** | in sequence | **in sequence / one** | one model GFLOP/s | floor | compile (vmapped) | date |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path, d in _rows("ensemble"):
        seq = d.get("sequential_run_s_median")
        lines.append(
            f"| {path.name} | {d['machine']} | {d['members']} | {d['steps']} | {_f(d['single_run_s_median'])} s | "
            f"{_f(d['ensemble_run_s_median'])} s | **{_f(d['ratio_ensemble_over_single'])}** | "
            f"{_f(seq) + ' s' if seq else '-'} | **{_f(d.get('ratio_sequential_over_single'))}** | "
            f"{_f(d.get('single_gflops'))} | {_f(d.get('ratio_floor_at_peak'))} | "
            f"{_f(d['ensemble_compile_s_median'])} s | {d.get('date', '2026-11-23')} |"
        )
    lines += [
        "",
        "## Rollouts: 1000 initial conditions x 10,000 steps of a learned HNN (2-32-32-1)",
        "",
        "Work per state-step is estimated by hand (see `bench_rollout.py`: one J∇H ≈ 6.7 kflop,",
        "RK4 = 4 of them, implicit midpoint ≈ 1 + 3 per Newton iteration), so the achieved",
        "GFLOP/s can be set against the machine's peak.",
        "",
        "| result file | machine | solver | state-steps/s | est. flop/state-step | est. GFLOP/s | run | date |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path, d in _rows("rollout"):
        for solver in ("rk4", "implicit-midpoint"):
            r = d[solver]
            lines.append(
                f"| {path.name} | {d['machine']} | {solver} | {r['state_steps_per_s']:.3g} | "
                f"{r['flop_per_state_step_estimate']:.3g} | {r['gflop_per_s_estimate']:.3g} | {_f(r['run_s_median'])} s | {d.get('date', '2026-11-23')} |"
            )
    kan = list(_rows("kan"))
    if kan:
        lines += ["", "## KAN training: physnet vs pykan", ""]
        lines += [
            "[2, 5, 1] KAN, G = 5, k = 3 on x·y (1000 points, float64, 500 Adam steps, grids",
            "updated every 5 steps during the first 50, pykan's schedule and grid_eps): see",
            "`bench_kan.py`. Since issue 19 physnet's grid updates run inside the compiled loop, and",
            "each physnet run is a fresh process, with an empty (*cold*) or filled (*warm*) JAX",
            "compilation cache, or (*same_process*, in files since the compiled-program reuse) a",
            "second run in one process; end to end = from building the model to the trained model.",
            "Medians [min, max] over interleaved repeats.",
            "",
            "| result file | implementation | end to end | optimizer steps | compile | test RMSE |",
            "|---|---|---|---|---|---|",
        ]
        for path, d in kan:
            xy = d.get("xy") or {}
            for impl, r in xy.get("summary", {}).items():
                if isinstance(r.get("wall_seconds"), dict):  # since issue 19: spreads
                    lines.append(
                        f"| {path.name} | {impl} | {_spread(r['wall_seconds'])} | "
                        f"{_spread(r.get('train_seconds'))} | {_spread(r.get('compile_seconds'))} | "
                        f"{_f(r['test_rmse']['median'])} |"
                    )
                else:  # older files: medians only
                    lines.append(
                        f"| {path.name} | {impl} | {_s(r.get('wall_seconds'))} | "
                        f"{_s(r.get('train_seconds'))} | {_s(r.get('compile_seconds'))} | "
                        f"{_f(r.get('test_rmse'))} |"
                    )
            speedups = xy.get("speedups") or {}
            if speedups:
                lines.append("")
                lines.append(
                    f"{path.name}: pykan / physnet, per optimizer step "
                    f"{_spread(speedups.get('per_step'), 'x')}; end to end, warm cache "
                    f"{_spread(speedups.get('end_to_end_warm'), 'x')}; cold "
                    f"{_spread(speedups.get('end_to_end_cold'), 'x')}"
                    + (
                        f"; same process {_spread(speedups['end_to_end_same_process'], 'x')}"
                        if "end_to_end_same_process" in speedups
                        else ""
                    )
                    + " (paired per repeat)."
                )
        lines += ["", *_records("kan")]
    checkpoint = list(_rows("checkpoint"))
    if checkpoint:
        lines += ["", "## Training checkpoints: overhead of periodic saves on E1 training", ""]
        lines += [
            "E1 training (HNN 2-32-32-1, float64, Adam 1e-3, 3000 full-batch steps) without and",
            "with the training state saved every N steps (`physnet train`'s default N = 1000),",
            "interleaved in one run; *write share*: time inside the saves / training time.",
            "Command: `python benchmarks/bench_checkpoint.py --repeats 3 --json results/checkpoint_TAG.json`.",
            "",
            "| result file | machine | every | no checkpoints | checkpoints | **overhead** | write share | date |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for path, d in checkpoint:
            lines.append(
                f"| {path.name} | {d['machine']} | {d['every']} | "
                f"{_f(d['median_no_checkpoints_s'])} s | {_f(d['median_checkpoints_s'])} s | "
                f"**{d['overhead']:+.2%}** | {d['write_share']:.3%} | {d['date']} |"
            )
    lines += _distributed_section()
    ntk = list(_rows("ntk"))
    if ntk:
        lines += [
            "",
            "## NTK: physnet.analysis.ntk vs a naive double loop (vs neural-tangents)",
            "",
        ]
        lines += [
            "The E1 HNN (H = MLP 2-32-32-1 tanh, float64) under its operator J∇H on S states (2S",
            "kernel rows); naive: per-sample compiled Jacobians and a Python loop over sample pairs;",
            "see `bench_ntk.py`. Compile time excluded for both. neural-tangents 0.6.5 (the latest on",
            "PyPI) needs tensorflow at import (jax2tf); where it is not importable it is not run.",
            "",
            "| result file | machine | S | physnet | naive | naive / physnet | max abs diff | neural-tangents |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for path, d in ntk:
            for r in d["rows"]:
                nt = _f(r.get("nt1_s")) + " s" if "nt1_s" in r else "not run"
                lines.append(
                    f"| {path.name} | {d['machine']} | {r['samples']} | {_f(r['physnet_s'])} s | "
                    f"{_f(r.get('naive_s'))}{' s' if 'naive_s' in r else ''} | "
                    f"**{_f(r.get('naive_over_physnet'))}** | {_f(r.get('max_abs_diff_naive'))} | {nt} |"
                )
    tta = list(_rows("time_to_accuracy"))
    if tta:
        lines += ["", "## Time to accuracy: E1 test MSE <= 1e-4 and <= 1e-5", ""]
        lines += [
            "E1's HNN (2-32-32-1 tanh, float64) on E1's seed-4 data and initialisation; the clock",
            "includes start-up (building, tracing, compiling or loading from the cache) and excludes",
            "the test evaluations (every 50 steps); *training* is the time after step 0 only. See",
            '`bench_time_to_accuracy.py`. physnet_fast: `pn.fit(..., optimizer="fast")` (its recipe',
            "is named per file; one compiled run); physnet_fast_new_process: the same in a new Python",
            "process per repeat; the others run the source's Adam(1e-3). Medians [min, max] over",
            "interleaved repeats; *not reached* within the step cap.",
            "",
            "| result file | compilation cache | candidate | start-up | to 1e-4: time | training | "
            "steps | to 1e-5: time | training | steps |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for path, d in tta:
            lines_recipe = d.get(
                "fast_recipe", "300 Adam steps (warm-up-cosine, peak 1e-2), then L-BFGS"
            )
            for name, r in d["summary"].items():
                cells = [_spread(r["startup_seconds"]) if "startup_seconds" in r else "-"]
                for th in ("0.0001", "1e-05"):
                    hit = r.get(th)
                    cells += (
                        [
                            _spread(hit["seconds"]),
                            _spread(hit["train_seconds"]) if "train_seconds" in hit else "-",
                            _spread(hit["steps"], ""),
                        ]
                        if hit
                        else ["not reached", "-", f"> {d['max_steps']}"]
                    )
                cache = d.get("compilation_cache", "cold (off)")
                lines.append(f"| {path.name} | {cache} | {name} | " + " | ".join(cells) + " |")
            sp = d.get("speedups", {})
            lines.append("")
            lines.append(f"{path.name}: physnet_fast's recipe: {lines_recipe}.")
            if sp:
                lines.append(
                    f"{path.name}: speed-ups (paired per repeat): "
                    + "; ".join(
                        f"{k.replace('_over_', ' / ').replace('_0.0001', ', to 1e-4').replace('_1e-05', ', to 1e-5')} {_spread(v, 'x')}"
                        for k, v in sp.items()
                    )
                )
        lines += ["", *_records("time_to_accuracy")]
    extra = HERE / "NOTES.md"
    if extra.exists():
        lines += ["", extra.read_text().strip()]
    real = list(_rows("real_pendulum"))
    if real:
        lines += [
            "",
            "## Real pendulum: import + training beside the HNN paper's PyTorch recipe",
            "",
        ]
        lines += [
            "real_pend_h_1 (Schmidt & Lipson 2009): read the text file, forward differences, the",
            "first 80 % in time trains; HNN with H = MLP 2-200-200-1 tanh, 2000 full-batch Adam",
            "steps at 1e-3 (Greydanus et al. 2019). physnet in float64 (compile time apart);",
            "PyTorch as in the paper's code (float32) and in float64; interleaved repeats, medians.",
            "Command: `python benchmarks/bench_real_pendulum.py --repeats 2 --json results/real_pendulum_TAG.json`.",
            "",
            "| result file | machine (load 1/5/15 min) | physnet import | physnet compile | physnet train | "
            "torch f32 train | torch f64 train | **speed-up f32 / f64** (torch train / physnet compile+train) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for path, d in real:
            p, t32, t64 = d["physnet"], d.get("torch_float32"), d.get("torch_float64")
            lines.append(
                f"| {path.name} | {d['machine']} ({', '.join(map(str, d['load_average_1_5_15min']))}) | "
                f"{_f(p['import_s_median'])} s | {_f(p['compile_s_median'])} s | "
                f"{_f(p['train_s_median'])} s | {_f(t32 and t32['train_s_median'])} s | "
                f"{_f(t64 and t64['train_s_median'])} s | "
                f"**{_f(d.get('speedup_physnet_over_torch_float32'))}x / "
                f"{_f(d.get('speedup_physnet_over_torch_float64'))}x** |"
            )
        lines += [
            "",
            "What this says (real_pendulum_dev2core.json, 2026-11-29, nothing else running): on this",
            "small problem (444 samples, a 200-200 MLP) PyTorch in the paper's float32 trains 6 %",
            "faster than physnet's float64 compile + train; at the same precision physnet is 1.64x",
            "faster. Importing the text file with validation takes physnet 0.27 s against 0.003 s for",
            "the paper's bare `numpy.loadtxt`. The losses after 2000 steps agree (8.78e-3, 8.80e-3).",
        ]
    lines += [
        "",
        "## Measurement records",
        "",
        "Every result file with its machine load (1-minute average at start -> end), date and",
        "command (`benchmarks/_machine.py`; a script refuses a busy machine unless `--force`, and",
        "then flags the result **CONTENDED**: its times are upper bounds, its ratios rough).",
        "",
    ]
    for name in BENCHMARKS:
        lines += _records(name)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", default="local")
    ap.add_argument("--only", default=None, help="comma-separated benchmark names")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument(
        "--force", action="store_true", help="run on a busy machine (results flagged contended)"
    )
    ap.add_argument(
        "--peak-gflops", type=float, default=None, help="this machine's float64 peak (ensemble)"
    )
    args = ap.parse_args()
    if not args.report_only:
        run(args.tag, args.only.split(",") if args.only else None, args.peak_gflops, args.force)
    (HERE / "README.md").write_text(report())
    print(f"wrote {HERE / 'README.md'}")


if __name__ == "__main__":
    main()
