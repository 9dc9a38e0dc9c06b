"""The harness: train one family at one size on one task (:func:`train_one`), all families at
a matched budget over seeds (:func:`compare`), and the rows with their summaries
(:class:`Comparison`)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .._checks import integer
from .._errors import ConfigError, TrainingDivergedError
from ..approximators import KAN
from ..training import fit
from ._families import Family, default_families
from ._measure import MATCHES, alpha_values, forward_flops, measure, parameter_count, size_for
from ._tasks import Task, TaskLoss


def train_one(
    task: Task,
    family: Family,
    size: int,
    seed: int,
    *,
    steps: int = 500,
    optimizer: optax.GradientTransformation | None = None,
    grid_update: bool = True,
) -> dict:
    """Build, train and measure one family member on one task.

    Build ``family`` at ``size`` (initialised from ``seed``), train it on ``task`` with
    :func:`physnet.fit` (full batch, ``steps`` steps, default ``optax.adam(1e-2)``) and
    measure it. A KAN's grids are first moved to the range of its training inputs
    (``grid_update``). A divergence is recorded (``diverged``), with the error of the last
    finite parameters.

    Returns:
        a row: task, approximator, size, seed, params, flops, error, train_loss,
        seconds_per_step, compile_seconds, diverged (and ``alpha`` quantiles for
        soft-exponential networks).
    """
    approx = family.build(
        size, task.in_features, task.out_features, nnx.Rngs(seed), task.input_range
    )
    if grid_update and isinstance(approx, KAN):
        approx.update_grid(jnp.asarray(task.train[0]))
    model = task.model(approx)
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer
    diverged = False
    try:
        history = fit(
            model,
            task.train,
            steps=steps,
            optimizer=optimizer,
            loss=TaskLoss(task),
            chunk_size=max(steps, 1),
            progress=False,
        )
    except TrainingDivergedError as err:
        diverged, history = True, err.history
    row = {
        "task": task.name,
        "approximator": family.name,
        "size": int(size),
        "seed": int(seed),
        "params": parameter_count(approx),
        "flops": forward_flops(approx),
        "error": task.error(model),
        "train_loss": float(history.final_train_loss()) if history is not None else math.nan,
        "seconds_per_step": (history.train_seconds / max(history.steps, 1))
        if history is not None
        else math.nan,
        "compile_seconds": history.compile_seconds if history is not None else math.nan,
        "diverged": diverged,
    }
    alpha = alpha_values(approx)
    if alpha.size:
        row["alpha"] = {
            q: float(np.quantile(alpha, p))
            for q, p in (("min", 0.0), ("median", 0.5), ("max", 1.0))
        }
    if not math.isfinite(row["error"]):
        row["diverged"] = True
    return row


@dataclasses.dataclass
class Comparison:
    """The rows of a comparison (one per task, approximator, size and seed) with summaries.

    Attributes:
        rows: list of row dicts (see :func:`train_one`).
        settings: how they were made (match, budget, steps, optimizer, seeds).
    """

    rows: list[dict]
    settings: dict

    def summary(self) -> list[dict]:
        """Median [min, max] over seeds per (task, approximator, size): error, params,
        flops, seconds_per_step, compile_seconds; the first seed's compile time
        (``compile_seconds_first``) and the divergence count."""
        groups: dict[tuple, list[dict]] = {}
        for r in self.rows:
            groups.setdefault((r["task"], r["approximator"], r["size"]), []).append(r)
        out = []
        for (task, name, size), rows in groups.items():
            s = {
                "task": task,
                "approximator": name,
                "size": size,
                "seeds": len(rows),
                "diverged": sum(bool(r["diverged"]) for r in rows),
            }
            for k in ("error", "params", "flops", "seconds_per_step", "compile_seconds"):
                v = np.asarray([r[k] for r in rows], float)
                v = v[np.isfinite(v)]
                s[k] = (
                    [float(np.median(v)), float(v.min()), float(v.max())]
                    if v.size
                    else [math.nan] * 3
                )
            # the first seed's compile: the cold one when a persistent cache serves the others
            s["compile_seconds_first"] = float(rows[0]["compile_seconds"])
            out.append(s)
        return out

    def table(self) -> str:
        """A Markdown table of :meth:`summary`."""
        lines = [
            "| task | approximator | size | params | FLOPs | error median [min, max] | "
            "ms/step | compile s (first seed) | diverged |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for s in self.summary():
            e = s["error"]
            lines.append(
                f"| {s['task']} | {s['approximator']} | {s['size']} | {s['params'][0]:.0f} | "
                f"{s['flops'][0]:.0f} | {e[0]:.3g} [{e[1]:.3g}, {e[2]:.3g}] | "
                f"{1e3 * s['seconds_per_step'][0]:.3g} | {s['compile_seconds_first']:.2g} | "
                f"{s['diverged']}/{s['seeds']} |"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"settings": self.settings, "summary": self.summary(), "rows": self.rows}

    def to_json(self, path: str | os.PathLike) -> None:
        """Write settings, summary and rows as JSON."""
        with open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=1, default=float)

    def __str__(self) -> str:
        return self.table()


def _families(factories) -> dict[str, Family]:
    if factories is None:
        return default_families()
    if isinstance(factories, Mapping):
        fams = dict(factories)
    else:
        fams = {f.name: f for f in factories}
    for name, f in fams.items():
        if not isinstance(f, Family):
            raise ConfigError(
                f"compare: factory {name!r} must be a physnet.analysis.Family, got {f!r}"
            )
    if not fams:
        raise ConfigError("compare: no approximator families given")
    return fams


def compare(
    tasks: Sequence[Task] | Task,
    factories: Mapping[str, Family] | Sequence[Family] | None = None,
    *,
    match: str = "params",
    budget: float | None = None,
    seeds: int | Sequence[int] = 5,
    steps: int = 500,
    optimizer: optax.GradientTransformation | None = None,
    sizes: Mapping[str, Sequence[int]] | None = None,
    grid_update: bool = True,
) -> Comparison:
    """Train every approximator family on every task at a matched budget, over seeds.

    Each family is sized (:func:`size_for`) so that its parameter count (``match="params"``)
    or its forward-pass FLOPs as counted by XLA (``match="flops"``) is nearest ``budget``
    (default: the first family's measure at its default size, per task); or, with ``sizes``,
    run at the given sizes (for scaling curves). Every run uses the same optimizer, steps and
    full batch; seeds vary the initialisation (the data are fixed by the task).

    Args:
        tasks: one :class:`Task` or several (e.g. :func:`builtin_tasks`).
        factories: :class:`Family` objects by name (default :func:`default_families`).
        match: ``"params"`` or ``"flops"``.
        budget: the target parameter count or FLOPs.
        seeds: number of seeds (0..n-1) or the seeds.
        steps: optimizer steps per run.
        optimizer: optax optimizer (default ``optax.adam(1e-2)``).
        sizes: explicit sizes per family name (overrides matching for those families).
        grid_update: move KAN grids to the training inputs' range before training.

    Returns:
        :class:`Comparison` (``.table()``, ``.summary()``, ``.to_json(path)``).

    Raises:
        ConfigError: on an unknown ``match``, bad seeds or steps, or a non-Family factory.
    """
    if isinstance(tasks, Task):
        tasks = [tasks]
    fams = _families(factories)
    if match not in MATCHES:
        raise ConfigError(f"compare: match must be one of {MATCHES}, got {match!r}")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ConfigError(f"compare: seeds must be a positive count or a list, got {seeds!r}")
    integer("compare", "steps", steps, low=1)
    rows = []
    budgets = {}
    for task in tasks:
        io = (task.in_features, task.out_features)
        first = next(iter(fams.values()))
        target = (
            budget
            if budget is not None
            else measure(first, first.default, *io, match, task.input_range)
        )
        budgets[task.name] = target
        for name, fam in fams.items():
            if sizes is not None and name in sizes:
                run_sizes = list(sizes[name])
            else:
                run_sizes = [size_for(fam, target, *io, match=match, input_range=task.input_range)]
            for size in run_sizes:
                for seed in seed_list:
                    rows.append(
                        train_one(
                            task,
                            fam,
                            size,
                            seed,
                            steps=steps,
                            optimizer=optimizer,
                            grid_update=grid_update,
                        )
                    )
    settings = {
        "match": match,
        "budget": budgets,
        "steps": steps,
        "seeds": seed_list,
        "optimizer": "adam(1e-2)" if optimizer is None else repr(optimizer),
        "families": list(fams),
        "tasks": {t.name: t.description for t in tasks},
    }
    return Comparison(rows, settings)
