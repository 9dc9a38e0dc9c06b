r"""Fitting one 1-D function: library snapping c·f(a·x + b) + d, and sparse polynomials (STLSQ).

Two ways to turn a sampled edge function y = φ(x) of a KAN into a formula:

- :func:`fit_library` (pykan's "auto symbolic", Liu et al. 2024, section 2.5.1, made robust):
  for every candidate f of a library it fits y ≈ c·f(a·x + b) + d. For fixed (a, b) the best
  (c, d) is linear least squares and its R² is the squared correlation of f(a·x + b) with y, so
  a coarse grid over (a, b) is scored in one vectorised pass; the best grid points then start a
  nonlinear least-squares refinement of (a, b) (``scipy.optimize.least_squares``, float64) in
  which (c, d) is re-solved at every evaluation (variable projection). The fitted function is
  chosen by pykan's trade-off between simplicity and accuracy,
  score = w·complexity + (1 - w)·log₂(1 + 10⁻⁵ - R²), lowest wins (scores within 0.05 of
  the lowest count as ties, which go to the simplest function).
- :func:`fit_sparse_polynomial`: sequentially thresholded least squares (STLSQ, Brunton,
  Proctor & Kutz 2016, "Discovering governing equations from data by sparse identification of
  nonlinear dynamical systems", PNAS 113) on the basis 1, x, ..., x^degree, so one edge can be
  a/2·x² + b/4·x⁴, which a one-function snap cannot express.

Both work in float64 NumPy, outside ``jit`` (they are post-processing, not training).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import sympy

from .._checks import integer, number
from .._errors import ConfigError, DataError

#: pykan's trade-off weight between complexity and accuracy
WEIGHT_SIMPLE = 0.8
#: scores closer than this to the best count as ties (decided by complexity, then order)
_SCORE_MARGIN = 0.05


@dataclasses.dataclass(frozen=True)
class LibraryFunction:
    """One candidate f of :func:`fit_library`.

    Attributes:
        name: short name (``"x^2"``, ``"sin"``, ...).
        numpy: f on a NumPy array.
        sympy: f on a sympy expression.
        complexity: pykan's complexity (x: 1, x²: 2, sin: 2, tanh: 3, ...).
        kind: how (a, b) are searched: ``"linear"`` (f(z) = z, fitted directly), ``"shift"``
            (a = 1: the scale of a is absorbed by c, e.g. powers, 1/x, |x|), ``"signed"``
            (a = ±1: the sign matters for the domain, e.g. log, sqrt), ``"affine"`` (a and b
            free, e.g. sin, exp), ``"zero"`` (the constant d only).
        domain: ``"all"``, ``"positive"`` (z > 0 everywhere on the samples) or ``"nonzero"``
            (z of one sign everywhere, away from 0); ``"bounded"`` for exp (z <= 50).
    """

    name: str
    numpy: Callable[[np.ndarray], np.ndarray]
    sympy: Callable[[sympy.Expr], sympy.Expr]
    complexity: int
    kind: str
    domain: str = "all"


LIBRARY: dict[str, LibraryFunction] = {
    f.name: f
    for f in (
        LibraryFunction("0", lambda z: np.zeros_like(z), lambda z: sympy.Integer(0), 0, "zero"),
        LibraryFunction("x", lambda z: z, lambda z: z, 1, "linear"),
        LibraryFunction("x^2", lambda z: z**2, lambda z: z**2, 2, "shift"),
        LibraryFunction("x^3", lambda z: z**3, lambda z: z**3, 3, "shift"),
        LibraryFunction("x^4", lambda z: z**4, lambda z: z**4, 3, "shift"),
        LibraryFunction("1/x", lambda z: 1.0 / z, lambda z: 1 / z, 2, "shift", "nonzero"),
        LibraryFunction("sqrt", np.sqrt, sympy.sqrt, 2, "signed", "positive"),
        LibraryFunction("log", np.log, sympy.log, 2, "signed", "positive"),
        LibraryFunction("exp", np.exp, sympy.exp, 2, "affine", "bounded"),
        LibraryFunction("sin", np.sin, sympy.sin, 2, "affine"),
        LibraryFunction("cos", np.cos, sympy.cos, 2, "affine"),
        LibraryFunction("abs", np.abs, sympy.Abs, 3, "shift"),
        LibraryFunction("tanh", np.tanh, sympy.tanh, 3, "affine"),
    )
}
"""The candidate 1-D functions that symbolic edge fitting tries, by name."""


@dataclasses.dataclass(frozen=True)
class FunctionFit:
    """A fitted 1-D function y ≈ g(x).

    Attributes:
        kind: ``"library"`` or ``"polynomial"``.
        name: the library function's name, or ``"poly"``.
        params: ``(a, b, c, d)`` of c·f(a·x + b) + d for a library fit; for a polynomial the
            coefficients of 1, x, ..., x^degree (zeros where STLSQ removed the term).
        r2: coefficient of determination 1 - SS_res / SS_tot on the samples (1 for an exactly
            constant function fitted exactly).
        complexity: pykan's complexity of the chosen function; for a polynomial the number of
            non-constant terms kept.
        candidates: for a library fit, the R² of every function tried, by name.
    """

    kind: str
    name: str
    params: tuple[float, ...]
    r2: float
    complexity: int
    candidates: dict[str, float] = dataclasses.field(default_factory=dict, repr=False)

    def expression(self, x: sympy.Expr) -> sympy.Expr:
        """The fitted function as a sympy expression of ``x`` (a symbol or expression)."""
        if self.kind == "polynomial":
            return sum(
                (sympy.Float(c) * x**k for k, c in enumerate(self.params) if c != 0.0),
                sympy.Integer(0),
            )
        a, b, c, d = self.params
        f = LIBRARY[self.name]
        if f.kind == "zero":
            return sympy.Float(d)
        return sympy.Float(c) * f.sympy(sympy.Float(a) * x + sympy.Float(b)) + sympy.Float(d)

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "polynomial":
            return np.polynomial.polynomial.polyval(x, np.asarray(self.params))
        a, b, c, d = self.params
        return c * LIBRARY[self.name].numpy(a * x + b) + d


def _check_xy(x, y, function: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape or x.size < 4:
        raise DataError(
            f"{function}: x and y must be 1-D arrays of the same length >= 4, got shapes "
            f"{x.shape} and {y.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError(f"{function}: x or y contain NaN or infinity")
    return x, y


def r_squared(y: np.ndarray, prediction: np.ndarray) -> float:
    """1 - SS_res/SS_tot; 1 when y is constant and matched, 0 when constant and missed."""
    y = np.asarray(y, dtype=np.float64)
    ss_res = float(np.sum((y - prediction) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    scale = max(float(np.max(np.abs(y))), 1e-300)
    if ss_tot <= (1e-14 * scale) ** 2 * y.size:
        return 1.0 if ss_res <= (1e-10 * scale) ** 2 * y.size else 0.0
    return 1.0 - ss_res / ss_tot


def _domain_ok(z: np.ndarray, domain: str) -> np.ndarray:
    """Whether every sample of each row of ``z`` (shape (..., n)) is in the domain."""
    if domain == "positive":
        return np.all(z > 1e-8, axis=-1)
    if domain == "nonzero":
        return np.all(z > 1e-6, axis=-1) | np.all(z < -1e-6, axis=-1)
    if domain == "bounded":
        return np.all(z <= 50.0, axis=-1)
    return np.ones(z.shape[:-1], dtype=bool)


def _correlation2(features: np.ndarray, yc: np.ndarray) -> np.ndarray:
    """Squared correlation of each row of ``features`` (K, n) with centred ``yc`` (n,)."""
    fc = features - features.mean(axis=-1, keepdims=True)
    var_f = np.sum(fc**2, axis=-1)
    cov = fc @ yc
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = cov**2 / (var_f * np.sum(yc**2))
    return np.where(var_f > 1e-300, r2, 0.0)


def _solve_cd(f: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    fm, ym = f.mean(), y.mean()
    var = np.sum((f - fm) ** 2)
    c = float(np.sum((f - fm) * (y - ym)) / var) if var > 1e-300 else 0.0
    return c, float(ym - c * fm)


def _fit_one(f: LibraryFunction, xn: np.ndarray, yn: np.ndarray, n_starts: int):
    """Best (a, b, c, d, r2) for one library function in normalised coordinates."""
    from scipy.optimize import least_squares

    yc = yn - yn.mean()
    if f.kind == "zero":
        return (0.0, 0.0, 0.0, float(yn.mean())), 0.0
    if f.kind == "linear":
        c, d = _solve_cd(xn, yn)
        return (1.0, 0.0, c, d), float(_correlation2(xn[None], yc)[0])
    b_grid = np.linspace(-4.0, 4.0, 161 if f.kind in ("shift", "signed") else 41)
    if f.kind == "shift":
        a_grid = np.array([1.0])
    elif f.kind == "signed":
        a_grid = np.array([1.0, -1.0])
    else:
        mags = np.geomspace(0.1, 12.0, 16)
        a_grid = np.concatenate([mags, -mags])
    a, b = (g.ravel() for g in np.meshgrid(a_grid, b_grid, indexing="ij"))
    z = a[:, None] * xn[None, :] + b[:, None]
    ok = _domain_ok(z, f.domain)
    if not ok.any():
        return None
    with np.errstate(all="ignore"):
        features = f.numpy(np.where(ok[:, None], z, 1.0))
    score = np.where(ok, _correlation2(features, yc), -1.0)
    starts = np.argsort(-score)[:n_starts]
    free_a = f.kind == "affine"

    def unpack(theta, a0):
        return (theta[0], theta[1]) if free_a else (a0, theta[0])

    best = None
    for s in starts:
        if score[s] < 0:
            continue
        a0 = a[s]

        def residual(theta, a0=a0):
            aa, bb = unpack(theta, a0)
            zz = aa * xn + bb
            if not _domain_ok(zz, f.domain):
                return np.full_like(yn, 1e3)
            with np.errstate(all="ignore"):
                feat = f.numpy(zz)
            if not np.isfinite(feat).all():
                return np.full_like(yn, 1e3)
            c, d = _solve_cd(feat, yn)
            return yn - c * feat - d

        theta0 = np.array([a[s], b[s]]) if free_a else np.array([b[s]])
        try:
            sol = least_squares(residual, theta0, method="trf", x_scale=1.0, max_nfev=200)
            theta = sol.x
        except (ValueError, FloatingPointError):
            theta = theta0
        aa, bb = unpack(theta, a0)
        zz = aa * xn + bb
        if not _domain_ok(zz, f.domain):
            aa, bb = unpack(theta0, a0)
            zz = aa * xn + bb
        feat = f.numpy(zz)
        c, d = _solve_cd(feat, yn)
        r2 = r_squared(yn, c * feat + d)
        if best is None or r2 > best[1]:
            best = ((float(aa), float(bb), c, d), r2)
    return best


def _canonical(name: str, a: float, b: float, c: float, d: float) -> tuple[float, ...]:
    """The same function c·f(a·x + b) + d with redundant parameters fixed: a = 1 for x,
    powers, 1/x and |x|; |a| = 1 for log and sqrt; b = 0 for exp; a > 0, c >= 0 and b in [-π, π]
    for sin and cos, a > 0 for tanh."""
    if name == "0":
        return 0.0, 0.0, 0.0, d
    if name == "x":
        return 1.0, 0.0, c * a, d + c * b
    if name.startswith("x^"):
        k = int(name[2:])
        return 1.0, b / a, c * a**k, d
    if name == "abs":
        return 1.0, b / a, c * abs(a), d
    if name == "1/x":
        return 1.0, b / a, c / a, d
    if name == "log":
        return math.copysign(1.0, a), b / abs(a), c, d + c * math.log(abs(a))
    if name == "sqrt":
        return math.copysign(1.0, a), b / abs(a), c * math.sqrt(abs(a)), d
    if name == "exp":
        return a, 0.0, c * math.exp(b), d
    if a < 0 and name in ("sin", "tanh"):
        a, b, c = -a, -b, -c
    elif a < 0 and name == "cos":
        a, b = -a, -b
    if name in ("sin", "cos"):
        if c < 0:
            b, c = b + math.pi, -c
        b = math.remainder(b, 2 * math.pi)
    return a, b, c, d


def fit_library(
    x,
    y,
    *,
    library: Sequence[str] | None = None,
    weight_simple: float = WEIGHT_SIMPLE,
    n_starts: int = 3,
) -> FunctionFit:
    r"""Snap samples y ≈ φ(x) to the best c·f(a·x + b) + d over a function library.

    x is first mapped to [-1, 1] and y standardised, so the (a, b) grid (|a| from 0.1 to 12,
    log-spaced, both signs; b in [-4, 4]) is scale free. For powers, 1/x and |x| the scale a
    is redundant with c and fixed to 1 (and to ±1 for log and sqrt, whose domain depends on
    the sign); for x itself the fit is linear. For fixed (a, b) the best (c, d) is linear
    least squares with R² equal to the squared correlation of f(a·x + b) and y, which scores
    the whole grid at once; the ``n_starts`` best grid points start
    ``scipy.optimize.least_squares`` on (a, b) with (c, d) re-solved at every evaluation.
    Candidates whose argument leaves f's domain on the samples (log, sqrt need a·x + b > 0;
    1/x one sign; exp a·x + b <= 50) are not considered there. The result minimises pykan's
    score w·complexity + (1 - w)·log₂(1 + 10⁻⁵ - R²); scores within 0.05 of the lowest are
    ties, won by the lowest complexity and then the earlier library entry (so a sine with a
    tiny a that fits a line's noise a little better does not beat the line).

    Args:
        x, y: samples, 1-D arrays of the same length (>= 4), finite.
        library: names of the candidate functions (keys of :data:`LIBRARY`); default all:
            0, x, x^2, x^3, x^4, 1/x, sqrt, log, exp, sin, cos, abs, tanh.
        weight_simple: w in [0, 1): how strongly simpler functions are preferred.
        n_starts: grid points refined per function (>= 1).

    Returns:
        :class:`FunctionFit` with ``params = (a, b, c, d)`` in the units of x and y.

    Raises:
        DataError: on bad samples. ConfigError: on an unknown library name or bad option.

    Reference: Liu et al. (2024), "KAN: Kolmogorov-Arnold Networks", arXiv:2404.19756.
    """
    x, y = _check_xy(x, y, "fit_library")
    names = list(LIBRARY) if library is None else list(library)
    unknown = [n for n in names if n not in LIBRARY]
    if unknown or not names:
        raise ConfigError(
            f"fit_library: library must name functions from {', '.join(LIBRARY)}, got {library!r}"
        )
    number("fit_library", "weight_simple", weight_simple, low=0, below=1)
    integer("fit_library", "n_starts", n_starts, low=1)
    center = 0.5 * (x.max() + x.min())
    half = 0.5 * (x.max() - x.min())
    half = half if half > 0 else 1.0
    y_mean, y_std = float(y.mean()), float(y.std())
    y_std = y_std if y_std > 1e-12 * max(1.0, abs(y_mean)) else 1.0
    xn = (x - center) / half
    yn = (y - y_mean) / y_std
    results = {}
    for name in names:
        out = _fit_one(LIBRARY[name], xn, yn, n_starts)
        if out is not None:
            results[name] = out
    if not results:
        raise DataError("fit_library: no library function could be fitted to these samples")

    def score(name):
        r2 = results[name][1]
        return weight_simple * LIBRARY[name].complexity + (1 - weight_simple) * math.log2(
            max(1.0 + 1e-5 - r2, 1e-300)
        )

    # within a margin of the best score (a factor 2^(0.25/(1-w)) in 1 - R²), the simplest
    # function wins, then the earlier library entry: extra parameters fitting noise don't count
    lowest = min(score(n) for n in results)
    close = [n for n in results if score(n) <= lowest + _SCORE_MARGIN]
    best = min(close, key=lambda n: (LIBRARY[n].complexity, names.index(n)))
    (a, b, c, d) = results[best][0]
    # back to the units of x and y: a·(x - m)/h + b and σ(c f + d) + μ
    params = _canonical(best, a / half, b - a * center / half, c * y_std, d * y_std + y_mean)
    fit = FunctionFit("library", best, tuple(float(p) for p in params), 0.0, 0)
    r2 = r_squared(y, fit(x))
    return dataclasses.replace(
        fit,
        r2=r2,
        complexity=LIBRARY[best].complexity,
        candidates={n: float(v[1]) for n, v in results.items()},
    )


def stlsq(
    features: np.ndarray,
    y: np.ndarray,
    *,
    threshold: float = 1e-2,
    keep: Sequence[int] = (),
    max_iter: int = 20,
) -> np.ndarray:
    r"""Sequentially thresholded least squares (Brunton, Proctor & Kutz 2016).

    Solve min ||Θξ - y||² by least squares, set to zero every coefficient whose contribution
    |ξ_k|·rms(Θ_k) is below ``threshold`` times the largest contribution of any column, refit
    on the columns left, and repeat until the support stops changing. Measuring each term by
    its contribution over the samples makes the threshold relative and independent of the
    columns' units.

    Args:
        features: the library matrix Θ, shape ``(n, K)``.
        y: targets, shape ``(n,)``.
        threshold: relative threshold in [0, 1).
        keep: column indices never removed (e.g. the constant column).
        max_iter: maximal number of threshold-and-refit rounds.

    Returns:
        Coefficients ξ, shape ``(K,)``, zero where removed.

    Raises:
        ConfigError: on a threshold outside [0, 1). DataError: on mismatched shapes.
    """
    features = np.asarray(features, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if features.ndim != 2 or y.shape != (features.shape[0],):
        raise DataError(
            f"stlsq: features must be (n, K) and y (n,), got {features.shape} and {y.shape}"
        )
    if not (isinstance(threshold, int | float) and 0.0 <= threshold < 1.0):
        raise ConfigError(f"stlsq: threshold must be in [0, 1), got {threshold!r}")
    norms = np.sqrt(np.mean(features**2, axis=0))
    norms = np.where(norms > 0, norms, 1.0)
    theta = features / norms
    active = np.ones(features.shape[1], dtype=bool)
    keep_mask = np.zeros_like(active)
    keep_mask[list(keep)] = True
    xi = np.zeros(features.shape[1])
    for _ in range(max_iter):
        xi = np.zeros(features.shape[1])
        if active.any():
            xi[active] = np.linalg.lstsq(theta[:, active], y, rcond=None)[0]
        contribution = np.abs(xi)
        scale = contribution[~keep_mask].max() if (~keep_mask).any() else 0.0
        new_active = (contribution >= threshold * scale) & (contribution > 0) | keep_mask
        if np.array_equal(new_active, active):
            break
        active = new_active
    return xi / norms


def fit_sparse_polynomial(x, y, *, degree: int = 4, threshold: float = 1e-2) -> FunctionFit:
    r"""Fit y ≈ Σ_k c_k x^k, k = 0..degree, with STLSQ (:func:`stlsq`); the constant stays.

    x is divided by max|x| (not centred, so a monomial stays a monomial) before the
    regression, for conditioning; the coefficients are returned in the units of x.

    Args:
        x, y: samples, 1-D arrays of the same length (>= 4), finite.
        degree: the highest power (>= 1).
        threshold: STLSQ's relative threshold (see :func:`stlsq`).

    Returns:
        :class:`FunctionFit` with ``params`` the coefficients of 1, x, ..., x^degree.

    Reference: Brunton, Proctor & Kutz (2016), PNAS 113(15), 3932-3937.
    """
    x, y = _check_xy(x, y, "fit_sparse_polynomial")
    integer("fit_sparse_polynomial", "degree", degree, low=1)
    scale = float(np.max(np.abs(x)))
    scale = scale if scale > 0 else 1.0
    xs = x / scale
    features = xs[:, None] ** np.arange(degree + 1)[None, :]
    coef = stlsq(features, y, threshold=threshold, keep=(0,))
    coef = coef / scale ** np.arange(degree + 1)
    fit = FunctionFit("polynomial", "poly", tuple(float(c) for c in coef), 0.0, 0)
    return dataclasses.replace(
        fit, r2=r_squared(y, fit(x)), complexity=int(np.count_nonzero(coef[1:]))
    )
