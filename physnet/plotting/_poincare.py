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

    Args:
        sections: ``label -> points`` of shape ``(K, 2)`` or ``(B, K, 2)`` (for example from
            :func:`physnet.analysis.stroboscopic_section` of the true system and a model).
        title, xlabel, ylabel: figure labels.
    """
    n = len(sections)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.0), layout="constrained", squeeze=False)
    limits = np.concatenate([np.reshape(np.asarray(p), (-1, 2)) for p in sections.values()])
    limits = limits[np.all(np.isfinite(limits), axis=1)]
    for i, (ax, (label, points)) in enumerate(zip(axes[0], sections.items(), strict=True)):
        pts = np.reshape(np.asarray(points), (-1, 2))
        ax.plot(pts[:, 0], pts[:, 1], ".", markersize=1.5, color=_COLOURS[i % len(_COLOURS)])
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if limits.size:
            ax.set_xlim(limits[:, 0].min() - 0.1, limits[:, 0].max() + 0.1)
            ax.set_ylim(limits[:, 1].min() - 0.1, limits[:, 1].max() + 0.1)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig
