"""Stroboscopic Poincaré sections of true and learned flows."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

_COLOURS = ["black", "tab:red", "tab:blue", "tab:green"]


def poincare_section(
    sections: Mapping[str, np.ndarray],
    *,
    title: str = "Stroboscopic Poincaré section",
    xlabel: str = "q",
    ylabel: str = "p",
) -> Figure:
    """Side-by-side scatter plots of Poincaré sections, one panel per flow.

    Side-by-side scatter plots of Poincaré sections, one panel per flow, all on the axis
    limits of the first (the reference, e.g. the true flow; points of a learned flow that
    escape it fall outside the panel, and their count is given in its title).

    Args:
        sections: ``label -> points`` of shape ``(K, 2)`` or ``(B, K, 2)`` (for example from
            :func:`physnet.analysis.stroboscopic_section` of the true system and a model).
        title, xlabel, ylabel: figure labels.
    """
    n = len(sections)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.0), layout="constrained", squeeze=False)
    limits = np.reshape(np.asarray(next(iter(sections.values()))), (-1, 2))
    limits = limits[np.all(np.isfinite(limits), axis=1)]
    if limits.size:
        low, high = limits.min(axis=0), limits.max(axis=0)
        pad = 0.05 * np.maximum(high - low, 1e-12)
        low, high = low - pad, high + pad
    for i, (ax, (label, points)) in enumerate(zip(axes[0], sections.items(), strict=True)):
        pts = np.reshape(np.asarray(points), (-1, 2))
        ax.plot(pts[:, 0], pts[:, 1], ".", markersize=1.5, color=_COLOURS[i % len(_COLOURS)])
        panel = label
        if limits.size:
            inside = np.all((pts >= low) & (pts <= high), axis=1)
            if not np.all(inside):
                panel += f"\n({int(np.sum(~inside))} of {len(pts)} points outside)"
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if limits.size:
            ax.set_xlim(low[0], high[0])
            ax.set_ylim(low[1], high[1])
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig
