"""Run the reproduced experiments and print physnet's numbers beside the source's."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

from .._errors import ConfigError
from .._io import atomic_directory, check_output, write_json, write_marker
from ._common import Experiment, aggregate_seeds
from ._e1_e2 import E1, E2
from ._e3_e4 import E3, E4, LNN_MLP
from ._e5 import E5
from ._e6 import E6
from ._papers_finzi import FINZI_CHAINS
from ._papers_hnn import HNN_PAPER
from ._papers_lnn import LNN_PAPER
from ._real import REAL_EXPERIMENTS
from ._studies import STUDY_EXPERIMENTS

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        E1,
        E2,
        E3,
        E4,
        E5,
        LNN_MLP,
        E6,
        HNN_PAPER,
        LNN_PAPER,
        FINZI_CHAINS,
        *REAL_EXPERIMENTS,
        *STUDY_EXPERIMENTS,
    )  # fmt: skip
}
"""Every registered experiment by name (``physnet reproduce --experiments NAME``)."""

_COLUMNS = (
    "train_mse",
    "test_mse",
    "test_mse_clean",
    "test_rmse",
    "energy_drift",
    "energy_drift_t1000",
    "rollout_rmse",
    "gamma_hat",
    "gamma_error",
    "coefficient_error",
    "max_coefficient_error",
)


# Extra baselines, run only when named: E5-MLP (an LNN with an MLP Lagrangian, issue 3's
# baseline for E5) costs about 70 s per seed on 2 CPU cores, which would push the default run
# past its 15-minute budget.
# The peer papers' protocols (issue 15) run only when named too: their full recipes (5 seeds,
# two-body 10,000 steps, a 600-wide LNN) take far longer than the source's experiments.
BASELINES = ("E5-MLP", "HNN-PAPER", "LNN-PAPER", "FINZI-CHAINS")
#: measured-data experiments (physnet/reproduce/_real.py), run only when named
REAL_DATA = tuple(e.name for e in REAL_EXPERIMENTS)
#: the studies of experiments/<study>/ (physnet/reproduce/_studies.py), run only when named
STUDIES = tuple(e.name for e in STUDY_EXPERIMENTS)


def _key(name: str) -> str:
    """An experiment's registry key from its name or its folder's (``kan_vs_mlp`` ->
    ``KAN-VS-MLP``)."""
    return str(name).strip().upper().replace("_", "-")


def parse_experiments(spec: str | None) -> list[str]:
    """Parse and validate an ``--experiments`` list into registry names.

    ``"all"``/``None`` -> the source's experiments E1-E6; ``"E1,E3"`` -> those,
    validated; baselines (``"E5-MLP"``), measured data and the studies run only when named
    (by registry name or folder name: ``kan_vs_mlp``)."""
    if spec is None or spec.strip().lower() == "all":
        return [name for name in EXPERIMENTS if name not in BASELINES + REAL_DATA + STUDIES]
    names = [_key(s) for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown or not names:
        raise ConfigError(
            f"unknown experiment(s) {', '.join(unknown) or repr(spec)}; choose from "
            f"{', '.join(EXPERIMENTS)} or 'all' (all but the baselines {', '.join(BASELINES)})"
        )
    return names


def check_peers(name: str, config=None) -> None:
    """Raise one line naming the ``peers`` extra when experiment ``name`` (with ``config``,
    default its registered settings) needs a package that is not installed."""
    exp = EXPERIMENTS[name]
    missing = exp.missing_peers(exp.config if config is None else config)
    if missing:
        raise ConfigError(
            f"experiment {name} needs {', '.join(missing)} (not installed): "
            'pip install -e ".[peers]"'
        )


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and (math.isnan(x) or x == 0.0):
        return f"{x:g}"
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def _range(spread, key) -> str:
    lo_hi = (spread or {}).get(key)
    return f"[{_fmt(lo_hi[0])}, {_fmt(lo_hi[1])}]" if isinstance(lo_hi, list) else ""


def table_rows(results: dict[str, dict]):
    """Rows ``(experiment, metric, median, "[min, max]", best median, source)`` as strings."""
    for name, metrics in results.items():
        source = EXPERIMENTS[name].source if name in EXPERIMENTS else metrics.get("source", {})
        spread = metrics.get("spread", {})
        best = metrics.get("physnet_best") or {}
        columns = EXPERIMENTS[name].columns if name in EXPERIMENTS else ()
        keys = [*_COLUMNS, *columns]
        keys += [k for k in source if k not in keys]
        rows = [
            (key, metrics.get(key), _range(spread, key), best.get(key))
            for key in keys
            if key in metrics or key in source
        ]
        node = metrics.get("neural_ode")
        if node:
            rows += [
                (f"neural ODE {k}", node.get(k), _range(spread.get("neural_ode"), k), None)
                for k in ("test_mse", "energy_drift", "energy_drift_t1000")
            ]
        for key, value, rng, best_value in rows:
            src = _fmt(source.get(key)) if key in source else "-"
            yield name, key, _fmt(value), rng, _fmt(best_value), src


def format_table(results: dict[str, dict]) -> str:
    """Format the results as a plain-text table beside the source's numbers.

    A plain-text table: physnet's median over seeds with its [min, max], the "physnet best"
    median (where ``--best`` was run) and the source's number."""
    lines = [
        f"{'exp':<10} {'metric':<34} {'physnet median':>14} {'[min, max] over seeds':>24} "
        f"{'physnet best':>12} {'source':>9}"
    ]
    for name, key, value, rng, best, src in table_rows(results):
        lines.append(f"{name:<10} {key:<34} {value:>14} {rng:>24} {best:>12} {src:>9}")
    return "\n".join(lines)


