r"""Sparse identification of a polynomial vector field from states alone (STLSQ path + selection).

dy/dt = Ξᵀ θ(y), θ the monomials of y up to a total degree, Ξ sparse. The regression is built
in one of two forms from sampled states only (no derivatives given):

- strong: rows θ(y(t_i)) against finite-difference derivatives of the states
  (:func:`physnet.data.derivative_weights`);
- weak: on overlapping time windows [a, b] of each trajectory and test functions φ_k that
  vanish with their first p - 1 derivatives at a and b
  (:func:`physnet.training.bump_test_functions`), integration by parts gives
  -∫ φ_k' y dt = Ξᵀ ∫ φ_k θ(y) dt: no derivative of the noisy states is taken (Messenger &
  Bortz 2021, J. Comput. Phys. 443, 110525).

Sparsity: sequentially thresholded least squares (Brunton, Proctor & Kutz 2016, PNAS 113(15),
3932-3937) per equation, with a relative threshold on each term's contribution, run over a
log-spaced path of thresholds; the model of each equation is chosen on the path by the
corrected Akaike information criterion AICc (Mangan et al. 2017, Proc. R. Soc. A 473,
20170009) or by k-fold cross-validation. Everything is float64 NumPy outside ``jit``; the
path's refits are solves on the R factor of one QR decomposition of the library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .._checks import integer, number
from .._errors import ConfigError, DataError
from ..approximators import Polynomial, monomial_exponents
from ..data import derivative_weights
from ._weak_loss import bump_test_functions, trapezoid_weights

#: the accepted ``form=`` values
FORMS = ("strong", "weak")
#: the accepted ``selection=`` values
SELECTIONS = ("aicc", "cv")
#: the accepted ``measure=`` values (what STLSQ's relative threshold compares)
MEASURES = ("coefficient", "contribution")


def monomial_name(exponents: Sequence[int], names: Sequence[str]) -> str:
    """A monomial as a string: ``(2, 0, 1)`` with names x, y, z -> ``"x^2 z"``; ``"1"`` for the
    constant."""
    parts = [n if k == 1 else f"{n}^{k}" for n, k in zip(names, exponents, strict=True) if k]
    return " ".join(parts) or "1"


def monomials(states: np.ndarray, exponents: Sequence[Sequence[int]]) -> np.ndarray:
    """The monomials ``(..., M)`` of states ``(..., d)`` for exponent tuples ``(M, d)``."""
    states = np.asarray(states, dtype=np.float64)
    powers = np.asarray(exponents, dtype=np.int64)
    degree = int(powers.max()) if powers.size else 0
    table = np.stack([states**k for k in range(degree + 1)], axis=-1)  # (..., d, degree + 1)
    d = states.shape[-1]
    picked = table[..., np.arange(d)[None, :], powers]  # (..., M, d)
    return np.prod(picked, axis=-1)


@dataclasses.dataclass(frozen=True)
class SparsePolynomialFit:
    """A sparse polynomial vector field fitted by :func:`fit_sparse_polynomial_ode`.

    Attributes:
        coefficients: Ξ, shape ``(M, d)``: dy_j/dt = Σ_m Ξ[m, j] θ_m(y), zeros off the support.
        exponents: the M monomials' exponent tuples (the order of
            :func:`physnet.approximators.monomial_exponents`).
        names: the state variables' names.
        thresholds: the relative STLSQ threshold chosen for each equation, shape ``(d,)``.
        form: ``"strong"`` or ``"weak"``.
        selection: ``"cv"`` (default) or ``"aicc"``.
        measure: ``"coefficient"`` or ``"contribution"``.
        path_size: the number of distinct supports scored per equation, shape ``(d,)``.
        relations: polynomials that vanish on the data (each a dict monomial name ->
            coefficient in the data's units, the left-out monomial's coefficient 1): a
            conserved quantity such as an energy shell makes these library columns linear
            combinations of lower-degree ones, so their coefficients are not identifiable from
            the data and the fit leaves them out (``dependence_tol``).
    """

    coefficients: np.ndarray
    exponents: tuple[tuple[int, ...], ...]
    names: tuple[str, ...]
    thresholds: np.ndarray
    form: str
    selection: str
    path_size: np.ndarray
    relations: tuple[dict[str, float], ...] = ()

    @property
    def support(self) -> np.ndarray:
        """The boolean support of :attr:`coefficients`, shape ``(M, d)``."""
        return self.coefficients != 0.0

    def terms(self) -> list[dict[str, float]]:
        """Per equation, the monomial's name -> its coefficient, zeros left out."""
        labels = [monomial_name(e, self.names) for e in self.exponents]
        return [
            {labels[m]: float(c) for m, c in enumerate(column) if c != 0.0}
            for column in self.coefficients.T
        ]

    def equations(self, digits: int = 6) -> list[str]:
        """Each equation as ``"d x/dt = -10 x + 10 y"``, coefficients to ``digits`` digits."""
        out = []
        for name, terms in zip(self.names, self.terms(), strict=True):
            body = " + ".join(
                f"{c:.{digits}g}" + ("" if label == "1" else f" {label}")
                for label, c in terms.items()
            )
            out.append(f"d{name}/dt = {body or '0'}".replace("+ -", "- "))
        return out

    def relation_equations(self, digits: int = 6) -> list[str]:
        """Each of :attr:`relations` as ``"x^2 + y^2 - 1 = 0"``."""
        out = []
        for terms in self.relations:
            body = " + ".join(
                f"{c:.{digits}g}" + ("" if label == "1" else f" {label}")
                for label, c in terms.items()
            )
            out.append(f"{body} = 0".replace("+ -", "- "))
        return out

    def vector_field(self, y) -> np.ndarray:
        """dy/dt at states ``y`` ``(..., d)`` (NumPy, float64)."""
        return monomials(y, self.exponents) @ self.coefficients

    def to_polynomial(self, *, rngs) -> Polynomial:
        """The fit as a :class:`physnet.Polynomial` approximator (``NeuralODE(fit.to_polynomial(
        rngs=...))`` is the identified model)."""
        d = len(self.names)
        degree = max(sum(e) for e in self.exponents)
        poly = Polynomial(d, d, degree=degree, rngs=rngs)
        if tuple(poly.exponents) != self.exponents:
            raise ConfigError("SparsePolynomialFit.to_polynomial: exponent order mismatch")
        poly.coefficients[...] = np.asarray(self.coefficients)
        return poly


