"""Whole-function sparse polynomial fits (STLSQ on all monomials up to a total degree)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np
import sympy

from .._checks import integer
from .._errors import DataError
from ._expressions import (
    _as_samples,
    _check_names,
    _check_option,
    _coefficients,
    _evaluate,
    _round,
)
from ._library import (
    r_squared,
    stlsq,
)


@dataclasses.dataclass(frozen=True)
class PolynomialFit:
    """A sparse multivariate polynomial fitted by :func:`fit_polynomial`.

    Attributes:
        expression: the polynomial (sympy).
        coefficients: monomial (``"q**2"``, ``"p*q"``, ``"1"``) -> coefficient, zeros left out.
        r2: R² of the polynomial against the fitted values.
        names: the variable names.
        formula: the polynomial as a string, coefficients rounded to 6 significant digits.
    """

    expression: sympy.Expr
    coefficients: dict[str, float]
    r2: float
    names: tuple[str, ...]
    formula: str

    def evaluate(self, xs) -> np.ndarray:
        """The polynomial on samples ``xs`` of shape ``(n, len(names))``, shape ``(n,)``."""
        xs = _as_samples(xs, len(self.names), "PolynomialFit.evaluate")
        return _evaluate(self.expression, sympy.symbols(self.names), xs)


def fit_polynomial(
    xs,
    ys,
    *,
    names: Sequence[str] | None = None,
    degree: int = 4,
    threshold: float = 1e-2,
) -> PolynomialFit:
    r"""Sparse regression of samples ys ≈ f(xs) on all monomials up to total ``degree``.

    The library is Θ = [1, x_1, x_2, ..., x_1^{e_1} ⋯ x_d^{e_d}, ...] with Σ e_j <= degree;
    each variable is divided by its max |x_j| for conditioning (monomials stay monomials);
    STLSQ (:func:`stlsq`, relative threshold on each term's contribution over the samples)
    selects the terms; the constant is always kept.

    Args:
        xs: samples, shape ``(n, d)``.
        ys: values, shape ``(n,)``.
        names: variable names (default ``x1, ..., xd``).
        degree: the total degree (>= 1).
        threshold: STLSQ's relative threshold in [0, 1).

    Returns:
        :class:`PolynomialFit`.

    Raises:
        DataError: on bad samples. ConfigError: on bad options.

    Reference: Brunton, Proctor & Kutz (2016), PNAS 113(15), 3932-3937.
    """
    function = "fit_polynomial"
    xs = np.asarray(xs, dtype=np.float64)
    if xs.ndim != 2:
        raise DataError(f"{function}: xs must have shape (n, d), got {xs.shape}")
    xs = _as_samples(xs, xs.shape[1], function)
    ys = np.asarray(ys, dtype=np.float64)
    if ys.shape != (xs.shape[0],) or not np.isfinite(ys).all():
        raise DataError(
            f"{function}: ys must be finite with shape ({xs.shape[0]},), got {ys.shape}"
        )
    integer(function, "degree", degree, low=1)
    threshold = _check_option(threshold, 0.0, 1.0, "threshold", function)
    d = xs.shape[1]
    names = _check_names(names or [f"x{j + 1}" for j in range(d)], d, "names", function)
    exponents = [
        e
        for total in range(degree + 1)
        for e in itertools.product(range(total + 1), repeat=d)
        if sum(e) == total
    ]
    scale = np.max(np.abs(xs), axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    xn = xs / scale
    powers = np.asarray(exponents)
    features = np.prod(xn[:, None, :] ** powers[None, :, :], axis=-1)
    coef = stlsq(features, ys, threshold=threshold, keep=(0,))
    coef = coef / np.prod(scale[None, :] ** powers, axis=-1)
    symbols = sympy.symbols(names)
    expression = sympy.Add(
        *(
            sympy.Float(c) * sympy.Mul(*(s**k for s, k in zip(symbols, e, strict=True)))
            for c, e in zip(coef, exponents, strict=True)
            if c != 0.0
        )
    )
    prediction = _evaluate(expression, symbols, xs)
    return PolynomialFit(
        expression=expression,
        coefficients=_coefficients(expression),
        r2=r_squared(ys, prediction),
        names=names,
        formula=str(_round(expression, 6)),
    )
