r"""Forecast and identification metrics of the chaotic-systems benchmarks (NumPy, float64).

- :func:`smape`: symmetric mean absolute percentage error on the 0-200 scale (Gilpin 2023).
- :func:`valid_prediction_time`: the first time the pointwise sMAPE exceeds a threshold (30),
  in Lyapunov times (Zhang & Gilpin 2025).
- :func:`attractor_hellinger`: the Hellinger distance between the histograms of two orbits'
  states (their invariant measures, approximated on a common grid).
- :func:`coefficient_error` and :func:`support_recovery`: for identified coefficient matrices
  (Kaptanoglu et al. 2023).
"""

from __future__ import annotations

import numpy as np

from .._errors import DataError


def _pair(true, pred, function: str) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if true.shape != pred.shape or true.ndim != 2:
        raise DataError(
            f"{function}: true and pred must both have shape (T, d), got {true.shape} and "
            f"{pred.shape}"
        )
    return true, pred


def _pointwise_smape(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """sMAPE per time ``(T,)``; a non-finite prediction counts as the maximum 200."""
    with np.errstate(invalid="ignore", over="ignore"):
        ratio = np.abs(true - pred) / (np.abs(true) + np.abs(pred) + 1e-12)
    ratio = np.where(np.isfinite(ratio), ratio, 1.0)
    return 200.0 * ratio.mean(axis=-1)


def smape(true, pred) -> float:
    r"""Symmetric mean absolute percentage error on the 0-200 scale.

    .. math::
        \mathrm{sMAPE} = \frac{200}{T d} \sum_{t, j} \frac{|x_{tj} - \hat x_{tj}|}
        {|x_{tj}| + |\hat x_{tj}|}

    (dysts 0.96's ``smape(..., scaled=False)``). A non-finite prediction counts as 200.

    Args:
        true, pred: trajectories ``(T, d)``.

    Returns:
        The sMAPE in [0, 200].

    Reference: Gilpin (2023), Phys. Rev. Research 5, 043252.
    """
    true, pred = _pair(true, pred, "smape")
    return float(_pointwise_smape(true, pred).mean())


def valid_prediction_time(true, pred, ts, lyapunov: float, *, threshold: float = 30.0) -> float:
    r"""The first time the pointwise sMAPE exceeds ``threshold``, in Lyapunov times.

    VPT = λ_max · (t_k - t_0), k the first index with sMAPE(x_k, x̂_k) > threshold; the whole
    horizon λ_max (t_{T-1} - t_0) when it never does.

    Args:
        true, pred: trajectories ``(T, d)``.
        ts: their times ``(T,)``.
        lyapunov: the largest Lyapunov exponent λ_max > 0.
        threshold: the sMAPE threshold (30, Zhang & Gilpin 2025).

    Returns:
        The valid prediction time in Lyapunov times.

    Reference: Zhang & Gilpin (2025), "Zero-shot forecasting of chaotic systems", ICLR.
    """
    true, pred = _pair(true, pred, "valid_prediction_time")
    ts = np.asarray(ts, dtype=np.float64)
    if ts.shape != true.shape[:1]:
        raise DataError(f"valid_prediction_time: ts must have shape ({true.shape[0]},)")
    if not (np.isfinite(lyapunov) and lyapunov > 0):
        raise DataError(f"valid_prediction_time: lyapunov must be > 0, got {lyapunov!r}")
    above = np.nonzero(_pointwise_smape(true, pred) > threshold)[0]
    end = above[0] if above.size else len(ts) - 1
    return float(lyapunov * (ts[end] - ts[0]))


def attractor_hellinger(true, pred, *, bins: int = 10) -> float:
    r"""Hellinger distance between the state histograms of two orbits (their invariant measures).

    H(P, Q) = sqrt(1 - Σ_b sqrt(p_b q_b)), the histograms on ``bins`` equal cells per
    coordinate spanning the true orbit's range widened by 10 % on each side; states of the
    prediction outside it (or not finite) fall into one extra overflow cell. 0 for the same
    measure, 1 for disjoint ones.

    Args:
        true: the true orbit ``(T, d)``.
        pred: the predicted orbit ``(T', d)``.
        bins: cells per coordinate.

    Returns:
        The Hellinger distance in [0, 1].
    """
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if true.ndim != 2 or pred.ndim != 2 or true.shape[1] != pred.shape[1]:
        raise DataError(
            f"attractor_hellinger: orbits must be (T, d) with the same d, got {true.shape} "
            f"and {pred.shape}"
        )
    lo, hi = true.min(axis=0), true.max(axis=0)
    pad = 0.1 * np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - pad, hi + pad

    def histogram(x):
        with np.errstate(invalid="ignore"):
            cell = np.floor((x - lo) / (hi - lo) * bins)
        inside = np.isfinite(cell).all(axis=1) & ((cell >= 0) & (cell < bins)).all(axis=1)
        flat = np.ravel_multi_index(cell[inside].astype(np.int64).T, (bins,) * x.shape[1])
        counts = np.bincount(flat, minlength=bins ** x.shape[1]).astype(np.float64)
        return np.append(counts, (~inside).sum()) / len(x)

    p, q = histogram(true), histogram(pred)
    return float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * q)))))


def coefficient_error(true, estimate) -> float:
    r"""Normalised coefficient error ||Ξ̂ - Ξ||_F / ||Ξ||_F of a coefficient matrix.

    Reference: Kaptanoglu et al. (2023), "Benchmarking sparse system identification with
    low-dimensional chaos", Nonlinear Dynamics 111, 13143-13164.
    """
    true = np.asarray(true, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if true.shape != estimate.shape:
        raise DataError(f"coefficient_error: shapes differ, {true.shape} and {estimate.shape}")
    return float(np.linalg.norm(estimate - true) / np.linalg.norm(true))


def support_recovery(true, estimate) -> dict[str, int | bool]:
    """True and false terms of an identified coefficient matrix against the true one.

    Returns:
        ``{"true_terms", "false_terms", "missed_terms", "exact"}``: terms found that are in
        the true support, found but not in it, in it but not found; ``exact`` when the
        supports are equal.
    """
    true = np.asarray(true) != 0
    found = np.asarray(estimate) != 0
    if true.shape != found.shape:
        raise DataError(f"support_recovery: shapes differ, {true.shape} and {found.shape}")
    return {
        "true_terms": int((true & found).sum()),
        "false_terms": int((~true & found).sum()),
        "missed_terms": int((true & ~found).sum()),
        "exact": bool(np.array_equal(true, found)),
    }