def _as_batches(ts, states) -> tuple[np.ndarray, np.ndarray]:
    if states is None:  # a Trajectories-like object
        ts, states = getattr(ts, "ts", None), getattr(ts, "states", None)
        if states is None:
            raise DataError(
                "fit_sparse_polynomial_ode: give (ts, states) arrays or a Trajectories object"
            )
    states = np.asarray(states, dtype=np.float64)
    if states.ndim == 2:
        states = states[None]
    if states.ndim != 3 or states.shape[1] < 3:
        raise DataError(
            "fit_sparse_polynomial_ode: states must have shape (B, T, d) or (T, d) with T >= 3, "
            f"got {states.shape}"
        )
    if not np.isfinite(states).all():
        raise DataError("fit_sparse_polynomial_ode: states hold NaN or inf")
    ts = np.asarray(ts, dtype=np.float64)
    if ts.ndim == 1:
        ts = np.broadcast_to(ts, states.shape[:2])
    if ts.shape != states.shape[:2] or not (np.diff(ts, axis=1) > 0).all():
        raise DataError(
            f"fit_sparse_polynomial_ode: ts must be increasing with shape (T,) or (B, T) matching "
            f"states {states.shape}, got {ts.shape}"
        )
    return ts, states


def _strong_rows(ts, states, exponents, derivative: str, window_length: int, polyorder: int):
    theta, target = [], []
    for t, y in zip(ts, states, strict=True):
        weights = derivative_weights(
            t, method=derivative, window_length=window_length, polyorder=polyorder
        )
        theta.append(monomials(y, exponents))
        target.append(weights @ y)
    return np.concatenate(theta), np.concatenate(target)


