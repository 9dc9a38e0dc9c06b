r"""B-spline bases evaluated from their k + 1 non-zero pieces (pure functions).

A spline of order (degree) k on a knot vector t_0 <= ... <= t_{G+2k} is
s(x) = Σ_{m=0}^{G+k-1} c_m B_{m,k}(x), with the Cox–de Boor recursion

.. math::
    B_{m,0}(x) = [t_m <= x < t_{m+1}], \qquad
    B_{m,k}(x) = \frac{x - t_m}{t_{m+k} - t_m} B_{m,k-1}(x)
               + \frac{t_{m+k+1} - x}{t_{m+k+1} - t_{m+1}} B_{m+1,k-1}(x).

The grid is the G intervals of [a, b] = [t_k, t_{G+k}], extended by k knots on each side so that
the G + k basis functions form a partition of unity on [a, b]. On an interval
[t_{j+k}, t_{j+k+1}] only B_{j,k}, ..., B_{j+k,k} are non-zero, so every function here finds j
and runs the recursion on those k + 1 pieces only (The NURBS Book, algorithm A2.2): O(k²)
floating-point work, independent of G, and exact first and second derivatives by autodiff,
since each piece is a polynomial in x. On uniform grids j is a ``floor`` and the pieces are a
constant (k+1)×(k+1) polynomial matrix; on other grids j counts the interior breakpoints below
x (G - 1 integer comparisons, outside autodiff) and the recursion reads 2k local knots.

Outside [a, b] the basis is continued linearly from the boundary,
B(x) = B(x_c) + B'(x_c)(x - x_c) with x_c the nearest end: the spline keeps its value and
slope at the boundary (C¹), the weights still sum to one, and nothing silently drops to zero.

The networks evaluate whole splines, not bases: :func:`spline_table` converts the coefficients
once per call (a linear map of them, shared by every point of a batch) to piecewise-polynomial
form, k + 1 monomial coefficients per interval in the local coordinate x - t_J, plus the two
tangent lines outside [a, b]; :func:`bspline_eval` then finds each point's piece, reads its
k + 1 coefficients and runs Horner's rule. Per point that is one gather and k multiply-adds
per output instead of the O(k²) recursion, and the derivatives in x of every order are those
of a polynomial.

Reference: de Boor, *A Practical Guide to Splines* (1978); Piegl & Tiller, *The NURBS Book*
(1997); used as edge functions by Liu et al. (2024), KAN: Kolmogorov-Arnold Networks.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array


def uniform_knots(grid: int, order: int, lower, upper, *, dtype=jnp.float64) -> Array:
    """Knots of a uniform grid of ``grid`` intervals on ``[lower, upper]``, extended by ``order``.

    ``lower`` and ``upper`` may be arrays of equal shape ``(...)`` (one grid per input).

    Returns:
        Array of shape ``(..., grid + 2 * order + 1)``; entries ``order`` and ``grid + order``
        are ``lower`` and ``upper``.
    """
    lower = jnp.asarray(lower, dtype=dtype)[..., None]
    upper = jnp.asarray(upper, dtype=dtype)[..., None]
    steps = _trailing(jnp.arange(-order, grid + order + 1, dtype=dtype), lower.ndim)
    return lower + (upper - lower) * steps / grid


def extend_knots(breakpoints: Array, order: int) -> Array:
    """Extend the breakpoints ``a = x_0 < ... < x_G = b`` of a grid by ``order`` knots each side.

    The added knots are spaced uniformly by ``(b - a) / G``.

    Args:
        breakpoints: shape ``(..., G + 1)``, increasing along the last axis.

    Returns:
        Knots of shape ``(..., G + 2 * order + 1)``.
    """
    grid = breakpoints.shape[-1] - 1
    a, b = breakpoints[..., :1], breakpoints[..., -1:]
    h = (b - a) / grid
    steps = _trailing(jnp.arange(1, order + 1, dtype=breakpoints.dtype), a.ndim)
    left = a - h * steps[::-1]
    right = b + h * steps
    return jnp.concatenate([left, breakpoints, right], axis=-1)


def _trailing(v: Array, ndim: int) -> Array:
    """``v`` (1-D) reshaped to broadcast along the last axis of an ``ndim``-array."""
    return v.reshape((1,) * (ndim - 1) + (-1,))


def grid_size(knots: Array, order: int) -> int:
    """The number of intervals G of a knot vector of length ``G + 2 * order + 1``."""
    return knots.shape[-1] - 2 * order - 1


def grid_bounds(knots: Array, order: int) -> tuple[Array, Array]:
    """The ends ``(a, b)`` of the grid, each of shape ``knots.shape[:-1]``."""
    return knots[..., order], knots[..., knots.shape[-1] - order - 1]


@functools.cache
def _uniform_piece_matrix(order: int) -> np.ndarray:
    """Monomial coefficients of the k + 1 uniform B-spline pieces in the local coordinate u.

    On an interval of a uniform grid, in units of the spacing (so the interval is [0, 1] and
    the knots around it are integers), B_{j+s,k}(u) = Σ_p M[p, s] u^p. M comes from the
    Cox–de Boor recursion run once on polynomials, with denominator r at step r.
    """
    poly = np.polynomial.Polynomial
    u = poly([0.0, 1.0])
    values = [poly([1.0])]
    for r in range(1, order + 1):
        saved = poly([0.0])
        new = []
        for s in range(r):
            temp = values[s] / r
            new.append(saved + (s + 1 - u) * temp)
            saved = (u + r - 1 - s) * temp
        new.append(saved)
        values = new
    matrix = np.zeros((order + 1, order + 1))
    for s, piece in enumerate(values):
        coef = piece.coef
        matrix[: coef.shape[0], s] = coef
    return matrix


def _weights_uniform(x: Array, knots: Array, order: int):
    """Start index and linearly continued weights on a uniform grid (no interior knots read).

    With the grid position v = (x - a)/h clamped to [0, G] (v_c) and u_c = v_c - j its offset in
    interval j, the weights are Σ_p M[p, s] (u_c^p + p u_c^{p-1} (v - v_c)): the pieces and,
    outside the grid, their tangent lines.
    """
    grid = grid_size(knots, order)
    a, b = grid_bounds(knots, order)
    h = (b - a) / grid
    position = (x - a) / h
    clamped = jnp.where(position < 0, 0.0, jnp.where(position > grid, float(grid), position))
    j = jnp.clip(jnp.floor(clamped), 0, grid - 1)
    u = clamped - j
    outside = position - clamped
    powers = [jnp.ones_like(u)]
    for _ in range(order):
        powers.append(powers[-1] * u)
    # u^p + p u^(p-1) (v - v_c)
    terms = [powers[0]] + [powers[p] + p * powers[p - 1] * outside for p in range(1, order + 1)]
    matrix = jnp.asarray(_uniform_piece_matrix(order), dtype=u.dtype)
    weights = jnp.stack(terms, axis=-1) @ matrix
    return j.astype(jnp.int32), weights


def _pieces_general(x: Array, knots: Array, order: int):
    """Local Cox–de Boor (The NURBS Book A2.2) on an arbitrary increasing knot vector."""
    grid = grid_size(knots, order)
    # j = the number of interior breakpoints <= x: integer work, never differentiated
    interior = knots[..., order + 1 : grid + order]
    j = jnp.sum(interior <= x[..., None], axis=-1, dtype=jnp.int32)
    # knots t_{J+1-k}, ..., t_{J+k} around the interval [t_J, t_{J+1}], J = j + k
    idx = j[..., None] + _trailing(jnp.arange(1, 2 * order + 1), j.ndim + 1)
    local = jnp.take_along_axis(knots, idx, axis=-1)

    def t(m):  # t_{J+m}, m in [1 - k, k]
        return local[..., m + order - 1]

    values = [jnp.ones_like(x)]
    deriv = [jnp.zeros_like(x)]
    for r in range(1, order + 1):
        saved = jnp.zeros_like(x)
        new, temps = [], []
        for s in range(r):
            temp = values[s] / (t(s + 1) - t(s + 1 - r))
            new.append(saved + (t(s + 1) - x) * temp)
            saved = (x - t(s + 1 - r)) * temp
            temps.append(temp)
        new.append(saved)
        if r == order:
            deriv = [
                r * ((temps[s - 1] if s > 0 else 0.0) - (temps[s] if s < r else 0.0))
                for s in range(r + 1)
            ]
        values = new
    return j, jnp.stack(values, axis=-1), jnp.stack(deriv, axis=-1)


def bspline_pieces(x: Array, knots: Array, order: int, *, uniform: bool = False):
    r"""The k + 1 non-zero basis functions at ``x``, continued linearly outside the grid.

    Args:
        x: points, shape ``(...)``.
        knots: knot vectors, shape ``(..., G + 2k + 1)``, increasing; the leading shape
            broadcasts to that of ``x`` (one knot vector for all points, or one per point).
        order: spline order (degree) k >= 0.
        uniform: the knots are equally spaced; uses ``floor`` to find the interval and never
            reads the interior knots (faster). Wrong results if the knots are not uniform.

    Returns:
        ``(start, weights)``: ``start`` of shape ``(...)`` (int32) is the index of the first
        non-zero basis function, in ``[0, G - 1]``, and ``weights`` of shape ``(..., k + 1)``
        holds B_{start+m,k}(x) for m = 0..k inside [a, b] and the linear continuation
        B(x_c) + B'(x_c)(x - x_c) outside.
    """
    x = jnp.asarray(x)
    knots = jnp.broadcast_to(knots, x.shape + knots.shape[-1:])
    if uniform:
        return _weights_uniform(x, knots, order)
    a, b = grid_bounds(knots, order)
    x_c = jnp.where(x < a, a, jnp.where(x > b, b, x))
    start, values, deriv = _pieces_general(x_c, knots, order)
    return start, values + deriv * (x - x_c)[..., None]


def bspline_basis(x: Array, knots: Array, order: int, *, uniform: bool = False) -> Array:
    """All G + k basis functions at ``x`` (dense; zeros outside the k + 1 non-zero ones).

    For tests and least-squares fits; the networks use :func:`bspline_eval`.

    Returns:
        Array of shape ``(..., G + k)``.
    """
    n_basis = grid_size(knots, order) + order
    start, weights = bspline_pieces(x, knots, order, uniform=uniform)
    positions = start[..., None] + _trailing(jnp.arange(order + 1), start.ndim + 1)
    one_hot = jax.nn.one_hot(positions, n_basis, dtype=weights.dtype)
    return jnp.einsum("...m,...mn->...n", weights, one_hot)


def piece_polynomials(knots: Array, order: int, *, uniform: bool = False) -> Array:
    r"""Monomial coefficients of the k + 1 non-zero B-splines on every grid interval.

    On interval j of the grid, [t_J, t_{J+1}] with J = j + k, and in the local coordinate
    u = x - t_J, B_{j+s,k}(x) = Σ_p P[..., j, p, s] u^p for s, p = 0..k. The Cox–de Boor
    recursion is run once on polynomials (each step multiplies by a linear factor in u), so
    the coefficients depend on the knots only.

    Args:
        knots: shape ``(..., G + 2k + 1)``, increasing.
        order: spline order k.
        uniform: the knots are equally spaced: the pieces are then the same on every
            interval, a constant matrix scaled by the spacing (no recursion is run; only the
            grid ends are read). Wrong results if the knots are not uniform.

    Returns:
        Array of shape ``(..., G, k + 1, k + 1)`` (interval, power p, piece s).
    """
    grid = grid_size(knots, order)
    if uniform:
        a, b = grid_bounds(knots, order)
        powers = _trailing(np.arange(order + 1), a.ndim + 1)
        inverse_h = (grid / (b - a))[..., None] ** powers  # (..., p)
        matrix = jnp.asarray(_uniform_piece_matrix(order), dtype=knots.dtype)
        pieces = inverse_h[..., :, None] * matrix.reshape((1,) * a.ndim + matrix.shape)
        return jnp.broadcast_to(pieces[..., None, :, :], knots.shape[:-1] + (grid,) + matrix.shape)
    starts = np.arange(grid) + order  # J for every interval

    def t(m):  # t_{J+m} - t_J, shape (..., G)
        return knots[..., starts + m] - knots[..., starts]

    zero = jnp.zeros(knots.shape[:-1] + (grid, order + 1), knots.dtype)
    values = [zero.at[..., 0].set(1.0)]
    for r in range(1, order + 1):
        saved = zero
        new = []
        for s in range(r):
            temp = values[s] / (t(s + 1) - t(s + 1 - r))[..., None]
            u_temp = jnp.concatenate([jnp.zeros_like(temp[..., :1]), temp[..., :-1]], axis=-1)
            new.append(saved + t(s + 1)[..., None] * temp - u_temp)  # (t_{J+s+1} - x) temp
            saved = u_temp - t(s + 1 - r)[..., None] * temp  # (x - t_{J+s+1-r}) temp
        new.append(saved)
        values = new
    return jnp.stack(values, axis=-1)


def spline_table(
    knots: Array, coef: Array, order: int, *, uniform: bool = False
) -> tuple[Array, Array]:
    r"""Splines in piecewise-polynomial form, with their linear continuation outside [a, b].

    For spline i, s_i(x) = Σ_p T[i, j, p, :] (x - o[i, j])^p on piece j, where piece 0 is
    x < a (the tangent line at a, origin a), pieces 1..G are the grid intervals (origin
    t_J) and piece G + 1 is x > b (the tangent line at b, origin b). Built from the
    coefficients by a fixed linear map (:func:`piece_polynomials` applied to the k + 1
    coefficient rows of each interval), so gradients reach ``coef`` exactly.

    Args:
        knots: shape ``(n, G + 2k + 1)``.
        coef: shape ``(n, G + k, out)``.
        order: spline order k.
        uniform: the knots are equally spaced (see :func:`piece_polynomials`).

    Returns:
        ``(table, origins)`` of shapes ``(n, G + 2, k + 1, out)`` and ``(n, G + 2)``.
    """
    grid = grid_size(knots, order)
    pieces = piece_polynomials(knots, order, uniform=uniform)  # (n, G, p, s)
    windows = jnp.stack([coef[:, s : s + grid, :] for s in range(order + 1)], axis=2)
    inner = jnp.einsum("ngps,ngso->ngpo", pieces, windows)  # (n, G, p, out)
    a, b = grid_bounds(knots, order)
    width = b - knots[:, grid + order - 1]  # length of the last interval
    p = np.arange(order + 1)
    powers = width[:, None] ** p[None, :]  # (n, k + 1)
    slopes = p[None, 1:] * powers[:, :-1]
    last = inner[:, -1]
    value_b = jnp.einsum("np,npo->no", powers, last)
    slope_b = jnp.einsum("np,npo->no", slopes, last[:, 1:])
    higher = jnp.zeros_like(inner[:, 0, 2:])
    left = jnp.concatenate([inner[:, 0, :2], higher], axis=1)  # value and slope at a
    right = jnp.concatenate([value_b[:, None], slope_b[:, None], higher], axis=1)
    table = jnp.concatenate([left[:, None], inner, right[:, None]], axis=1)
    origins = jnp.concatenate([a[:, None], knots[:, order : grid + order], b[:, None]], axis=1)
    return table, origins


def spline_piece(x: Array, knots: Array, order: int, *, uniform: bool = False) -> Array:
    """The piece of :func:`spline_table` holding each ``x`` (int32, in ``[0, G + 1]``).

    ``x`` of shape ``(n,)``, ``knots`` of shape ``(n, G + 2k + 1)``. Interior breakpoints
    belong to the interval on their right, ``a`` to the first interval and ``b`` to the last.
    """
    grid = grid_size(knots, order)
    a, b = grid_bounds(knots, order)
    if uniform:
        position = jnp.floor((x - a) / ((b - a) / grid))
        inside = jnp.clip(position, 0, grid - 1).astype(jnp.int32) + 1
    else:
        interior = knots[:, order + 1 : grid + order]
        inside = jnp.sum(interior <= x[:, None], axis=-1, dtype=jnp.int32) + 1
    return jnp.where(x < a, 0, jnp.where(x > b, grid + 1, inside))


def eval_table(x: Array, piece: Array, table: Array, origins: Array) -> Array:
    """Evaluate splines in :func:`spline_table` form at ``x`` (shape ``(n,)``) on the pieces
    ``piece`` (from :func:`spline_piece`); returns shape ``(n, out)``. Horner's rule in the
    local coordinate, so derivatives of every order in ``x`` are exact."""
    rows = jnp.arange(x.shape[0])
    coefficients = table[rows, piece]  # (n, k + 1, out)
    u = (x - origins[rows, piece])[:, None]
    value = coefficients[:, -1]
    for power in range(table.shape[2] - 2, -1, -1):
        value = value * u + coefficients[:, power]
    return value


def bspline_eval(x: Array, knots: Array, coef: Array, order: int, *, uniform: bool = False):
    r"""Splines s_i(x_i) = Σ_m c_{i,m,:} B_{m,k}(x_i), one per leading index, vector-valued.

    Converts the coefficients to piecewise-polynomial form (:func:`spline_table`: a fixed
    linear map, independent of ``x``) and evaluates the one polynomial piece holding each
    point by Horner's rule, so the cost per point is independent of G. Outside the grid each
    spline continues as its tangent line at the nearer end (as :func:`bspline_pieces`).

    Args:
        x: points, shape ``(n,)``.
        knots: shape ``(n, G + 2k + 1)``.
        coef: coefficients, shape ``(n, G + k, out)``.
        order: spline order k.
        uniform: see :func:`bspline_pieces`.

    Returns:
        Array of shape ``(n, out)``.
    """
    table, origins = spline_table(knots, coef, order, uniform=uniform)
    piece = spline_piece(x, knots, order, uniform=uniform)
    return eval_table(x, piece, table, origins)


def is_uniform(knots: Array, *, rtol: float = 1e-12) -> Array:
    """Whether every knot vector in ``knots`` (shape ``(..., n)``) is equally spaced."""
    gaps = jnp.diff(knots, axis=-1)
    mean = jnp.mean(gaps, axis=-1, keepdims=True)
    return jnp.all(jnp.abs(gaps - mean) <= rtol * jnp.abs(mean))
