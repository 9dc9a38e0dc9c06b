"""Spectral read-outs of a kernel: eigenvalues, decay, conditioning, convergence times."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from .._errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Eigen-decomposition of a symmetric positive semi-definite kernel.

    Attributes:
        eigenvalues: sorted in decreasing order, shape ``(N,)`` (round-off may leave the
            smallest slightly negative).
        eigenvectors: the matching orthonormal eigenvectors as columns, shape ``(N, N)``.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray

    def project(self, residual) -> np.ndarray:
        """Coefficients c = Vᵀ r of a residual ``r`` (``(N,)``, or ``(T, N)`` for a history)
        on the eigenvectors."""
        return np.asarray(residual) @ self.eigenvectors


def spectrum(kernel) -> Spectrum:
    """Eigenvalues (decreasing) and eigenvectors of a kernel matrix or :class:`NTKResult`."""
    k = np.asarray(getattr(kernel, "matrix", kernel), dtype=float)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ConfigError(f"spectrum: the kernel must be a square matrix, got shape {k.shape}")
    values, vectors = np.linalg.eigh(0.5 * (k + k.T))
    return Spectrum(values[::-1].copy(), vectors[:, ::-1].copy())


def _eigenvalues(x) -> np.ndarray:
    if isinstance(x, Spectrum):
        return x.eigenvalues
    x = np.asarray(getattr(x, "matrix", x), dtype=float)
    if x.ndim == 2:
        return spectrum(x).eigenvalues
    return np.sort(x)[::-1]


def condition_number(x, *, rtol: float = 0.0) -> float:
    """λ_max / λ_min over the eigenvalues above ``rtol · λ_max`` (inf if λ_min <= 0).

    Args:
        x: a kernel, a :class:`Spectrum` or eigenvalues.
        rtol: eigenvalues at or below ``rtol · λ_max`` are left out (0: all count).
    """
    lam = _eigenvalues(x)
    kept = lam[lam > rtol * lam[0]] if rtol > 0 else lam
    if kept.size == 0 or kept[-1] <= 0:
        return float("inf")
    return float(kept[0] / kept[-1])


def effective_rank(x) -> float:
    r"""The effective rank of a spectrum, exp of the entropy of its normalised eigenvalues.

    Effective rank exp(H(p)), p_i = λ_i / Σλ over the positive eigenvalues, H the Shannon
    entropy (Roy & Vetterli, 2007): N for a flat spectrum, 1 for a single mode."""
    lam = _eigenvalues(x)
    lam = lam[lam > 0]
    p = lam / lam.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def decay_exponent(x, *, first: int = 1, last: int | None = None) -> float:
    r"""The power-law decay exponent α of eigenvalues, λ_k ∝ k^(-α).

    Power-law decay exponent α of the eigenvalues, λ_k ∝ k^{-α}: the least-squares slope
    of log λ_k against log k (k 1-based) over ``first <= k <= last``, negated.

    Args:
        x: a kernel, a :class:`Spectrum` or eigenvalues.
        first, last: the index range fitted (default: from 1 to the last positive
            eigenvalue above 1e-12 λ_1, so round-off does not flatten the tail).
    """
    lam = _eigenvalues(x)
    if last is None:
        last = int(np.sum(lam > 1e-12 * lam[0]))
    if not 1 <= first < last <= lam.size:
        raise ConfigError(
            f"decay_exponent: need 1 <= first < last <= {lam.size}, got first={first}, last={last}"
        )
    k = np.arange(first, last + 1)
    slope = np.polyfit(np.log(k), np.log(lam[first - 1 : last]), 1)[0]
    return float(-slope)


def convergence_times(x, learning_rate: float, *, n_residuals: int | None = None) -> np.ndarray:
    r"""Predicted per-mode convergence time in optimizer steps, τ_i = 1 / (η λ_i / c).

    Gradient descent on L = (1/N) Σ r² with step η moves the residual's component on
    eigenvector i of K by the factor (1 - 2η λ_i / N) per step (linearised, lazy training),
    so it decays by e after about τ_i = N / (2 η λ_i) steps. With ``n_residuals=None`` the
    kernel is taken as already scaled (τ_i = 1 / (η λ_i)).

    Args:
        x: a kernel, a :class:`Spectrum` or eigenvalues.
        learning_rate: the step size η.
        n_residuals: N, the number of squared residual entries the loss averages.

    Returns:
        τ_i for every eigenvalue (inf where λ_i <= 0), shape ``(N,)``.
    """
    if not learning_rate > 0:
        raise ConfigError(f"convergence_times: learning_rate must be > 0, got {learning_rate!r}")
    lam = _eigenvalues(x)
    scale = 1.0 if n_residuals is None else 2.0 / n_residuals
    with np.errstate(divide="ignore"):
        return np.where(lam > 0, 1.0 / (learning_rate * scale * lam), np.inf)


def observed_convergence_times(steps, coefficients, *, factor: float = np.e) -> np.ndarray:
    """The first recorded step at which each mode's residual has shrunk by a factor.

    The first recorded step at which each mode's residual coefficient has shrunk by
    ``factor`` from its start (|c_i(t)| <= |c_i(0)| / factor); inf where it never did.

    Args:
        steps: recorded steps ``(T,)``, the first the reference.
        coefficients: residual coefficients on the eigenvectors, ``(T, N)``
            (:meth:`Spectrum.project` of the residual history).
    """
    steps = np.asarray(steps, dtype=float)
    c = np.abs(np.asarray(coefficients))
    done = c <= c[:1] / factor
    first = np.argmax(done, axis=0)
    return np.where(done.any(axis=0), steps[first] - steps[0], np.inf)


def trace_ratio_weights(traces: Mapping[str, float], terms=None) -> dict[str, float]:
    r"""Loss weights from kernel traces that equalise the terms' convergence speeds.

    Loss weights from kernel traces (Wang, Yu & Perdikaris 2022, eq. 6.4):
    w_k = Σ_j Tr K_jj / Tr K_kk, so every weighted term's kernel has the same trace and no
    term's residual is learned orders of magnitude faster than another's.

    Args:
        traces: ``term -> Tr K_kk`` (e.g. :meth:`NTKResult.traces`).
        terms: the terms to weigh against each other (default: all keys without ``[``, i.e.
            the loss terms; pass e.g. ``["loss[0]", "loss[1]"]`` for output components).

    Reference: Wang, Yu, Perdikaris, "When and why PINNs fail to train: a neural tangent
    kernel perspective", J. Comput. Phys. 449, 2022.
    """
    terms = [k for k in traces if "[" not in k] if terms is None else list(terms)
    missing = [t for t in terms if t not in traces]
    if missing:
        raise ConfigError(f"trace_ratio_weights: no trace for {missing}; have {list(traces)}")
    values = {t: float(traces[t]) for t in terms}
    bad = [t for t, v in values.items() if not v > 0]
    if bad:
        raise ConfigError(f"trace_ratio_weights: traces must be > 0, got {bad} <= 0")
    total = sum(values.values())
    return {t: total / v for t, v in values.items()}