def _weak_rows(ts, states, exponents, window: int, power: int, n_test: int):
    T = states.shape[1]
    if window > T:
        raise ConfigError(f"fit_sparse_polynomial_ode: window {window} exceeds the {T} samples")
    stride = max(1, window // 4)
    starts = np.arange(0, T - window + 1, stride)
    index = starts[:, None] + np.arange(window)[None, :]  # (S, L)
    theta, target = [], []
    for t, y in zip(ts, states, strict=True):
        lib = monomials(y, exponents)  # (T, M)
        for idx in index:
            tt = t[idx]
            phi, dphi = bump_test_functions(tt, power, n_test)  # (K, L)
            w = trapezoid_weights(tt)
            theta.append((phi * w) @ lib[idx])
            target.append(-(dphi * w) @ y[idx])
    return np.concatenate(theta), np.concatenate(target)


def _independent_columns(theta, r, tol: float) -> tuple[np.ndarray, list]:
    """The columns of ``theta`` (unit root mean square, in order of degree; ``r`` the R of its
    QR factorisation) independent of the columns kept before them, and for each left-out
    column k its relation on the data: ``(k, {m: c_m})`` with θ_k - Σ a_m θ_m ≈ 0 (c_k = 1,
    c_m = -a_m)."""
    n, M = theta.shape
    if tol <= 0:
        return np.arange(M), []
    size = np.abs(np.diag(r)) / np.sqrt(n)
    keep, relations = [], []
    for k in range(M):
        if size[k] >= tol:
            keep.append(k)
            continue
        support = np.asarray(keep, dtype=np.int64)
        if support.size:  # the relation, its round-off terms (< 1e-4 of the largest) removed
            a = np.linalg.lstsq(theta[:, support], theta[:, k], rcond=None)[0]
            support = support[np.abs(a) >= 1e-4 * max(np.abs(a).max(), 1.0)]
            a = np.linalg.lstsq(theta[:, support], theta[:, k], rcond=None)[0]
        else:
            a = np.zeros(0)
        rel = {k: 1.0} | {int(m): -float(c) for m, c in zip(support, a, strict=True)}
        relations.append((k, rel))
    return np.asarray(keep, dtype=np.int64), relations


def _stlsq_support(r, qy, active, threshold: float, weight, max_iter: int = 25):
    """STLSQ on the QR-reduced problem min ||R[:, S] ξ - Qᵀy||: the final support and ξ."""
    xi = np.zeros(r.shape[1])
    for _ in range(max_iter):
        xi = np.zeros(r.shape[1])
        if active.any():
            xi[active] = np.linalg.lstsq(r[:, active], qy, rcond=None)[0]
        size = np.abs(xi) * weight
        new = (size >= threshold * size.max()) & (size > 0)
        if np.array_equal(new, active):
            break
        active = new
    return active, xi


def _path(r, qy, thresholds, weight) -> list[tuple[float, np.ndarray]]:
    """Distinct supports (first threshold giving each) along the threshold path."""
    seen, out = set(), []
    for tau in thresholds:
        support, _ = _stlsq_support(r, qy, np.ones(r.shape[1], dtype=bool), tau, weight)
        key = support.tobytes()
        if support.any() and key not in seen:
            seen.add(key)
            out.append((float(tau), support))
    return out


def _refit(theta, y, support) -> np.ndarray:
    xi = np.zeros(theta.shape[1])
    xi[support] = np.linalg.lstsq(theta[:, support], y, rcond=None)[0]
    return xi


def _aicc(theta, y, path, held=None, held_y=None) -> int:
    """The path's index of the lowest AICc, of the residuals on all rows, or on held-out rows
    ``held``, ``held_y`` when given (each support refitted on ``theta``, ``y``)."""
    if held is None:
        held, held_y = theta, y
    n = len(held_y)
    floor = 1e-28 * max(float(held_y @ held_y), 1e-300)
    scores = []
    for _, support in path:
        rss = max(float(np.sum((held @ _refit(theta, y, support) - held_y) ** 2)), floor)
        k = int(support.sum())
        penalty = 2 * k + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else np.inf)
        scores.append(n * np.log(rss / n) + penalty)
    return int(np.argmin(scores))


def _folds(theta, target, folds: int, key: int):
    """Per fold: (R, Qᵀy of the training rows, held-out rows, held-out targets)."""
    fold = np.random.default_rng(key).permutation(len(target)) % folds
    out = []
    for f in range(folds):
        train = fold != f
        q, r = np.linalg.qr(theta[train])
        out.append((r, q.T @ target[train], theta[~train], target[~train]))
    return out


def _cv(parts, j: int, thresholds, weight) -> float:
    errors = np.zeros(len(thresholds))
    for r, qy, held, held_y in parts:
        for i, tau in enumerate(thresholds):
            support, xi = _stlsq_support(r, qy[:, j], np.ones(r.shape[1], dtype=bool), tau, weight)
            if not support.any():
                errors[i] = np.inf
                continue
            errors[i] += np.mean((held @ xi - held_y[:, j]) ** 2)
    return float(thresholds[int(np.argmin(errors))])


