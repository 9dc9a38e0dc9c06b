"""Scaling laws: the exponent of error ∝ N^-a with a confidence interval."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

from .._errors import DataError


def scaling_exponent(
    params: Sequence[float],
    errors: Sequence[float],
    seeds: Sequence[int] | None = None,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict:
    r"""Fit error ∝ N^-a by least squares of log error on log N.

    .. math:: \log e = c - a \log N

    The point estimate fits the per-size median error over seeds; the confidence interval is
    a bootstrap over seeds (seeds drawn with replacement, medians per size refitted) when
    ``seeds`` is given, else the regression's standard error (normal quantile).

    Args:
        params: parameter count per run, shape (n,).
        errors: test error per run, shape (n,).
        seeds: the run's seed, shape (n,), or None.
        n_boot: bootstrap draws.
        level: confidence level.

    Returns:
        ``{"exponent": a, "ci": [lo, hi], "stderr": se, "sizes": k}``.

    Raises:
        DataError: with fewer than 2 distinct sizes with a finite positive error.
    """
    p = np.asarray(params, float)
    e = np.asarray(errors, float)
    ok = np.isfinite(e) & (e > 0)
    s = np.zeros_like(p, dtype=int) if seeds is None else np.asarray(seeds, int)
    p, e, s = p[ok], e[ok], s[ok]
    sizes = np.unique(p)
    if sizes.size < 2:
        raise DataError(f"scaling_exponent: need >= 2 sizes with finite errors, got {sizes.size}")

    def fit_medians(pp, ee):
        u = np.unique(pp)
        med = np.array([np.median(ee[pp == v]) for v in u])
        A = np.stack([np.ones_like(u), np.log(u)], 1)
        coef, *_ = np.linalg.lstsq(A, np.log(med), rcond=None)
        return -coef[1], A, np.log(med), coef

    a, A, ly, coef = fit_medians(p, e)
    dof = max(len(ly) - 2, 1)
    resid = ly - A @ coef
    cov = np.linalg.pinv(A.T @ A) * float(resid @ resid) / dof
    se = float(np.sqrt(cov[1, 1]))
    z = float(jax.scipy.stats.norm.ppf(0.5 + level / 2))
    if seeds is not None and np.unique(s).size > 1:
        rng = np.random.default_rng(seed)
        useeds = np.unique(s)
        draws = []
        for _ in range(n_boot):
            pick = rng.choice(useeds, size=useeds.size, replace=True)
            idx = np.concatenate([np.flatnonzero(s == k) for k in pick])
            if np.unique(p[idx]).size >= 2:
                draws.append(fit_medians(p[idx], e[idx])[0])
        lo, hi = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
        ci, method = [float(lo), float(hi)], "bootstrap over seeds"
    else:
        ci, method = [float(a - z * se), float(a + z * se)], "regression standard error"
    return {
        "exponent": float(a),
        "ci": ci,
        "stderr": se,
        "sizes": int(sizes.size),
        "ci_method": method,
        "level": level,
    }