def format_markdown_table(results: dict[str, dict]) -> str:
    """The same table in Markdown."""
    lines = [
        "| experiment | metric | physnet median | [min, max] over seeds | physnet best | source |",
        "|---|---|---|---|---|---|",
    ]
    for row in table_rows(results):
        lines.append("| " + " | ".join(cell or " " for cell in row) + " |")
    return "\n".join(lines)


def _run_seeds(exp: Experiment, cfg, seeds, workdir: Path, figures: bool, echo, tag: str):
    per_seed = []
    t0 = time.perf_counter()
    for j, seed in enumerate(seeds):
        if len(seeds) > 1 or tag:
            echo(f"      {exp.name}: {tag}seed {seed} ({j + 1}/{len(seeds)}) ...")
        per_seed.append(
            exp.train_and_evaluate(exp.with_seed(cfg, seed), workdir, figures and j == 0)
        )
        elapsed = time.perf_counter() - t0
        if len(seeds) > 1 and j + 1 < len(seeds):  # the seeds cost alike: a linear estimate
            left = elapsed / (j + 1) * (len(seeds) - j - 1)
            echo(f"      {exp.name}: {tag}{elapsed:.0f} s so far, about {left:.0f} s left")
    return aggregate_seeds(per_seed)


def run_experiment(
    name: str,
    workdir: str | Path,
    *,
    config=None,
    best_config=None,
    seeds: tuple[int, ...] | None = None,
    quick: bool = False,
    best: bool = False,
    echo=print,
    overwrite: bool = False,
) -> dict:
    """Run one experiment over seeds and write ``workdir/metrics.json`` and its figures.

    Args:
        name: ``"E1"``, ... (see :data:`EXPERIMENTS`).
        workdir: output folder, written atomically (replaced as a whole, never half-written).
        config: settings to run instead of the registered ones (for example a forked
            ``experiments/e1/config.py``); ``with_seed`` still sets the data and
            initialisation seeds.
        best_config: "physnet best" settings instead of the registered ones.
        seeds: seeds to run (default: the experiment's, or its first one with ``quick``).
        quick: small settings (ignored for a given ``config``).
        best: also run the best settings over the same seeds, stored under ``"physnet_best"``.
        overwrite: replace a previous physnet experiment folder at ``workdir``; any other
            non-empty folder is refused before the experiment runs.
    """
    exp = EXPERIMENTS[name]
    if config is None:
        config = exp.quick_config if quick else exp.config
    check_peers(name, config)
    if exp.own_seeds:  # a study: one run over the config's own seeds
        if seeds is not None:
            config = dataclasses.replace(config, seeds=tuple(seeds))
        t0 = time.perf_counter()
        with atomic_directory(Path(workdir), "experiment", overwrite=overwrite) as tmp:
            metrics = exp.train_and_evaluate(config, tmp, True)
            metrics.update(experiment=name, quick=quick, source=exp.source)
            metrics["wall_seconds"] = time.perf_counter() - t0
            write_json(tmp / "metrics.json", metrics)
        return metrics
    if seeds is None:
        seeds = exp.seeds[:1] if quick else exp.seeds
    best_config = exp.best_config if best_config is None else best_config
    t0 = time.perf_counter()
    with atomic_directory(Path(workdir), "experiment", overwrite=overwrite) as tmp:
        metrics = _run_seeds(exp, config, seeds, tmp, True, echo, "")
        if best and best_config is not None:
            if quick:
                best_config = exp.quick_version(best_config)
            metrics["physnet_best"] = _run_seeds(
                exp, best_config, seeds, tmp, False, echo, "physnet best, "
            )
        metrics["experiment"] = name
        metrics["quick"] = quick
        metrics["source"] = exp.source
        metrics["wall_seconds"] = time.perf_counter() - t0
        write_json(tmp / "metrics.json", metrics)
    return metrics