def fit_sparse_polynomial_ode(
    ts,
    states=None,
    *,
    degree: int = 3,
    form: str = "strong",
    selection: str = "cv",
    measure: str = "coefficient",
    thresholds: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
    derivative: str = "savgol",
    window_length: int = 5,
    polyorder: int = 4,
    window: int = 31,
    power: int = 4,
    n_test: int = 2,
    folds: int = 5,
    seed: int = 0,
    validation=None,
    dependence_tol: float = 1e-6,
) -> SparsePolynomialFit:
    r"""Identify a sparse polynomial vector field dy/dt = Ξᵀ θ(y) from sampled states.

    Each state variable is divided by its largest magnitude and each library column by its
    root mean square before the regression (monomials stay monomials; Ξ is returned in the
    data's units). Per equation, STLSQ runs at every threshold of the path (default 40 values
    log-spaced from 1e-4 to 0.5), relative to the largest term's size: with
    ``measure="coefficient"`` (default) a term's size is its coefficient's magnitude in the
    data's units, as PySINDy's STLSQ measures it; with ``"contribution"`` its coefficient times
    its column's root mean square (independent of the units). The
    distinct supports found are scored: ``selection="aicc"`` refits each support by least
    squares on all rows and keeps the lowest AICc = n ln(RSS/n) + 2k + 2k(k+1)/(n-k-1);
    ``selection="cv"`` keeps the threshold with the lowest held-out mean squared error over
    ``folds`` random folds of the rows (key ``seed``) and refits at it on all rows. With
    ``validation`` trajectories (Kaptanoglu et al. 2023's protocol: the test trajectories),
    each support of the path, refitted on the training rows, is scored on the validation
    trajectories' strong-form rows instead (finite-difference derivatives as above): AICc of
    their residuals for ``selection="aicc"``, their mean squared error for ``"cv"``.

    Identifiability: when the data lie on a polynomial level set (a Hamiltonian flow sampled
    on one energy shell, any conserved polynomial quantity), some library columns are exact
    linear combinations of others on the data and infinitely many Ξ fit equally well. Taking
    the columns in order of degree, a column whose part independent of the columns before it
    is below ``dependence_tol`` (relative to its norm) is left out of the regression: of the
    equivalent fields the one of lowest degree is kept, and the vanishing polynomials are
    reported in :attr:`SparsePolynomialFit.relations`.

    Args:
        ts: times ``(T,)`` or ``(B, T)``, or a :class:`physnet.Trajectories` (then no
            ``states``).
        states: states ``(B, T, d)`` or ``(T, d)``.
        degree: total degree of the monomial library (>= 1).
        form: ``"strong"`` (finite-difference derivatives by
            :func:`physnet.data.derivative_weights` with ``derivative``, ``window_length``,
            ``polyorder``; default the 5-point fourth-order stencil) or ``"weak"`` (``window`` samples
            per test window, stride window // 4, bump power ``power``, ``n_test`` test
            functions per window).
        selection: ``"cv"`` (default) or ``"aicc"``.
        measure: ``"coefficient"`` or ``"contribution"``.
        thresholds: the threshold path (values in [0, 1)).
        names: the state variables' names (default x1, ..., xd).
        folds, seed: of ``selection="cv"``.
        validation: held-out ``(ts, states)`` (shapes as ``ts``, ``states``) or a
            Trajectories that scores the path instead (see above), or ``None``.
        dependence_tol: the relative size below which a library column counts as a linear
            combination of the lower-degree columns on the data (see Identifiability; 0 keeps
            every column).

    Returns:
        :class:`SparsePolynomialFit`.

    Raises:
        DataError: on bad times or states. ConfigError: on a bad option.

    References: Brunton, Proctor & Kutz (2016), PNAS 113(15), 3932-3937; Messenger & Bortz
    (2021), J. Comput. Phys. 443, 110525; Mangan et al. (2017), Proc. R. Soc. A 473, 20170009.
    """
    function = "fit_sparse_polynomial_ode"
    ts, states = _as_batches(ts, states)
    integer(function, "degree", degree, low=1)
    if form not in FORMS:
        raise ConfigError(f"{function}: form must be one of {', '.join(FORMS)}, got {form!r}")
    if measure not in MEASURES:
        raise ConfigError(
            f"{function}: measure must be one of {', '.join(MEASURES)}, got {measure!r}"
        )
    if selection not in SELECTIONS:
        raise ConfigError(
            f"{function}: selection must be one of {', '.join(SELECTIONS)}, got {selection!r}"
        )
    integer(function, "window", window, low=5)
    integer(function, "power", power, low=1)
    integer(function, "n_test", n_test, low=1)
    integer(function, "folds", folds, low=2)
    if thresholds is None:
        thresholds = np.logspace(-4, np.log10(0.5), 40)
    thresholds = np.asarray(
        [number(function, "thresholds", t, low=0) for t in thresholds], dtype=np.float64
    )
    if (thresholds >= 1).any() or thresholds.size == 0:
        raise ConfigError(f"{function}: thresholds must be a non-empty list of values in [0, 1)")
    dependence_tol = number(function, "dependence_tol", dependence_tol, low=0)
    d = states.shape[-1]
    names = tuple(names or [f"x{j + 1}" for j in range(d)])
    if len(names) != d:
        raise ConfigError(f"{function}: names must have {d} entries, got {len(names)}")
    exponents = tuple(monomial_exponents(d, degree))
    scale = np.max(np.abs(states), axis=(0, 1))
    scale = np.where(scale > 0, scale, 1.0)
    scaled = states / scale
    if form == "strong":
        theta, target = _strong_rows(ts, scaled, exponents, derivative, window_length, polyorder)
    else:
        theta, target = _weak_rows(ts, scaled, exponents, window, power, n_test)
    norms = np.sqrt(np.mean(theta**2, axis=0))
    norms = np.where(norms > 0, norms, 1.0)
    theta = theta / norms
    powers = np.asarray(exponents)
    # a library column in the data's units is the normalised one times norm * prod(scale^e);
    # Ξ in the data's units undoes that, then the state scaling
    # (d(y_j / s_j)/dt = Σ ξ θ(y / s)); STLSQ's sizes are |ξ| in the measure= units
    unit = 1.0 / (norms * np.prod(scale[None, :] ** powers, axis=-1))
    to_data = unit[:, None] * scale[None, :]
    q, r = np.linalg.qr(theta)
    keep, relations = _independent_columns(theta, r, dependence_tol)
    labels = [monomial_name(e, names) for e in exponents]
    relations = tuple(
        {labels[m]: float(c * unit[m] / unit[k]) for m, c in rel.items()} for k, rel in relations
    )
    all_columns = len(exponents)
    if len(keep) < all_columns:  # the regression runs on the independent columns only
        theta, to_data = theta[:, keep], to_data[keep]
        q, r = np.linalg.qr(theta)
    xi = np.zeros((len(keep), d))
    chosen = np.zeros(d)
    sizes = np.zeros(d, dtype=np.int64)
    qy = q.T @ target
    parts = _folds(theta, target, folds, seed) if selection == "cv" and validation is None else None
    held = held_y = None
    if validation is not None:
        vts, vstates = (
            _as_batches(validation, None) if not isinstance(validation, tuple)
            else _as_batches(*validation)
        )  # fmt: skip
        if vstates.shape[-1] != d:
            raise DataError(f"{function}: validation states must have {d} variables")
        held, held_y = _strong_rows(
            vts, vstates / scale, exponents, derivative, window_length, polyorder
        )
        held = (held / norms)[:, keep]
    for j in range(d):
        y = target[:, j]
        weight = to_data[:, j] if measure == "coefficient" else np.ones(len(keep))
        path = _path(r, qy[:, j], thresholds, weight)
        sizes[j] = len(path)
        if not path:
            continue
        if held is not None:
            if selection == "aicc":
                best = _aicc(theta, y, path, held, held_y[:, j])
            else:
                best = int(np.argmin([
                    np.mean((held @ _refit(theta, y, s) - held_y[:, j]) ** 2) for _, s in path
                ]))  # fmt: skip
            chosen[j], support = path[best]
        elif selection == "aicc":
            best = _aicc(theta, y, path)
            chosen[j], support = path[best]
        else:
            chosen[j] = _cv(parts, j, thresholds, weight)
            support = _path(r, qy[:, j], [chosen[j]], weight)[0][1]
        xi[:, j] = _refit(theta, y, support)
    coefficients = np.zeros((all_columns, d))
    coefficients[keep] = xi * to_data
    return SparsePolynomialFit(
        coefficients=coefficients,
        exponents=exponents,
        names=names,
        thresholds=chosen,
        form=form,
        selection=selection,
        path_size=sizes,
        relations=relations,
    )
