"""Shared pieces of the reproduced experiments: data, metrics, figures, the registry."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..data import Trajectories, generate
from ..evaluation import derivative_mse as derivative_mse  # cli.py imports it from here
from ..evaluation import rollout
from ..plotting import phase_portrait, save_figure, time_series
from ..systems import AbstractSystem


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The source's data set (SPEC.md section 2) and how it is split and perturbed.

    Random keys: ``jax.random.split(jax.random.key(seed), 3)`` gives the keys for the initial
    conditions, the train/test split and the noise, in that order.
    """

    alpha: float = 1.0
    beta: float = 2.0
    gamma: float = 0.0
    noise: float = 0.0
    n_trajectories: int = 100
    t1: float = 5.0
    n_points: int = 50
    train_fraction: float = 0.8
    seed: int = 0


@dataclasses.dataclass
class Experiment:
    """One reproduced experiment of SPEC.md section 3.

    Attributes:
        name: ``"E1"`` ... ``"E6"``.
        title: one line describing it.
        config: the source's settings (a frozen dataclass).
        quick_config: small settings for smoke runs (``physnet reproduce --quick``).
        train_and_evaluate: ``(config, workdir, make_figures) -> metrics``; writes its figures
            into ``workdir`` when ``make_figures`` is true.
        with_seed: ``(config, seed) -> config`` with data and initialisation seeds set.
        source: the source's reported numbers by ``metrics.json`` key.
        figures: file names of the figures it writes.
        seeds: the seeds of a full run (medians and spreads are reported over them).
        best_config: physnet's recommended settings for the same task ("physnet best"
            column, ``physnet reproduce --best``), or ``None`` where the source's settings
            are already physnet's own (E5, E6).
        shrink: ``config -> config`` on quick sizes (how ``quick_config`` was made), applied
            to ``best_config`` by ``physnet reproduce --quick --best``.
        columns: metric keys shown in the results table beside the common ones.
        requires: optional peer packages (import names, from the ``peers`` extra) it needs;
            a run without one stops before the first experiment with one line naming
            ``pip install -e ".[peers]"``. A callable ``config -> names`` where it depends
            on the settings.
        own_seeds: the config carries its own seed list (field ``seeds``) and the experiment
            aggregates over it (the studies of ``experiments/<study>/``): it runs once,
            ``--seeds`` replaces the config's list, and its ``metrics.json`` is what
            ``train_and_evaluate`` returns (no median over runs).
    """

    name: str
    title: str
    config: Any
    quick_config: Any
    train_and_evaluate: Callable[[Any, Path, bool], dict]
    with_seed: Callable[[Any, int], Any]
    source: dict[str, float]
    figures: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    best_config: Any = None
    shrink: Callable[[Any], Any] | None = None
    columns: tuple[str, ...] = ()
    requires: tuple[str, ...] | Callable[[Any], tuple[str, ...]] = ()
    own_seeds: bool = False

    def quick_version(self, cfg):
        """``cfg`` on the quick settings' sizes (``quick_config`` if no ``shrink`` is set)."""
        return self.quick_config if self.shrink is None else self.shrink(cfg)

    def missing_peers(self, cfg) -> list[str]:
        """The packages of :attr:`requires` (for settings ``cfg``) that cannot be imported."""
        import importlib.util

        names = self.requires(cfg) if callable(self.requires) else self.requires
        return [n for n in names if importlib.util.find_spec(n) is None]


def study(name: str, title: str, config, train_and_evaluate, shrink, **kwargs) -> Experiment:
    """An experiment of ``experiments/<study>/``: ``config`` (a frozen dataclass with a
    ``seeds`` field) carries its own seed list, ``train_and_evaluate`` aggregates over it and
    writes the study's tables; ``shrink`` gives the quick settings. ``kwargs``: further
    :class:`Experiment` fields (``figures``, ``requires``)."""
    return Experiment(
        name=name,
        title=title,
        config=config,
        quick_config=shrink(config),
        train_and_evaluate=train_and_evaluate,
        with_seed=lambda cfg, seed: dataclasses.replace(cfg, seeds=(seed,)),
        source={},
        shrink=shrink,
        own_seeds=True,
        **kwargs,
    )