def reproduce(
    experiments: str | list[str] | None = None,
    out: str | Path = "physnet-results",
    *,
    quick: bool = False,
    best: bool = False,
    echo=print,
    overwrite: bool = False,
) -> dict[str, dict]:
    """Run experiments and write ``out/<E#>/metrics.json`` and figures.

    A full run repeats each experiment over its seeds (data and initialisation) and reports the
    median with the [min, max] spread; figures come from the first seed. ``quick`` runs one seed
    on small settings. ``best`` also runs each experiment's ``best_config`` (physnet's
    recommended settings) over the same seeds and stores its aggregate under
    ``"physnet_best"`` (with ``quick``, the best settings are shrunk the same way as the
    source's). Each experiment's folder is written atomically (a failed experiment leaves no
    partial folder). Returns the metrics by experiment name; also writes ``out/summary.json``.

    ``out`` must be new, empty or a previous results folder (marked by physnet); an
    experiment's folder in it is replaced only with ``overwrite``. Both are checked before
    the first experiment runs.
    """
    names = experiments if isinstance(experiments, list) else parse_experiments(experiments)
    for name in names:
        exp = EXPERIMENTS[name]
        check_peers(name, exp.quick_config if quick else exp.config)
    out = check_output(out, "results", overwrite=True)
    for name in names:
        check_output(out / name, "experiment", overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "results")
    results: dict[str, dict] = {}
    t_start = time.perf_counter()
    for i, name in enumerate(names, 1):
        exp = EXPERIMENTS[name]
        echo(f"[{i}/{len(names)}] {name}: {exp.title}{' (quick)' if quick else ''} ...")
        metrics = run_experiment(
            name, out / name, quick=quick, best=best, echo=echo, overwrite=overwrite
        )
        elapsed = time.perf_counter() - t_start
        echo(f"      done in {metrics['wall_seconds']:.1f} s (total {elapsed:.0f} s)")
        results[name] = metrics
    write_json(out / "summary.json", results)
    table = out / "results.md"
    table.write_text(format_markdown_table(results) + "\n")
    echo("")
    echo(format_table(results))
    for name, metrics in results.items():
        if EXPERIMENTS[name].own_seeds and metrics.get("table"):
            echo(f"\n{name}:\n{metrics['table']}")
    figures = sorted({str(p.parent) for p in out.glob("*/*.png")})
    echo("")
    echo(
        f"physnet reproduce: {len(names)} experiment(s) in {time.perf_counter() - t_start:.0f} s; "
        f"results table: {table} (all numbers: {out / 'summary.json'}, per experiment "
        f"{out}/<name>/metrics.json); figures: "
        + (", ".join(f"{d}/*.png" for d in figures) if figures else "none")
    )
    return results


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name`` (``"E1"`` ... ``"E6"``, ``"E5-MLP"``; case-insensitive).

    Its ``config`` (the source's settings) and ``best_config`` ("physnet best", or ``None``)
    are the single source of the experiment's settings: ``physnet reproduce`` and the folders
    ``experiments/<e#>/main.py`` run them. To change an experiment, build on them with
    ``dataclasses.replace``, e.g.
    ``dataclasses.replace(get_experiment("E1").config, width=64, steps=6000)``, and pass the
    result to :func:`experiment_main` or :func:`run_experiment`.

    Raises:
        ConfigError: ``name`` is not a registered experiment.
    """
    key = _key(name)
    if key not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[key]


def experiment_main(name: str, config=None, best_config=None, argv: list[str] | None = None) -> int:
    """The command line of one ``experiments/<name>/main.py``.

    Command line of one ``experiments/<e#>/main.py``: run the experiment over seeds, write
    ``--workdir``, print the table beside the source's numbers.

    Args:
        name: the registered experiment (see :func:`get_experiment`).
        config: settings to run instead of the registered ``config`` (a fork builds them with
            ``dataclasses.replace`` on ``get_experiment(name).config``); ``None``: the
            registered ones.
        best_config: "physnet best" settings instead of the registered ``best_config``.
        argv: command-line arguments (default ``sys.argv[1:]``).

    Options: ``--workdir DIR`` (default ``physnet-results/<name>``), ``--seeds 0,1,2``,
    ``--quick`` (``config`` on the quick sizes, one seed: the registered quick settings for
    the registered config), ``--best`` (also run the best settings),
    ``--set FIELD=VALUE`` (repeatable: one setting of ``config`` replaced, the value read
    as JSON, lists as tuples, anything else as a string; applied after ``--quick``),
    ``--print-config`` (print the settings as JSON and exit). Figures are written with
    matplotlib's Agg backend (selected here, at the entry point, never on import).

    Returns:
        The exit status (0).
    """
    import argparse

    exp = get_experiment(name)
    config = exp.config if config is None else config
    best_config = exp.best_config if best_config is None else best_config
    parser = argparse.ArgumentParser(description=f"{exp.name}: {exp.title}")
    parser.add_argument("--workdir", "--out", default=f"physnet-results/{exp.name}")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default 0-4)")
    parser.add_argument("--quick", action="store_true", help="small settings, one seed")
    parser.add_argument("--best", action="store_true", help="also run physnet's best settings")
    parser.add_argument(
        "--print-config", action="store_true", help="print the settings as JSON and exit"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a previous physnet --workdir"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="replace one setting (repeatable), e.g. --set steps=500 --set seeds=[0,1]",
    )
    args = parser.parse_args(argv)
    if args.quick:
        config = exp.quick_version(config)
    try:
        config = _with_settings(config, args.set)
    except ValueError as err:
        parser.error(str(err))
    if args.print_config:
        settings = {"config": config, "best_config": best_config}
        as_dicts = {k: None if v is None else dataclasses.asdict(v) for k, v in settings.items()}
        print(json.dumps(as_dicts, indent=2))
        return 0
    try:
        seeds = None if args.seeds is None else tuple(int(s) for s in args.seeds.split(","))
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    import matplotlib

    matplotlib.use("Agg")  # a batch job writing PNG files; no window
    metrics = run_experiment(
        exp.name,
        args.workdir,
        config=config,
        best_config=best_config,
        seeds=seeds,
        quick=args.quick,
        best=args.best,
        overwrite=args.overwrite,
    )
    print(format_table({exp.name: metrics}))
    if exp.own_seeds and metrics.get("table"):
        print(metrics["table"])
    return 0


def _with_settings(config, settings: list[str]):
    """``config`` with each ``FIELD=VALUE`` of ``settings`` replaced (``--set``)."""
    if not settings:
        return config
    fields = {f.name for f in dataclasses.fields(config)}
    changes = {}
    for item in settings:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise ValueError(
                f"--set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(sorted(fields))}"
            )
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        changes[name] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(config, **changes)
