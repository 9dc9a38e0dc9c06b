"""Figures of kernel spectra: eigenvalue decay, per-mode convergence, kernel drift, error per
frequency (functions of arrays; nothing here computes a kernel)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ._figures import _finish, _style


def kernel_spectra(
    spectra: Mapping[str, np.ndarray], *, title: str = "NTK eigenvalues", normalize: bool = True
) -> Figure:
    """Eigenvalues against their index on log-log axes, one curve per kernel.

    Args:
        spectra: ``label -> eigenvalues`` (any order; drawn sorted decreasing, positive only).
        normalize: divide each curve by its largest eigenvalue, so decays compare directly.
    """
    fig, ax = plt.subplots(figsize=(5.4, 4.2), layout="constrained")
    for i, (label, lam) in enumerate(spectra.items()):
        lam = np.sort(np.asarray(lam, dtype=float))[::-1]
        lam = lam[lam > 0]
        if normalize and lam.size:
            lam = lam / lam[0]
        ax.loglog(np.arange(1, lam.size + 1), lam, label=label, **_style(i))
    return _finish(fig, ax, "index k", "λ_k / λ_1" if normalize else "λ_k", title, grid="both")


def mode_convergence(
    predicted: np.ndarray,
    observed: np.ndarray,
    *,
    title: str = "Per-mode convergence time (steps)",
) -> Figure:
    """Observed against predicted per-mode convergence times on log-log axes, with y = x.

    Args:
        predicted: predicted times per mode (e.g. N / (2ηλ_i)), shape ``(M,)``.
        observed: measured times (inf where the mode did not converge), shape ``(M,)``.
    """
    predicted, observed = np.asarray(predicted, float), np.asarray(observed, float)
    ok = np.isfinite(predicted) & np.isfinite(observed) & (predicted > 0) & (observed > 0)
    fig, ax = plt.subplots(figsize=(4.8, 4.4), layout="constrained")
    ax.loglog(predicted[ok], observed[ok], "o", color="black", markersize=4)
    if ok.any():
        lo = min(predicted[ok].min(), observed[ok].min())
        hi = max(predicted[ok].max(), observed[ok].max())
        ax.loglog([lo, hi], [lo, hi], "--", color="tab:red", label="observed = predicted")
        ax.legend(fontsize=8)
    ax.set_xlabel("predicted 1/(η λ_i) (steps)")
    ax.set_ylabel("observed e-folding (steps)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    return fig


def kernel_drift(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *, title: str = "Kernel drift"
) -> Figure:
    """||K_t - K_0|| / ||K_0|| against the training step, one curve per run.

    Args:
        curves: ``label -> (steps, drift)``.
    """
    fig, ax = plt.subplots(figsize=(5.4, 4.0), layout="constrained")
    for i, (label, (steps, drift)) in enumerate(curves.items()):
        ax.plot(np.asarray(steps), np.asarray(drift), label=label, **_style(i))
    return _finish(fig, ax, "step", "||K_t - K_0||_F / ||K_0||_F", title)


def error_spectrum(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    title: str = "Error per frequency",
    xlabel: str = "frequency",
) -> Figure:
    """Error amplitude per frequency on a log y axis, one curve per model.

    Args:
        curves: ``label -> (frequencies, amplitude)`` (e.g. a
            :class:`~physnet.analysis.SpectralError`'s ``frequencies`` and ``error``; pass its
            ``reference`` as a curve too, to compare with the signal).
    """
    fig, ax = plt.subplots(figsize=(5.4, 4.0), layout="constrained")
    for i, (label, (freqs, amp)) in enumerate(curves.items()):
        ax.semilogy(np.asarray(freqs), np.asarray(amp), label=label, **_style(i))
    return _finish(fig, ax, xlabel, "amplitude", title, grid="both")
