"""Run the reproduced experiments and print physnet's numbers beside the source's."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from .._errors import ConfigError
from .._io import atomic_directory, write_json
from ._common import Experiment, aggregate_seeds
from ._e1_e2 import E1, E2

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (E1, E2)}

_COLUMNS = ("train_mse", "test_mse", "test_mse_clean", "energy_drift", "gamma_hat")


def parse_experiments(spec: str | None) -> list[str]:
    """``"all"``/``None`` -> every experiment; ``"E1,E3"`` -> those, validated."""
    if spec is None or spec.strip().lower() == "all":
        return list(EXPERIMENTS)
    names = [s.strip().upper() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown or not names:
        raise ConfigError(
            f"unknown experiment(s) {', '.join(unknown) or repr(spec)}; choose from "
            f"{', '.join(EXPERIMENTS)} or 'all'"
        )
    return names


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and (math.isnan(x) or x == 0.0):
        return f"{x:g}"
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def _range(spread, key) -> str:
    lo_hi = (spread or {}).get(key)
    return f"[{_fmt(lo_hi[0])}, {_fmt(lo_hi[1])}]" if isinstance(lo_hi, list) else ""


def format_table(results: dict[str, dict]) -> str:
    """A plain-text table: physnet's median over seeds, its [min, max], the source's number."""
    lines = [
        f"{'exp':<4} {'metric':<24} {'physnet median':>14} {'[min, max] over seeds':>24} {'source':>9}"
    ]
    for name, metrics in results.items():
        source = EXPERIMENTS[name].source
        spread = metrics.get("spread", {})
        rows = [
            (key, metrics.get(key), _range(spread, key))
            for key in _COLUMNS
            if key in metrics or key in source
        ]
        node = metrics.get("neural_ode")
        if node:
            rows += [
                (f"neural ODE {k}", node.get(k), _range(spread.get("neural_ode"), k))
                for k in ("test_mse", "energy_drift")
            ]
        for key, value, rng in rows:
            src = _fmt(source.get(key)) if key in source else "-"
            lines.append(f"{name:<4} {key:<24} {_fmt(value):>14} {rng:>24} {src:>9}")
    return "\n".join(lines)


def reproduce(
    experiments: str | list[str] | None = None,
    out: str | Path = "physnet-results",
    *,
    quick: bool = False,
    echo=print,
) -> dict[str, dict]:
    """Run experiments and write ``out/<E#>/metrics.json`` and figures.

    A full run repeats each experiment over its seeds (data and initialisation) and reports the
    median with the [min, max] spread; figures come from the first seed. ``quick`` runs one seed
    on small settings. Each experiment's folder is written atomically (a failed experiment
    leaves no partial folder). Returns the metrics by experiment name; also writes
    ``out/summary.json``.
    """
    names = experiments if isinstance(experiments, list) else parse_experiments(experiments)
    out = Path(out)
    results: dict[str, dict] = {}
    for i, name in enumerate(names, 1):
        exp = EXPERIMENTS[name]
        cfg = exp.quick_config if quick else exp.config
        echo(f"[{i}/{len(names)}] {name}: {exp.title}{' (quick)' if quick else ''} ...")
        t0 = time.perf_counter()
        seeds = exp.seeds[:1] if quick else exp.seeds
        with atomic_directory(out / name) as workdir:
            per_seed = []
            for j, seed in enumerate(seeds):
                if len(seeds) > 1:
                    echo(f"      seed {seed} ({j + 1}/{len(seeds)})")
                per_seed.append(exp.train_and_evaluate(exp.with_seed(cfg, seed), workdir, j == 0))
            metrics = aggregate_seeds(per_seed)
            metrics["experiment"] = name
            metrics["quick"] = quick
            metrics["source"] = exp.source
            metrics["wall_seconds"] = time.perf_counter() - t0
            write_json(workdir / "metrics.json", metrics)
        echo(f"      done in {metrics['wall_seconds']:.1f} s")
        results[name] = metrics
    write_json(out / "summary.json", results)
    echo("")
    echo(format_table(results))
    return results


def main_reproduce(experiments, out, quick) -> int:  # pragma: no cover - thin CLI shim
    reproduce(experiments, out, quick=quick, echo=lambda s: print(s, file=sys.stdout, flush=True))
    return 0
