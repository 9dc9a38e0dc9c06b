"""Figures of trajectories: phase portraits, time series, energy curves.

Functions of arrays that return matplotlib Figures; nothing here knows about models. Curves are
passed as a mapping ``label -> array``; the first curve is drawn solid and the others dashed,
so true and learned trajectories stay distinguishable in print.

Figures are made with pyplot, so they display in notebooks and with ``plt.show()``; physnet
never selects a matplotlib backend on import (the user's choice, ``MPLBACKEND`` or
``matplotlib.use``, applies; without a display matplotlib falls back to Agg by itself). Batch
entry points (``physnet reproduce``, ``experiments/<e#>/main.py``) select Agg themselves.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

_STYLES = [
    {"color": "black", "linestyle": "-", "linewidth": 1.6},
    {"color": "tab:red", "linestyle": "--", "linewidth": 1.4},
    {"color": "tab:blue", "linestyle": ":", "linewidth": 1.6},
    {"color": "tab:green", "linestyle": "-.", "linewidth": 1.3},
    {"color": "tab:purple", "linestyle": (0, (6, 2)), "linewidth": 1.5},
]


def _style(i: int) -> dict:
    return _STYLES[i % len(_STYLES)]


def _finish(fig: Figure, ax, xlabel: str, ylabel: str, title: str, *, grid: str = "major"):
    """``fig`` with the axis labels, title, legend and grid (``"major"`` or ``"both"``) set."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which=grid)
    return fig


def phase_portrait(
    curves: Mapping[str, np.ndarray],
    *,
    title: str = "Phase portrait",
    xlabel: str = "q",
    ylabel: str = "p",
) -> Figure:
    """Phase portrait of one or more trajectories.

    Args:
        curves: ``label -> states`` with states of shape ``(T, 2)`` (q, p).
        title, xlabel, ylabel: figure labels.
    """
    fig, ax = plt.subplots(figsize=(5.2, 4.8), layout="constrained")
    for i, (label, ys) in enumerate(curves.items()):
        ys = np.asarray(ys)
        ax.plot(ys[:, 0], ys[:, 1], label=label, **_style(i))
        ax.plot(ys[0, 0], ys[0, 1], "o", color=_style(i)["color"], markersize=4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def time_series(
    ts: np.ndarray,
    curves: Mapping[str, np.ndarray],
    *,
    title: str = "Time series",
    names: tuple[str, ...] = ("q", "p"),
) -> Figure:
    """Components of trajectories against time, one panel per component.

    Args:
        ts: times ``(T,)``.
        curves: ``label -> states`` with states of shape ``(T, d)``.
        names: component names for the panels' y labels.
    """
    first = np.asarray(next(iter(curves.values())))
    d = first.shape[1]
    fig, axes = plt.subplots(d, 1, figsize=(7.5, 2.2 * d + 0.6), sharex=True, layout="constrained")
    axes = np.atleast_1d(axes)
    for i, (label, ys) in enumerate(curves.items()):
        ys = np.asarray(ys)
        for j in range(d):
            axes[j].plot(ts, ys[:, j], label=label, **_style(i))
    for j in range(d):
        axes[j].set_ylabel(names[j] if j < len(names) else f"y{j}")
        axes[j].grid(alpha=0.3)
    axes[-1].set_xlabel("t")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(title)
    return fig


def energy_curve(
    ts: np.ndarray,
    curves: Mapping[str, np.ndarray],
    *,
    title: str = "Relative energy error",
    log: bool = True,
) -> Figure:
    """Relative energy error curves against time.

    Args:
        ts: times ``(T,)``.
        curves: ``label -> relative error`` arrays of shape ``(T,)``.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
    for i, (label, err) in enumerate(curves.items()):
        err = np.asarray(err)
        ax.plot(ts, np.maximum(err, 1e-17) if log else err, label=label, **_style(i))
    if log:
        ax.set_yscale("log")
    return _finish(fig, ax, "t", "|E(t) - E(0)| / |E(0)|", title)


def save_figure(fig: Figure, path) -> None:
    """Save ``fig`` as PNG (150 dpi) and close it."""
    fig.savefig(path, dpi=150)
    plt.close(fig)
