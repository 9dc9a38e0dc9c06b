r"""Symbolic formulas from KANs, and physics read-outs of learned H, L and γ.

Two routes from a trained network to a formula:

1. **Edge by edge** (:func:`symbolic_formula`, the KAN route of Liu et al. 2024): every edge
   function φ_io of the KAN is sampled on the inputs it sees for the samples ``xs`` and fitted
   by a 1-D formula, either a sparse polynomial (STLSQ, :func:`fit_sparse_polynomial`) or a
   library function c·f(a·x + b) + d (:func:`fit_library`); the edge formulas are composed
   as the network composes its edges (addition nodes add, multiplication nodes multiply) into
   one sympy expression, expanded, and terms that contribute less than ``drop`` (relative) on
   the samples are removed. Each edge is fitted to its *total* activation (base SiLU plus
   spline), so nothing is lost between the two.
2. **The whole function at once** (:func:`fit_polynomial`): sparse regression (STLSQ) of
   samples of the learned scalar function on all monomials of the inputs up to a total degree.
   For physics read-outs of energy models this is the robust route: a composition of degree-4
   edge fits of a [2, n, 1] KAN is a degree-16 polynomial whose high-order cross terms only
   cancel approximately, while H_θ(q, p) itself is close to a low-degree polynomial.

:func:`read_hamiltonian`, :func:`read_lagrangian` and :func:`read_damping` apply these to
physnet's models, and :func:`coefficient_errors` compares with known coefficients, e.g.
:func:`duffing_coefficients`.

References: Liu et al. (2024), "KAN: Kolmogorov-Arnold Networks", arXiv:2404.19756; Brunton,
Proctor & Kutz (2016), "Discovering governing equations from data by sparse identification
of nonlinear dynamical systems", PNAS 113; Greydanus et al. (2019), "Hamiltonian Neural
Networks"; Cranmer et al. (2020), "Lagrangian Neural Networks".
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import sympy
from flax import nnx

from .._errors import ConfigError, DataError
from ..approximators import KAN
from ._library import (
    WEIGHT_SIMPLE,
    FunctionFit,
    fit_library,
    fit_sparse_polynomial,
    r_squared,
    stlsq,
)

METHODS = ("polynomial", "library", "auto")


@dataclasses.dataclass(frozen=True)
class EdgeFit:
    """The formula fitted to one edge φ_io of layer ``layer``.

    Attributes:
        layer, input, output: the edge's position (``output`` counts the layer's sums).
        fit: the fitted :class:`~physnet.interpret.FunctionFit`.
        pruned: the edge is masked off (its formula is exactly 0).
    """

    layer: int
    input: int
    output: int
    fit: FunctionFit
    pruned: bool = False

    @property
    def r2(self) -> float:
        return self.fit.r2


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
    if not (isinstance(value, int | float) and math.isfinite(value) and low <= value < high):
        raise ConfigError(f"{function}: {argument} must be in [{low}, {high}), got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class SymbolicResult:
    """A KAN turned into formulas by :func:`symbolic_formula`.

    Attributes:
        expressions: one expanded sympy expression per network output.
        edges: the per-edge fits, layer by layer (:class:`EdgeFit`, each with its R²).
        names: the input variable names.
        output_names: the output names.
        formula: the formula(s) as a string, coefficients rounded to ``digits`` digits.
        coefficients: term -> coefficient (``"1"`` for the constant, ``"x*y"``, ``"x**2"``,
            ``"sin(2.0*x + 0.3)"``, ...); with several outputs the keys are prefixed
            ``"<output>: "``.
        r2_min: the smallest R² over the non-pruned edges.
        method: the per-edge method used.
    """

    expressions: tuple[sympy.Expr, ...]
    edges: tuple[EdgeFit, ...]
    names: tuple[str, ...]
    output_names: tuple[str, ...]
    formula: str
    coefficients: dict[str, float]
    r2_min: float
    method: str
    kan: KAN = dataclasses.field(repr=False, compare=False)

    @property
    def expression(self) -> sympy.Expr:
        """The expression of a single-output network.

        Raises:
            ConfigError: for a network with several outputs (use :attr:`expressions`).
        """
        if len(self.expressions) != 1:
            raise ConfigError(
                f"SymbolicResult.expression: the network has {len(self.expressions)} outputs; "
                "use .expressions"
            )
        return self.expressions[0]

    def evaluate(self, xs) -> np.ndarray:
        """The formula(s) on samples ``xs`` of shape ``(n, in_features)``: ``(n,)`` for one
        output, ``(n, out_features)`` otherwise (float64 NumPy)."""
        xs = _as_samples(xs, len(self.names), "SymbolicResult.evaluate")
        symbols = sympy.symbols(self.names)
        values = np.stack([_evaluate(e, symbols, xs) for e in self.expressions], axis=-1)
        return values[:, 0] if values.shape[1] == 1 else values

    def refit(self, xs, ys, *, threshold: float = 1e-6, digits: int = 6) -> SymbolicResult:
        r"""The same formula with its outer coefficients refitted to data.

        The expanded formula is a sum of terms c_k·g_k(x) (monomials, or library functions
        with their fitted inner affine parameters kept); the c_k are refitted by linear least
        squares to the targets ``ys`` and terms whose contribution is below ``threshold``
        times the largest are removed (STLSQ, :func:`stlsq`). This is pykan's last step after
        snapping (it trains the affine parameters of the snapped formula): the snapped edges
        fix the structure, the data fix the numbers, so an edge that is linear up to the
        network's training error does not leave that error in the coefficients.

        Args:
            xs: samples ``(n, in_features)``.
            ys: targets ``(n,)`` or ``(n, out_features)``.
            threshold: STLSQ's relative threshold in [0, 1).
            digits: significant digits in :attr:`formula`.

        Returns:
            A new :class:`SymbolicResult` (same edges, network and names).
        """
        function = "SymbolicResult.refit"
        xs = _as_samples(xs, len(self.names), function)
        n_out = len(self.expressions)
        ys = np.asarray(ys, dtype=np.float64)
        if ys.size != xs.shape[0] * n_out or ys.shape[0] != xs.shape[0]:
            raise DataError(
                f"{function}: ys must have {n_out} value(s) per sample of xs, got shape {ys.shape}"
            )
        ys = ys.reshape(xs.shape[0], n_out)
        if not np.isfinite(ys).all():
            raise DataError(f"{function}: ys contain NaN or infinity")
        threshold = _check_option(threshold, 0.0, 1.0, "threshold", function)
        symbols = sympy.symbols(self.names)
        expressions = []
        for o, expr in enumerate(self.expressions):
            terms = [m for _, _, m in _terms(expr)]
            if not any(m == 1 for m in terms):
                terms.append(sympy.Integer(1))
            features = np.stack([_evaluate(m, symbols, xs) for m in terms], axis=1)
            coef = stlsq(features, ys[:, o], threshold=threshold)
            expressions.append(
                sympy.Add(
                    *(sympy.Float(c) * m for c, m in zip(coef, terms, strict=True) if c != 0.0)
                )
            )
        if n_out == 1:
            coefficients = _coefficients(expressions[0])
            formula = str(_round(expressions[0], digits))
        else:
            coefficients = {
                f"{name}: {k}": v
                for name, e in zip(self.output_names, expressions, strict=True)
                for k, v in _coefficients(e).items()
            }
            formula = "; ".join(
                f"{name} = {_round(e, digits)}"
                for name, e in zip(self.output_names, expressions, strict=True)
            )
        return dataclasses.replace(
            self, expressions=tuple(expressions), formula=formula, coefficients=coefficients
        )

    def errors(self, xs, ys=None) -> dict[str, float]:
        """Root mean squared errors on samples ``xs``: of the formula against the network
        (``formula_vs_network_rmse``) and, when targets ``ys`` (shape ``(n,)`` or ``(n,
        out)``) are given, of the formula (``formula_rmse``) and of the network
        (``network_rmse``) against them."""
        xs = _as_samples(xs, len(self.names), "SymbolicResult.errors")
        formula = self.evaluate(xs).reshape(xs.shape[0], -1)
        network = np.asarray(jax.vmap(self.kan)(jnp.asarray(xs)))
        out = {"formula_vs_network_rmse": float(np.sqrt(np.mean((formula - network) ** 2)))}
        if ys is not None:
            ys = np.asarray(ys, dtype=np.float64).reshape(xs.shape[0], -1)
            if ys.shape != network.shape:
                raise DataError(
                    f"SymbolicResult.errors: ys must have {network.shape[1]} value(s) per "
                    f"sample, got shape {np.shape(ys)}"
                )
            out["formula_rmse"] = float(np.sqrt(np.mean((formula - ys) ** 2)))
            out["network_rmse"] = float(np.sqrt(np.mean((network - ys) ** 2)))
        return out


def _as_samples(xs, d: int, function: str) -> np.ndarray:
    xs = np.asarray(xs, dtype=np.float64)
    if xs.ndim != 2 or xs.shape[1] != d or xs.shape[0] < 1:
        raise DataError(f"{function}: xs must have shape (n, {d}) with n >= 1, got {xs.shape}")
    if not np.isfinite(xs).all():
        raise DataError(f"{function}: xs contain NaN or infinity")
    return xs


@functools.partial(jax.jit, static_argnums=0)
def _edge_samples(graphdef, state, xs):
    kan = nnx.merge(graphdef, state)
    inputs = jax.vmap(kan.layer_inputs)(xs)
    return inputs, [jax.vmap(layer.edges)(h) for layer, h in zip(kan.layers, inputs, strict=True)]


def _fit_edge(x, y, method, degree, threshold, library, weight_simple, r2_auto) -> FunctionFit:
    spread = float(np.std(y))
    if spread <= 1e-12 * max(1.0, float(np.max(np.abs(y)))):  # a constant edge
        coef = (float(np.mean(y)),) + (0.0,) * degree
        return FunctionFit("polynomial", "poly", coef, 1.0, 0)
    if method == "library":
        return fit_library(x, y, library=library, weight_simple=weight_simple)
    poly = fit_sparse_polynomial(x, y, degree=degree, threshold=threshold)
    if method == "polynomial" or poly.r2 >= r2_auto:
        return poly
    lib = fit_library(x, y, library=library, weight_simple=weight_simple)
    return lib if lib.r2 > poly.r2 else poly


def symbolic_formula(
    kan: KAN,
    xs,
    *,
    names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    method: str = "polynomial",
    degree: int = 4,
    threshold: float = 1e-2,
    library: Sequence[str] | None = None,
    weight_simple: float = WEIGHT_SIMPLE,
    r2_auto: float = 0.9999,
    drop: float = 1e-6,
    digits: int = 6,
) -> SymbolicResult:
    r"""Fit every edge of ``kan`` by a formula and compose them into sympy expressions.

    For every layer l, input i and sum o, the edge function φ^{(l)}_{io} (base plus spline,
    as the network computes it) is sampled at the layer inputs produced by ``xs`` and fitted:

    - ``"polynomial"``: y ≈ Σ_k c_k x^k, k <= ``degree``, by STLSQ with relative threshold
      ``threshold`` (:func:`fit_sparse_polynomial`); a/2·x² + b/4·x⁴ is one edge.
    - ``"library"``: y ≈ c·f(a·x + b) + d, f from ``library``, with a grid-started nonlinear
      least-squares fit of (a, b) and pykan's simplicity-weighted choice (:func:`fit_library`).
    - ``"auto"``: the polynomial if its R² >= ``r2_auto``, otherwise whichever of the two has
      the higher R².

    The network's output is then x^{(l+1)}_o = Σ_i φ̂_io(x^{(l)}_i) at addition nodes and the
    product of its ``mult_arity`` sums at multiplication nodes, expanded with
    ``sympy.expand``; terms whose root mean square over ``xs`` is below ``drop`` times the
    output's are removed. Pruned (masked) edges are exactly 0; constant edges are constants.

    Args:
        kan: a :class:`~physnet.KAN`.
        xs: samples of the network input, shape ``(n, in_features)``; the edges are fitted on
            the range these produce, so use the data the network was trained on.
        names: input variable names (default ``x1, x2, ...``).
        output_names: output names for :attr:`SymbolicResult.formula` (default ``y1, ...``;
            ``"f"`` for one output).
        method: ``"polynomial"`` (default), ``"library"`` or ``"auto"``.
        degree: polynomial degree per edge (>= 1).
        threshold: STLSQ's relative threshold in [0, 1).
        library: library function names for ``"library"``/``"auto"`` (default all).
        weight_simple: pykan's simplicity weight in [0, 1).
        r2_auto: the R² above which ``"auto"`` keeps the polynomial.
        drop: relative size below which terms of the composed expression are removed, in
            [0, 1).
        digits: significant digits of the coefficients in :attr:`SymbolicResult.formula`.

    Returns:
        :class:`SymbolicResult`; compare the formula with the network or with targets by
        :meth:`SymbolicResult.errors`.

    Raises:
        ConfigError: on a bad option or a non-KAN. DataError: on bad samples.

    Reference: Liu et al. (2024), arXiv:2404.19756, section 2.5.1 (auto symbolic); Brunton,
    Proctor & Kutz (2016), PNAS 113 (STLSQ).
    """
    function = "symbolic_formula"
    if not isinstance(kan, KAN):
        raise ConfigError(f"{function}: kan must be a physnet KAN, got {type(kan).__name__}")
    if method not in METHODS:
        raise ConfigError(f"{function}: method must be one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(degree, int) or isinstance(degree, bool) or degree < 1:
        raise ConfigError(f"{function}: degree must be an integer >= 1, got {degree!r}")
    threshold = _check_option(threshold, 0.0, 1.0, "threshold", function)
    drop = _check_option(drop, 0.0, 1.0, "drop", function)
    if not isinstance(digits, int) or digits < 1:
        raise ConfigError(f"{function}: digits must be a positive integer, got {digits!r}")
    xs = _as_samples(xs, kan.in_features, function)
    names = _check_names(
        names or [f"x{i + 1}" for i in range(kan.in_features)], kan.in_features, "names", function
    )
    n_out = kan.out_features
    default_out = ["f"] if n_out == 1 else [f"y{o + 1}" for o in range(n_out)]
    output_names = _check_names(output_names or default_out, n_out, "output_names", function)
    inputs, acts = _edge_samples(*nnx.split(kan), jnp.asarray(xs, dtype=kan.param_dtype))
    symbols = sympy.symbols(names)
    nodes: list[sympy.Expr] = list(symbols)
    edges = []
    for l, layer in enumerate(kan.layers):
        h, act = np.asarray(inputs[l]), np.asarray(acts[l])
        mask = np.asarray(layer.mask[...])
        sums = [sympy.Integer(0)] * layer.out_features
        for i in range(layer.in_features):
            for o in range(layer.out_features):
                if mask[i, o] == 0:
                    fit = FunctionFit("polynomial", "poly", (0.0,), 1.0, 0)
                    edges.append(EdgeFit(l, i, o, fit, pruned=True))
                    continue
                fit = _fit_edge(
                    h[:, i],
                    act[:, i, o],
                    method,
                    degree,
                    threshold,
                    library,
                    weight_simple,
                    r2_auto,
                )
                edges.append(EdgeFit(l, i, o, fit))
                sums[o] = sums[o] + fit.expression(nodes[i])
        n_add, n_mult = kan.nodes[l + 1]
        arity = kan.mult_arity
        products = [
            sympy.Mul(*sums[n_add + arity * m : n_add + arity * (m + 1)]) for m in range(n_mult)
        ]
        nodes = [sympy.expand(e) for e in sums[:n_add] + products]
    expressions = tuple(_drop_small(sympy.expand(e), symbols, xs, drop) for e in nodes)
    if n_out == 1:
        coefficients = _coefficients(expressions[0])
        formula = str(_round(expressions[0], digits))
    else:
        coefficients = {
            f"{name}: {k}": v
            for name, e in zip(output_names, expressions, strict=True)
            for k, v in _coefficients(e).items()
        }
        formula = "; ".join(
            f"{name} = {_round(e, digits)}"
            for name, e in zip(output_names, expressions, strict=True)
        )
    r2 = [e.r2 for e in edges if not e.pruned]
    return SymbolicResult(
        expressions=expressions,
        edges=tuple(edges),
        names=names,
        output_names=output_names,
        formula=formula,
        coefficients=coefficients,
        r2_min=float(min(r2)) if r2 else 1.0,
        method=method,
        kan=kan,
    )


# ------------------------------------------------------------------ whole-function polynomial
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
    if not isinstance(degree, int) or isinstance(degree, bool) or degree < 1:
        raise ConfigError(f"{function}: degree must be an integer >= 1, got {degree!r}")
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


# ----------------------------------------------------------------------- physics read-outs
@dataclasses.dataclass(frozen=True)
class PhysicsReadout:
    """A learned H or L as a formula (see :func:`read_hamiltonian`, :func:`read_lagrangian`).

    Attributes:
        quantity: ``"H"`` or ``"L"``.
        expression: the formula without its constant term (and, for L, rescaled).
        coefficients: monomial -> coefficient, without the constant.
        formula: ``"H = ..."`` / ``"L = ..."``, coefficients rounded to 6 digits.
        r2: R² of the formula (constant and scale restored) against the learned function
            on the samples; for ``method="dynamics"``, R² of the formula's Euler-Lagrange
            accelerations against the model's.
        method: ``"direct"``, ``"symbolic"`` or ``"dynamics"``.
        scale: the factor the learned L was multiplied by (1 for H).
        names: the variable names.
        gauge_terms: for a Lagrangian of one degree of freedom, the terms f(q)·q̇ removed
            from :attr:`expression` because they are total time derivatives d/dt F(q)
            (same scale as :attr:`coefficients`; empty for ``"dynamics"``, which cannot see
            them, and for H).
    """

    quantity: str
    expression: sympy.Expr
    coefficients: dict[str, float]
    formula: str
    r2: float
    method: str
    scale: float
    names: tuple[str, ...]
    gauge_terms: dict[str, float] = dataclasses.field(default_factory=dict)


def _state_samples(data, d: int, points: int, function: str) -> np.ndarray:
    """Samples of states from Trajectories, an ``(n, d)`` array or a box of d (lo, hi)."""
    from ..data import Trajectories

    if isinstance(data, Trajectories):
        if data.state_size != d:
            raise DataError(
                f"{function}: the data's state size {data.state_size} is not the model's {d}"
            )
        return _as_samples(np.asarray(data.states).reshape(-1, d), d, function)
    arr = np.asarray(data, dtype=np.float64)
    if arr.shape == (d, 2) and d <= 3:  # a box
        lo, hi = arr[:, 0], arr[:, 1]
        if not (np.isfinite(arr).all() and np.all(lo < hi)):
            raise DataError(
                f"{function}: a box must be {d} finite pairs (lo < hi), got {arr.tolist()}"
            )
        axes = [np.linspace(a, b, points) for a, b in zip(lo, hi, strict=True)]
        return np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=-1)
    return _as_samples(arr, d, function)


def _scalar_values(fn, module, xs: np.ndarray) -> np.ndarray:
    graphdef, state = nnx.split(module)

    @jax.jit
    def values(state, xs):
        return jax.vmap(functools.partial(fn, nnx.merge(graphdef, state)))(xs)

    return np.asarray(values(state, jnp.asarray(xs)))


def _without_constant(expr: sympy.Expr) -> sympy.Expr:
    return sympy.Add(*(t for t in sympy.Add.make_args(expr) if not t.is_number))


def _read(quantity, values, kan, xs, names, *, method, degree, threshold, drop, extra=None):
    """Polynomial of the learned scalar (``values`` at ``xs``), constant term removed."""
    if method == "direct":
        fit = fit_polynomial(xs, values, names=names, degree=degree, threshold=threshold)
        expression = fit.expression
    elif method == "symbolic":
        if not isinstance(kan, KAN):
            raise ConfigError(
                f"read_{'hamiltonian' if quantity == 'H' else 'lagrangian'}: method='symbolic' "
                f"needs a KAN approximator, got {type(kan).__name__}; use method='direct'"
            )
        expression = symbolic_formula(
            kan, xs, names=names, degree=degree, threshold=threshold, drop=drop
        ).expression
        if extra is not None:
            expression = sympy.expand(expression + extra)
    else:
        raise ConfigError(f"method must be 'direct' or 'symbolic', got {method!r}")
    prediction = _evaluate(expression, sympy.symbols(names), xs)
    return _without_constant(expression), r_squared(values, prediction)


def read_hamiltonian(
    model,
    data,
    *,
    names: Sequence[str] = ("q", "p"),
    method: str = "direct",
    degree: int = 4,
    threshold: float = 1e-2,
    drop: float = 1e-6,
    points: int = 41,
) -> PhysicsReadout:
    r"""Read the learned Hamiltonian H_θ(q, p) of an HNN or dissipative HNN as a polynomial.

    H_θ is defined only up to an additive constant (the dynamics see ∇H), which is dropped;
    derivative matching fixes its scale, so the other coefficients are absolute: for the
    Duffing oscillator expect H = α/2·q² + β/4·q⁴ + 1/2·p² (:func:`duffing_coefficients`).

    - ``method="direct"`` (default, robust, any approximator): samples of H_θ at the states
      are fitted by :func:`fit_polynomial` (STLSQ on all monomials of (q, p) up to ``degree``).
    - ``method="symbolic"`` (KAN only): the edge-by-edge formula of :func:`symbolic_formula`
      with polynomial edges; exact in structure for a one-layer KAN, but for a [2, n, 1] KAN
      the composed degree-4 edge fits give high-order cross terms that cancel only as well as
      the edges are fitted (removed below ``drop``).

    Args:
        model: :class:`~physnet.HNN` or :class:`~physnet.DissipativeHNN`.
        data: where to sample: :class:`~physnet.Trajectories` (their states), an array of
            states ``(n, 2N)``, or a box, a ``(2N, 2)`` array of (low, high) per coordinate
            (2N <= 3), sampled on a grid of ``points`` per coordinate.
        names: the coordinates' names, q's first.
        method: ``"direct"`` or ``"symbolic"``.
        degree: total polynomial degree.
        threshold: STLSQ's relative threshold.
        drop: for ``"symbolic"``, the relative size of terms removed.
        points: grid points per coordinate for a box.

    Returns:
        :class:`PhysicsReadout` with ``quantity="H"`` and ``scale=1``.

    Raises:
        ConfigError: for another model, or ``"symbolic"`` without a KAN. DataError: on bad
            samples.
    """
    if not (hasattr(model, "hamiltonian") and hasattr(model, "energy")):
        raise ConfigError(
            f"read_hamiltonian: model must be an HNN or DissipativeHNN, got {type(model).__name__}"
        )
    d = model.state_size
    names = _check_names(names, d, "names", "read_hamiltonian")
    xs = _state_samples(data, d, points, "read_hamiltonian")
    values = _scalar_values(lambda m, y: m.energy(y), model, xs)
    expression, r2 = _read(
        "H",
        values,
        model.hamiltonian,
        xs,
        names,
        method=method,
        degree=degree,
        threshold=threshold,
        drop=drop,
    )
    return PhysicsReadout(
        quantity="H",
        expression=expression,
        coefficients=_coefficients(expression),
        formula=f"H = {_round(expression, 6)} + const",
        r2=r2,
        method=method,
        scale=1.0,
        names=names,
    )


def _monomial_derivative(xs: np.ndarray, exponents, wrt: Sequence[int]) -> np.ndarray:
    """∂^k/∂x_{wrt[0]}⋯∂x_{wrt[-1]} of the monomial Π_j x_j^{e_j} at the samples ``xs``."""
    e = np.array(exponents, dtype=np.int64)
    factor = 1.0
    for j in wrt:
        if e[j] == 0:
            return np.zeros(xs.shape[0])
        factor *= e[j]
        e[j] -= 1
    return factor * np.prod(xs ** e[None, :], axis=-1)


def _lagrangian_exponents(d: int, degree: int, gauge_free: bool) -> list[tuple[int, ...]]:
    """Exponents of the non-constant monomials of (q, q̇) up to total ``degree``, without the
    terms f(q)·q̇ (q̇-degree exactly 1) when ``gauge_free`` (one degree of freedom)."""
    n = d // 2
    return [
        e
        for total in range(1, degree + 1)
        for e in itertools.product(range(total + 1), repeat=d)
        if sum(e) == total and not (gauge_free and sum(e[n:]) == 1)
    ]


def _el_parts(xs: np.ndarray, exponents, coef: np.ndarray, n: int):
    """∂P/∂q (s, n), ∂²P/∂q̇_i∂q̇_j (s, n, n) and ∂²P/∂q̇_i∂q_j (s, n, n) of the polynomial
    P = Σ_k coef_k·monomial_k."""
    s = xs.shape[0]
    grad_q, m_vv, m_vq = np.zeros((s, n)), np.zeros((s, n, n)), np.zeros((s, n, n))
    for c, e in zip(coef, exponents, strict=True):
        if c == 0.0:
            continue
        for i in range(n):
            grad_q[:, i] += c * _monomial_derivative(xs, e, (i,))
            for j in range(n):
                m_vv[:, i, j] += c * _monomial_derivative(xs, e, (n + i, n + j))
                m_vq[:, i, j] += c * _monomial_derivative(xs, e, (n + i, j))
    return grad_q, m_vv, m_vq


def _read_lagrangian_dynamics(model, xs, names, degree, threshold, normalize):
    r"""Sparse polynomial P(q, q̇) whose Euler-Lagrange equations reproduce the model's
    accelerations on ``xs``; see :func:`read_lagrangian`. Returns (expression, r2, scale)."""
    function = "read_lagrangian"
    d = xs.shape[1]
    n = d // 2
    graphdef, state = nnx.split(model)

    @jax.jit
    def accel_and_mass(state, xs):
        m = nnx.merge(graphdef, state)
        acc = jax.vmap(lambda y: m.acceleration(y[:n], y[n:]))(xs)
        return acc, jax.vmap(m.mass_matrix)(xs)

    acc, mass = (np.asarray(a) for a in accel_and_mass(state, jnp.asarray(xs)))
    ok = np.isfinite(acc).all(axis=1)
    if not ok.any():
        raise DataError(
            f"{function}: the model's acceleration is not finite at any sample (singular mass "
            "matrix); check it with LNN.check_mass_matrix"
        )
    xs, acc, mass = xs[ok], acc[ok], mass[ok]
    exponents = _lagrangian_exponents(d, degree, gauge_free=n == 1)
    lead = tuple(2 if j == n else 0 for j in range(d))  # q̇_1²
    if lead not in exponents:
        raise ConfigError(f"{function}: method='dynamics' needs degree >= 2, got {degree}")
    v = xs[:, n:]

    def residual_columns(e):  # (E-L residual of the monomial) for every component i
        cols = []
        for i in range(n):
            r = -_monomial_derivative(xs, e, (i,))
            for j in range(n):
                r = r + _monomial_derivative(xs, e, (n + i, n + j)) * acc[:, j]
                r = r + _monomial_derivative(xs, e, (n + i, j)) * v[:, j]
            cols.append(r)
        return np.concatenate(cols)

    # the overall scale is free: fix the q̇_1² coefficient and regress the others on it
    lead_value = 0.5 if normalize else 0.5 * float(np.mean(mass[:, 0, 0]))
    rest = [e for e in exponents if e != lead]
    features = np.stack([residual_columns(e) for e in rest], axis=1)
    target = -lead_value * residual_columns(lead)
    coef_rest = stlsq(features, target, threshold=threshold)
    coef = np.array([lead_value] + list(coef_rest))
    exponents = [lead, *rest]
    grad_q, m_vv, m_vq = _el_parts(xs, exponents, coef, n)
    try:
        predicted = np.linalg.solve(m_vv, (grad_q - np.einsum("sij,sj->si", m_vq, v))[..., None])
        r2 = r_squared(acc.ravel(), predicted[..., 0].ravel())
    except np.linalg.LinAlgError:
        r2 = float("nan")
    symbols = sympy.symbols(names)
    expression = sympy.Add(
        *(
            sympy.Float(c) * sympy.Mul(*(s**k for s, k in zip(symbols, e, strict=True)))
            for c, e in zip(coef, exponents, strict=True)
            if c != 0.0
        )
    )
    scale = 0.5 / (0.5 * float(np.mean(mass[:, 0, 0]))) if normalize else 1.0
    return expression, r2, scale


def _split_gauge(expression: sympy.Expr, symbols, n: int):
    """(expression without its f(q)·q̇ terms, those terms) for one degree of freedom."""
    if n != 1:
        return expression, sympy.Integer(0)
    qdot = symbols[1]
    kept, gauge = [], []
    for term in sympy.Add.make_args(sympy.expand(expression)):
        (gauge if sympy.degree(term, qdot) == 1 else kept).append(term)
    return sympy.Add(*kept), sympy.Add(*gauge)


def read_lagrangian(
    model,
    data,
    *,
    names: Sequence[str] | None = None,
    method: str = "dynamics",
    degree: int = 4,
    threshold: float = 1e-2,
    drop: float = 1e-6,
    points: int = 41,
    normalize: bool = True,
) -> PhysicsReadout:
    r"""Read the Lagrangian of an LNN as a polynomial, up to what the dynamics cannot see.

    L is the model's full Lagrangian, :meth:`~physnet.LNN.lagrangian_at` (with a kinetic
    reference term k/2·|q̇|² when the LNN has ``kinetic=k > 0``; it is part of the model's L).
    For the Duffing oscillator expect L = q̇²/2 - α/2·q² - β/4·q⁴
    (:func:`duffing_coefficients`).

    **What the data determine.** The Euler-Lagrange equations, hence the dynamics and the
    loss, do not change under

    - L -> c·L and L -> L + const: the constant is dropped and, with ``normalize=True``, the
      formula is scaled to a coefficient 1/2 of the first velocity squared;
    - L -> L + d/dt F(q) = L + ∇F(q)·q̇ (a total time derivative). With one degree of freedom
      *every* term f(q)·q̇ is one (F = ∫f dq): such terms are removed from the formula and
      reported in :attr:`PhysicsReadout.gauge_terms`. (With several, f(q)·q̇ is a total
      derivative only if f is a gradient, so nothing is removed.)
    - and, beyond these, with one degree of freedom and a conservative force: any L' with
      ∂²L'/∂q̇² = φ(E) for a function φ of the energy E gives the same equations (the 1-DOF
      inverse problem of the calculus of variations, Darboux/Helmholtz), e.g. for the
      harmonic oscillator L' = q̇⁴/12 + ω²q²q̇²/2 - ω⁴q⁴/4. So the learned L_θ may contain
      components that no data can fix, and its *values* need not be c·L_true.

    Methods:

    - ``"dynamics"`` (default, any approximator): fit what the dynamics determine. The
      model's accelerations q̈_θ at the samples are computed, and the sparse polynomial P of
      total degree <= ``degree`` (terms f(q)·q̇ excluded for one degree of freedom, the
      q̇_1² coefficient fixed) is found by STLSQ on the Euler-Lagrange residual,
      Σ_j P_{q̇_i q̇_j} q̈_θj + Σ_j P_{q̇_i q_j} q̇_j - P_{q_i} ≈ 0, which is linear in P's
      coefficients. Sample where the data are (pass the training
      :class:`~physnet.Trajectories`): that is where the accelerations were fitted. Within
      degree 4 the Duffing L is the unique solution up to scale and gauge (φ(E)-Lagrangians
      of the Duffing oscillator have degree >= 6); at higher ``degree`` the fit can mix them
      in, so keep the degree at the physics' own. ``r2`` compares the formula's
      accelerations with the model's.
    - ``"direct"``: sparse regression of the values of L_θ at the samples on all monomials
      (:func:`fit_polynomial`), then gauge terms removed. Sensitive to the unidentifiable
      components above and to where L_θ is poorly constrained (sample on a box where the
      data are dense rather than on high-energy outliers).
    - ``"symbolic"`` (KAN only): the composed edge formulas (:func:`symbolic_formula`).

    Measured on E5's [2, 10, 1] KAN Lagrangian (Duffing α = 1/2, β = 1/4, seed 0, train MSE
    1.4e-5), errors of the q² and q⁴ coefficient ratios: ``"direct"`` on a grid over the
    central 95 % box 0.55 % and 1.9 % (on the training states 8.7 % and 12 %); a
    least-squares fit of P to ∇L_θ on the box 0.4 % and 0.9 % (on the states 5 % and 4 %);
    ``"dynamics"`` on the training states < 0.01 % for both (on the box 0.04 %, 0.08 %).

    Args:
        model: :class:`~physnet.LNN`.
        data: :class:`~physnet.Trajectories`, states ``(n, 2N)`` or a box (see
            :func:`read_hamiltonian`).
        names: coordinate names, q's first (default ``("q", "qdot")`` for one degree of
            freedom, ``q1.., qdot1..`` otherwise).
        method: ``"dynamics"``, ``"direct"`` or ``"symbolic"``.
        degree, threshold, drop, points: see :func:`read_hamiltonian` (STLSQ's relative
            threshold also for ``"dynamics"``).
        normalize: rescale to a q̇_1² coefficient of 1/2. Without it, ``"direct"`` and
            ``"symbolic"`` keep L_θ's own scale, ``"dynamics"`` the mean of ∂²L_θ/∂q̇_1²
            over the samples.

    Returns:
        :class:`PhysicsReadout` with ``quantity="L"``, ``scale`` the factor applied and
        ``gauge_terms`` the total-derivative terms removed.

    Raises:
        ConfigError: for another model or a bad option. DataError: if ``normalize`` and the
            learned L has no q̇_1² term, or if the accelerations are not finite anywhere.

    Reference: Cranmer et al. (2020), "Lagrangian Neural Networks", arXiv:2003.04630;
    Douglas (1941), "Solution of the inverse problem of the calculus of variations", Trans.
    AMS 50 (non-uniqueness of Lagrangians).
    """
    if not (hasattr(model, "lagrangian_at") and hasattr(model, "lagrangian")):
        raise ConfigError(f"read_lagrangian: model must be an LNN, got {type(model).__name__}")
    if method not in ("dynamics", "direct", "symbolic"):
        raise ConfigError(
            f"read_lagrangian: method must be 'dynamics', 'direct' or 'symbolic', got {method!r}"
        )
    d = model.state_size
    n = d // 2
    if names is None:
        names = (
            ("q", "qdot")
            if n == 1
            else tuple([f"q{i + 1}" for i in range(n)] + [f"qdot{i + 1}" for i in range(n)])
        )
    names = _check_names(names, d, "names", "read_lagrangian")
    xs = _state_samples(data, d, points, "read_lagrangian")
    symbols = sympy.symbols(names)
    if method == "dynamics":
        if not isinstance(degree, int) or isinstance(degree, bool) or degree < 1:
            raise ConfigError(f"read_lagrangian: degree must be an integer >= 1, got {degree!r}")
        threshold = _check_option(threshold, 0.0, 1.0, "threshold", "read_lagrangian")
        expression, r2, scale = _read_lagrangian_dynamics(
            model, xs, names, degree, threshold, normalize
        )
        gauge = sympy.Integer(0)
    else:
        values = _scalar_values(lambda m, y: m.lagrangian_at(y[:n], y[n:]), model, xs)
        kinetic = sum((s**2 for s in symbols[n:]), sympy.Integer(0)) * model.kinetic / 2
        expression, r2 = _read(
            "L",
            values,
            model.lagrangian,
            xs,
            names,
            method=method,
            degree=degree,
            threshold=threshold,
            drop=drop,
            extra=kinetic,
        )
        expression, gauge = _split_gauge(expression, symbols, n)
        scale = 1.0
        if normalize:
            key = str(symbols[n] ** 2)
            leading = _coefficients(expression).get(key, 0.0)
            if leading == 0.0:
                raise DataError(
                    f"read_lagrangian: the learned L has no {key} term, so it cannot be "
                    "normalised (pass normalize=False)"
                )
            scale = 0.5 / leading
            expression = sympy.expand(expression * scale)
            gauge = sympy.expand(gauge * scale)
    return PhysicsReadout(
        quantity="L",
        expression=expression,
        coefficients=_coefficients(expression),
        formula=f"L = {_round(expression, 6)} + const",
        r2=r2,
        method=method,
        scale=scale,
        names=names,
        gauge_terms=_coefficients(gauge) if gauge != 0 else {},
    )


def read_damping(model) -> float:
    """The learned damping γ of a :class:`~physnet.DissipativeHNN` in the small-friction form
    (dp/dt = -∂H/∂q - γ ∂H/∂p; γ for q̈ = ... - γ q̇ when H = p²/2 + V(q)).

    Raises:
        ConfigError: for another model or the general dissipative form.
    """
    if not (hasattr(model, "gamma") and hasattr(model, "form")):
        raise ConfigError(
            f"read_damping: model must be a DissipativeHNN, got {type(model).__name__}"
        )
    return float(model.gamma)


def duffing_coefficients(
    alpha: float, beta: float, *, kind: str = "hamiltonian", names: Sequence[str] | None = None
) -> dict[str, float]:
    r"""The true coefficients of the Duffing oscillator's H or L (constant omitted).

    H = α/2·q² + β/4·q⁴ + 1/2·p² (``kind="hamiltonian"``, names default ``("q", "p")``);
    L = 1/2·q̇² - α/2·q² - β/4·q⁴ (``kind="lagrangian"``, names default ``("q", "qdot")``).
    Keys are the monomials as :func:`read_hamiltonian` / :func:`read_lagrangian` write them.
    """
    if kind not in ("hamiltonian", "lagrangian"):
        raise ConfigError(
            f"duffing_coefficients: kind must be 'hamiltonian' or 'lagrangian', got {kind!r}"
        )
    default = ("q", "p") if kind == "hamiltonian" else ("q", "qdot")
    q, v = sympy.symbols(_check_names(names or default, 2, "names", "duffing_coefficients"))
    sign = 1.0 if kind == "hamiltonian" else -1.0
    return {
        str(q**2): sign * alpha / 2,
        str(q**4): sign * beta / 4,
        str(v**2): 0.5,
    }


def coefficient_errors(recovered: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    r"""Relative error of every recovered coefficient against the truth, term by term.

    For a term of the truth, |ĉ - c| / |c| (1 if the term was not recovered). For a term
    recovered but absent from the truth (a spurious term; the constant ``"1"`` is ignored),
    |ĉ| / max |c| over the true coefficients.

    Args:
        recovered: monomial -> coefficient, e.g. :attr:`PhysicsReadout.coefficients`.
        truth: monomial -> coefficient, e.g. :func:`duffing_coefficients`.

    Returns:
        monomial -> relative error.
    """
    if not truth or any(c == 0 for c in truth.values()):
        raise ConfigError(f"coefficient_errors: truth must be non-zero coefficients, got {truth!r}")
    scale = max(abs(c) for c in truth.values())
    errors = {k: abs(recovered.get(k, 0.0) - c) / abs(c) for k, c in truth.items()}
    for k, c in recovered.items():
        if k not in truth and k != "1":
            errors[k] = abs(c) / scale
    return errors
