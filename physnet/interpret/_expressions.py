"""Shared sympy helpers of the symbolic read-outs: terms, evaluation, rounding, checks."""

from __future__ import annotations

import numpy as np
import sympy

from .._checks import number
from .._errors import ConfigError, DataError


def _terms(expr: sympy.Expr) -> list[tuple[str, float, sympy.Expr]]:
    """(key, coefficient, monomial) of every additive term; the constant's key is ``"1"``."""
    out = []
    for term in sympy.Add.make_args(sympy.expand(expr)):
        coeff, rest = term.as_coeff_Mul()
        if rest == 1:
            out.append(("1", float(coeff), sympy.Integer(1)))
        else:
            out.append((str(rest), float(coeff), rest))
    merged: dict[str, list] = {}
    for key, coeff, rest in out:
        if key in merged:
            merged[key][0] += coeff
        else:
            merged[key] = [coeff, rest]
    return [(k, c, r) for k, (c, r) in merged.items()]


def _evaluate(expr: sympy.Expr, symbols, xs: np.ndarray) -> np.ndarray:
    fn = sympy.lambdify(symbols, expr, modules="numpy")
    value = fn(*(xs[:, j] for j in range(xs.shape[1])))
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (xs.shape[0],)).copy()


def _drop_small(expr: sympy.Expr, symbols, xs: np.ndarray, drop: float) -> sympy.Expr:
    """Remove the terms whose rms over ``xs`` is below ``drop`` times the expression's."""
    terms = _terms(expr)
    values = [c * _evaluate(m, symbols, xs) for _, c, m in terms]
    total = np.sqrt(np.mean(np.sum(values, axis=0) ** 2)) if values else 0.0
    scale = max(total, max((np.sqrt(np.mean(v**2)) for v in values), default=0.0))
    kept = [
        sympy.Float(c) * m
        for (_, c, m), v in zip(terms, values, strict=True)
        if c != 0.0 and np.sqrt(np.mean(v**2)) >= drop * scale
    ]
    return sympy.Add(*kept) if kept else sympy.Integer(0)


def _round(expr: sympy.Expr, digits: int) -> sympy.Expr:
    return expr.xreplace({f: sympy.Float(f, digits) for f in expr.atoms(sympy.Float)})


def _coefficients(expr: sympy.Expr) -> dict[str, float]:
    return {key: coeff for key, coeff, _ in _terms(expr) if coeff != 0.0}


def _check_names(names, count: int, argument: str, function: str) -> tuple[str, ...]:
    if isinstance(names, str) or len(tuple(names)) != count:
        raise ConfigError(f"{function}: {argument} must be {count} variable names, got {names!r}")
    names = tuple(str(n) for n in names)
    if len(set(names)) != count or not all(n.isidentifier() for n in names):
        raise ConfigError(
            f"{function}: {argument} must be distinct Python identifiers, got {names!r}"
        )
    return names


def _check_option(value, low: float, high: float, argument: str, function: str) -> float:
    return number(function, argument, value, low=low, below=high)


def _as_samples(xs, d: int, function: str) -> np.ndarray:
    xs = np.asarray(xs, dtype=np.float64)
    if xs.ndim != 2 or xs.shape[1] != d or xs.shape[0] < 1:
        raise DataError(f"{function}: xs must have shape (n, {d}) with n >= 1, got {xs.shape}")
    if not np.isfinite(xs).all():
        raise DataError(f"{function}: xs contain NaN or infinity")
    return xs
