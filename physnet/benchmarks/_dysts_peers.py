"""PySINDy 2.1 on the dysts benchmark's data, the way Kaptanoglu et al. (2023) ran it.

Degree-``degree`` polynomial library; derivatives by finite differences (``"fd"``) or smoothed
finite differences (``"sfd"``), or the weak form (``"weak"``: PySINDy's ``WeakPDELibrary``,
``WEAK_TEST_FUNCTIONS`` test functions of power 4 per trajectory on subdomains of half-width
``WEAK_HALF_WIDTH`` samples, the size of physnet's 31-sample windows); optimizer STLSQ over a grid of thresholds, or SR3 (L0) over the
same grid; the model kept is the one with the lowest AICc of its derivative prediction on the
(clean) test trajectories, as in the paper. Imported only when pysindy is installed.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np

from ..approximators import monomial_exponents
from ..training._sparse_polynomial import monomials

#: PySINDy variants run when pysindy is importable: name -> (derivative, optimizer)
VARIANTS = {
    "pysindy-stlsq-fd": ("fd", "stlsq"),
    "pysindy-stlsq-sfd": ("sfd", "stlsq"),
    "pysindy-stlsq-weak": ("weak", "stlsq"),
}
#: the weak form's test functions per trajectory and their subdomains' half-width (samples)
WEAK_TEST_FUNCTIONS = 200
WEAK_HALF_WIDTH = 15
#: the threshold grid (the paper scans a log grid of thresholds)
THRESHOLDS = tuple(np.logspace(-3, 1, 9))


def available() -> bool:
    """Whether pysindy can be imported."""
    return importlib.util.find_spec("pysindy") is not None


def _to_physnet_order(model, d: int, degree: int) -> np.ndarray:
    """PySINDy's coefficients ``(d, M)`` as physnet's Ξ ``(M, d)`` in monomial_exponents order."""
    library = model.feature_library
    powers = getattr(library, "function_library", library).powers_  # (M, d)
    index = {tuple(int(k) for k in row): m for m, row in enumerate(powers)}
    coef = model.coefficients()
    xi = np.zeros((len(monomial_exponents(d, degree)), d))
    for m, e in enumerate(monomial_exponents(d, degree)):
        if e in index:
            xi[m] = coef[:, index[e]]
    return xi


def _aicc(rss: float, n: int, k: int) -> float:
    rss = max(rss, 1e-300)
    penalty = 2 * k + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else np.inf)
    return n * np.log(rss / n) + penalty


def fit_pysindy(variant: str, ts, train, test_states, test_dot, *, degree: int) -> np.ndarray:
    """Ξ ``(M, d)`` (physnet's monomial order) of the PySINDy ``variant`` fitted on ``train``
    ``(B, T, d)``, its threshold chosen by AICc of the derivatives ``test_dot`` ``(N, d)`` at
    the test states ``(N, d)``."""
    import pysindy as ps

    derivative, _ = VARIANTS[variant]
    d = train.shape[-1]
    ts = np.asarray(ts, dtype=np.float64)
    options = {}
    if derivative == "fd":
        options["differentiation_method"] = ps.FiniteDifference()
    elif derivative == "sfd":
        options["differentiation_method"] = ps.SmoothedFiniteDifference()
    xs = [np.asarray(x) for x in train]
    best, best_score = None, np.inf
    for threshold in THRESHOLDS:
        opt = ps.STLSQ(threshold=threshold, normalize_columns=False)
        library = ps.PolynomialLibrary(degree=degree)
        if derivative == "weak":
            library = ps.WeakPDELibrary(
                function_library=library, spatiotemporal_grid=ts, K=WEAK_TEST_FUNCTIONS, p=4,
                H_xt=[WEAK_HALF_WIDTH * float(np.mean(np.diff(ts)))],
            )  # fmt: skip
        model = ps.SINDy(optimizer=opt, feature_library=library, **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(xs, t=ts)
        xi = _to_physnet_order(model, d, degree)
        prediction = monomials(test_states, monomial_exponents(d, degree)) @ xi
        rss = float(np.sum((prediction - test_dot) ** 2))
        score = _aicc(rss, test_dot.size, int((xi != 0).sum()))
        if np.isfinite(score) and score < best_score:
            best, best_score = xi, score
    if best is None:
        raise RuntimeError("no threshold gave a finite AICc")
    return best
