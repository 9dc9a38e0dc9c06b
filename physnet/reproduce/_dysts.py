"""The dysts benchmark (issue 29) as registered experiments: ``dysts`` (a small subset, minutes)
and ``dysts-all`` (every flow of dysts 0.96), both through :func:`physnet.benchmarks.dysts`.

Each system's record is appended to ``systems.jsonl`` in the experiment's folder as soon as it
is done, so a long run can be followed and its finished systems read; the summary (medians and
quartiles across systems per method and noise level, win counts against PySINDy) goes to
``results.json`` and ``table.md``. Needs the ``peers`` (or ``dysts``) extra.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from ._common import study


@dataclasses.dataclass(frozen=True)
class DystsConfig:
    """Settings of :func:`physnet.benchmarks.dysts` run on ``systems``.

    ``systems``: ``"default"`` (:data:`physnet.benchmarks.DEFAULT_SUBSET`), ``"kaptanoglu"``
    (the 70 polynomial flows of Kaptanoglu et al. 2023), ``"all"`` (every dysts flow) or a
    tuple of names. ``noises``: fractions of each state's standard deviation; ``peer_noises``:
    where PySINDy also runs (``None``: all); ``methods``: physnet's and PySINDy's method names;
    ``seeds``: the noise seeds (one run each)."""

    systems: str | tuple[str, ...] = "default"
    noises: tuple[float, ...] = (0.0, 0.01, 0.05, 0.1)
    peer_noises: tuple[float, ...] | None = None
    methods: tuple[str, ...] = ("physnet-weak", "physnet-strong", "pysindy-stlsq-fd")
    forecast: bool = True
    degree: int = 4
    n_train: int = 5
    n_test: int = 5
    n_points: int = 1000
    points_per_period: int = 100
    forecast_periods: float = 2.0
    neural_ode_steps: int = 1000
    seeds: tuple[int, ...] = (0,)


def _names(systems) -> tuple[str, ...]:
    from .. import benchmarks

    if isinstance(systems, str):
        if systems == "all":
            return tuple(benchmarks.dysts_names())
        return {"default": benchmarks.DEFAULT_SUBSET,
                "kaptanoglu": benchmarks.KAPTANOGLU_SYSTEMS}.get(systems, (systems,))  # fmt: skip
    return tuple(systems)


def _fmt(entry: dict, key: str) -> str:
    v = entry.get(key)
    if not v:
        return "-"
    return f"{v['median']:.3g} [{v['q1']:.3g}, {v['q3']:.3g}]"


def table(summary: list[dict]) -> str:
    """The summary as Markdown: per method and noise, median [quartiles] across systems."""
    lines = [
        "| noise | method | systems | coefficient error | < 0.1 | exact support | sMAPE "
        "(2 periods) | VPT (Lyapunov times) | Hellinger | fit s | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        n_poly = e["polynomial_systems"]
        lines.append(
            f"| {e['noise']:g} | {e['method']} | {e['systems']} | "
            f"{_fmt(e, 'coefficient_error')} | {e['below_0.1']}/{n_poly} | "
            f"{e['exact_support']}/{n_poly} | {_fmt(e, 'smape')} | {_fmt(e, 'vpt')} | "
            f"{_fmt(e, 'hellinger')} | {_fmt(e, 'fit_seconds')} | {e['errors']} |"
        )
    return "\n".join(lines) + "\n"


def _fingerprint(cfg: DystsConfig) -> str:
    """What a finished system's record depends on besides its name and seed (the settings)."""
    import hashlib

    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("systems", "seeds")}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _finished(lines: Path, fingerprint: str) -> dict[tuple[str, int], dict]:
    """The records of ``systems.jsonl`` made with the same settings, by (system, seed): a run
    that stopped (Ctrl-C, a crash, a killed machine) resumes after them. A last line cut by a
    kill is ignored; records made with other settings are dropped (the file is rewritten)."""
    if not lines.exists():
        return {}
    done, dropped = {}, 0
    for text in lines.read_text().splitlines():
        try:
            record = json.loads(text)
        except json.JSONDecodeError:  # a line cut by a kill mid-write
            dropped += 1
            continue
        if record.get("settings") == fingerprint:
            done[(record["name"], record["seed"])] = record
        else:
            dropped += 1
    if dropped:
        from .._io import atomic_path

        with atomic_path(lines) as tmp:
            Path(tmp).write_text("".join(json.dumps(r) + "\n" for r in done.values()))
    return done


def train_and_evaluate(cfg: DystsConfig, workdir: Path, figures: bool = True) -> dict:
    """Every system of ``cfg.systems`` at every noise level and seed; writes
    ``systems.jsonl`` (a line per system and seed, appended as each finishes), ``results.json``
    and ``table.md``. Run again on the same folder with the same settings, it resumes: the
    systems already in ``systems.jsonl`` are read back, not fitted again."""
    from .. import benchmarks

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    lines = workdir / "systems.jsonl"
    names = _names(cfg.systems)
    fingerprint = _fingerprint(cfg)
    done = _finished(lines, fingerprint)
    records = []
    t0 = time.perf_counter()
    for seed in cfg.seeds:
        for name in names:
            if (name, seed) in done:
                records.append(done[(name, seed)])
                continue
            result = benchmarks.dysts(
                [name], noises=cfg.noises, methods=cfg.methods, peers_too=False,
                peer_noises=cfg.peer_noises, degree=cfg.degree, n_train=cfg.n_train,
                n_test=cfg.n_test, n_points=cfg.n_points,
                points_per_period=cfg.points_per_period, forecast=cfg.forecast,
                forecast_periods=cfg.forecast_periods, neural_ode_steps=cfg.neural_ode_steps,
                seed=seed,
            )  # fmt: skip
            record = {**result["systems"][0], "seed": seed, "seconds": result["seconds"],
                      "settings": fingerprint}  # fmt: skip
            records.append(record)
            with lines.open("a") as f:  # one whole line per finished system
                f.write(json.dumps(record) + "\n")
                f.flush()
    summary = benchmarks.summarize(records)
    results = {
        "summary": summary,
        "wins": benchmarks.win_counts(records),
        "failed": [
            {"name": r["name"], "status": r["status"], "reason": r.get("reason")}
            for r in records
            if r["status"] != "fitted"
        ],
        "seconds": time.perf_counter() - t0,
        "resumed": sum(key in done for key in ((n, s) for s in cfg.seeds for n in names)),
    }
    text = table(summary)
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    (workdir / "table.md").write_text(text)
    return {"config": dataclasses.asdict(cfg), **results, "table": text}


def _shrink(cfg: DystsConfig) -> DystsConfig:
    return dataclasses.replace(
        cfg, systems=("Lorenz",), noises=(0.0,), n_train=2, n_test=1, n_points=300,
        methods=("physnet-weak",),
    )  # fmt: skip


DYSTS = study(
    "DYSTS",
    "dysts flows: sparse polynomial identification and forecasts, physnet vs PySINDy "
    "(small subset; needs the peers extra)",
    DystsConfig(),
    train_and_evaluate,
    _shrink,
    requires=("dysts",),
)
DYSTS_ALL = study(
    "DYSTS-ALL",
    "every dysts 0.96 flow (135): fitted, or failed/excluded with a reason (needs the peers extra)",
    DystsConfig(systems="all", noises=(0.0, 0.01)),
    train_and_evaluate,
    _shrink,
    requires=("dysts",),
)