def with_seed(cfg, seed: int):
    """The same experiment with data seed and initialisation seed ``seed`` (for configs with a
    ``data: DataConfig`` and a ``model_seed``)."""
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, seed=seed), model_seed=seed)


def make_data(system: AbstractSystem, cfg: DataConfig) -> tuple[Trajectories, Trajectories]:
    """Generate, split by trajectory and (optionally) add noise to train and test data."""
    k_data, k_split, k_noise = jax.random.split(jax.random.key(cfg.seed), 3)
    data = generate(system, cfg.n_trajectories, cfg.t1, cfg.n_points, key=k_data)
    if cfg.noise > 0:
        data = data.with_noise(cfg.noise, key=k_noise)
    return data.split(cfg.train_fraction, key=k_split)


def clean_initial_states(data: Trajectories):
    return data.y0 if data.clean_states is None else data.clean_states[:, 0]


def median_range_text(values, empty: str = "-") -> str:
    """``"median [min, max]"`` of the values that are not ``None`` (``empty`` if none are)."""
    values = [v for v in values if v is not None]
    if not values:
        return empty
    return f"{np.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]"


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def trajectory_figures(
    model,
    system: AbstractSystem,
    workdir: Path,
    *,
    y0,
    t1: float,
    names: dict[str, str],
    label: str,
    title: str,
) -> None:
    """Write the phase-portrait and time-series figures for one initial condition.

    ``names`` maps figure kinds (``"true_phase"``, ``"learned_phase"``, ``"overlay_phase"``,
    ``"q_time"``, ``"p_time"``, ``"time_series"``) to file names; only the kinds named are
    written.
    """
    ts = jnp.linspace(0.0, t1, int(t1 * 20) + 1)
    y0 = jnp.asarray(y0, dtype=jnp.float64)
    true = np.asarray(rollout(system.vector_field, y0, ts, substeps=10))
    learned = np.asarray(rollout(model, y0, ts, substeps=10))
    ts = np.asarray(ts)
    y0_text = f"(q0, p0) = ({float(y0[0]):g}, {float(y0[1]):g})"
    if "true_phase" in names:
        fig = phase_portrait({"true": true}, title=f"{title}: true trajectory, {y0_text}")
        save_figure(fig, workdir / names["true_phase"])
    if "learned_phase" in names:
        fig = phase_portrait({label: learned}, title=f"{title}: {label} trajectory, {y0_text}")
        save_figure(fig, workdir / names["learned_phase"])
    if "overlay_phase" in names:
        fig = phase_portrait(
            {"true": true, label: learned}, title=f"{title}: true vs {label}, {y0_text}"
        )
        save_figure(fig, workdir / names["overlay_phase"])
    for j, comp in enumerate(("q", "p")):
        kind = f"{comp}_time"
        if kind in names:
            fig = time_series(
                ts,
                {"true": true[:, j : j + 1], label: learned[:, j : j + 1]},
                names=(f"{comp}(t)",),
                title=f"{title}: {comp}(t), true vs {label}",
            )
            save_figure(fig, workdir / names[kind])
    if "time_series" in names:
        fig = time_series(
            ts,
            {"true": true, label: learned},
            names=("q(t)", "p(t)"),
            title=f"{title}: true vs {label}",
        )
        save_figure(fig, workdir / names["time_series"])


def aggregate_seeds(per_seed: list[dict]) -> dict:
    """Median over seeds of every numeric metric (recursively in sub-dicts), with the
    ``[min, max]`` spread under ``spread`` and the individual runs under ``per_seed``."""

    def median_of(runs: list[dict]) -> tuple[dict, dict]:
        out, spread = {}, {}
        for key, value in runs[0].items():
            values = [r.get(key) for r in runs]
            if isinstance(value, bool) or not isinstance(value, int | float | dict):
                out[key] = value
            elif isinstance(value, dict):
                out[key], sub = median_of(values)
                if sub:
                    spread[key] = sub
            else:
                arr = np.asarray(values, dtype=float)
                out[key] = float(np.median(arr))
                if len(runs) > 1:
                    spread[key] = [float(arr.min()), float(arr.max())]
        return out, spread

    metrics, spread = median_of(per_seed)
    metrics["n_seeds"] = len(per_seed)
    metrics["spread"] = spread
    metrics["per_seed"] = per_seed
    return metrics
