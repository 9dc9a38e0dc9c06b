r"""Symbolic formulas from KANs, edge by edge (the overview of the symbolic read-outs).

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
:func:`duffing_coefficients`. Modules: route 1 here, route 2 in ``_polynomial``, the
read-outs in ``_readout`` (H, γ, Duffing coefficients) and ``_lagrangian`` (L), shared sympy
helpers in ``_expressions``.

References: Liu et al. (2024), "KAN: Kolmogorov-Arnold Networks", arXiv:2404.19756; Brunton,
Proctor & Kutz (2016), "Discovering governing equations from data by sparse identification
of nonlinear dynamical systems", PNAS 113; Greydanus et al. (2019), "Hamiltonian Neural
Networks"; Cranmer et al. (2020), "Lagrangian Neural Networks".
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import sympy
from flax import nnx

from .._checks import integer
from .._errors import ConfigError, DataError
from ..approximators import KAN
from ._expressions import (
    _as_samples,
    _check_names,
    _check_option,
    _coefficients,
    _drop_small,
    _evaluate,
    _round,
    _terms,
)
from ._library import (
    WEIGHT_SIMPLE,
    FunctionFit,
    fit_library,
    fit_sparse_polynomial,
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
        coefficients, formula = _summary(expressions, self.output_names, digits)
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


def _summary(expressions, output_names, digits: int) -> tuple[dict[str, float], str]:
    """The coefficients and the printed formula of one or several output expressions."""
    if len(expressions) == 1:
        return _coefficients(expressions[0]), str(_round(expressions[0], digits))
    coefficients = {
        f"{name}: {k}": v
        for name, e in zip(output_names, expressions, strict=True)
        for k, v in _coefficients(e).items()
    }
    formula = "; ".join(
        f"{name} = {_round(e, digits)}" for name, e in zip(output_names, expressions, strict=True)
    )
    return coefficients, formula


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
    integer(function, "degree", degree, low=1)
    threshold = _check_option(threshold, 0.0, 1.0, "threshold", function)
    drop = _check_option(drop, 0.0, 1.0, "drop", function)
    integer(function, "digits", digits, low=1)
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
    coefficients, formula = _summary(expressions, output_names, digits)
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
