"""Kolmogorov-Arnold network with B-spline edges, grid update and grid extension."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ._activations import get_activation
from ._base import AbstractApproximator
from ._bspline import (
    bspline_basis,
    bspline_eval,
    grid_bounds,
    grid_size,
)

#: Gauss-Legendre nodes per grid interval used to refit splines after a grid change
_FIT_NODES = 8


class Grid(nnx.Variable):
    """Knot vectors of a KAN layer: state that is saved and restored but never trained."""


class EdgeMask(nnx.Variable):
    """Which edges of a KAN layer are active (1) or pruned (0): saved and restored, never
    trained (see :func:`physnet.interpret.prune`)."""


@dataclasses.dataclass(frozen=True)
class GridChange:
    """What a grid update or extension did to a :class:`KAN`.

    Attributes:
        grid: the number of grid intervals G after the change.
        previous_grid: G before the change.
        edge_residual: per layer, the largest change of any edge function over the new grid
            ranges (max over edges of ``|w_s| · max_x |s_new(x) - s_old(x)|``, measured on
            ``8`` Gauss-Legendre points per interval); ~1e-15 when the change is exact.
        output_change: largest ``|KAN_new(x) - KAN_old(x)|`` over the samples passed to the
            method (``nan`` if none were passed).
        condition: per layer, the largest condition number of the least-squares collocation
            matrices (small means a well-posed refit).
        exact: the new spline space contains the old one on every grid (:meth:`KAN.refine`
            by an integer factor keeps the old breakpoints), so only rounding changes the
            function; ``False`` for :meth:`KAN.update_grid`.
        coefficient_maps: per layer, the linear maps ``(in, G' + k, G + k)`` taking each
            input's old spline coefficients to its new ones (used by
            :func:`remap_optimizer_state`).
    """

    grid: int
    previous_grid: int
    edge_residual: tuple[float, ...]
    output_change: float
    condition: tuple[float, ...]
    exact: bool
    coefficient_maps: tuple[Array, ...] = dataclasses.field(repr=False)

    @property
    def residual(self) -> float:
        """The largest edge residual over all layers."""
        return max(self.edge_residual)


def _check_int(name: str, value, low: int) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
        raise ConfigError(f"KAN: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _parse_widths(widths) -> list[tuple[int, int]]:
    """``[2, 5, 1]`` or ``[2, [0, 1], 1]`` -> ``[(n_add, n_mult), ...]``."""
    if isinstance(widths, str) or not isinstance(widths, Sequence) or len(widths) < 2:
        raise ConfigError(f"KAN: widths must be a list of at least two layer sizes, got {widths!r}")
    nodes = []
    for entry in widths:
        if isinstance(entry, Sequence) and not isinstance(entry, str):
            if len(entry) != 2:
                raise ConfigError(
                    f"KAN: a width entry must be an integer or [n_add, n_mult], got {entry!r}"
                )
            n_add = _check_int("widths (addition nodes)", entry[0], 0)
            n_mult = _check_int("widths (multiplication nodes)", entry[1], 0)
        else:
            n_add, n_mult = _check_int("widths", entry, 1), 0
        if n_add + n_mult < 1:
            raise ConfigError(f"KAN: every layer needs at least one node, got {entry!r}")
        nodes.append((n_add, n_mult))
    if nodes[0][1]:
        raise ConfigError(f"KAN: the input layer cannot have multiplication nodes, got {widths!r}")
    return nodes


# jitted so that eager calls compile once per shape; inlined when traced inside jit/grad/vmap
@functools.partial(jax.jit, static_argnums=(5, 6, 7))
def _edges(x, knots, coef, scale_base, scale_spline, order, uniform, activation):
    base = get_activation(activation)(x)[:, None] * scale_base
    return base + scale_spline * bspline_eval(x, knots, coef, order, uniform=uniform)


@functools.partial(jax.jit, static_argnums=(5, 6, 7))
def _layer(x, knots, coef, scale_base, scale_spline, order, uniform, activation):
    base = get_activation(activation)(x) @ scale_base
    splines = bspline_eval(x, knots, coef, order, uniform=uniform)
    return base + jnp.einsum("io,io->o", scale_spline, splines)


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _random_init(key_base, key_coef, shape, grid, order, dtype):
    """w_b uniform in ±1/√in; spline coefficients uniform in ±0.25/G (small random splines)."""
    scale_base = jax.random.uniform(key_base, shape, dtype, -1.0, 1.0) / math.sqrt(shape[0])
    noise = jax.random.uniform(key_coef, (shape[0], grid + order, shape[1]), dtype, -0.5, 0.5)
    return scale_base, 0.5 * noise / grid


class KANLayer(nnx.Module):
    r"""One KAN layer: a learnable 1-D function on every edge, summed at the outputs.

    .. math::
        y_o = \sum_i φ_{io}(x_i), \qquad
        φ_{io}(x) = w^b_{io}\, b(x) + w^s_{io} \sum_m c_{i m o} B_{m,k}(x; t_i)

    with b the base activation (SiLU) and B_{m,k} the B-splines of order k on input i's knots
    t_i. Evaluated from the k + 1 non-zero basis functions of each input and one einsum,
    ``(in, k+1) x (in, k+1, out)``, so the cost does not grow with G.

    A non-trainable :class:`EdgeMask` ``(in, out)`` of ones multiplies every φ_{io}; pruning
    sets entries to 0, which makes those edges exactly zero (kept by checkpoints, by
    :meth:`KAN.refine` and by :meth:`KAN.update_grid`).

    Args:
        in_features, out_features: sizes.
        grid: intervals G per input.
        order: spline order k.
        grid_range: initial ``(a, b)`` of every input's grid.
        base_activation: name of the base function b.
        uniform: the grids stay uniform (faster interval search).
        param_dtype: dtype of parameters and grids.
        rngs: random streams.

    Shapes: ``(in_features,) -> (out_features,)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        grid: int,
        order: int,
        grid_range: tuple[float, float],
        base_activation: str,
        uniform: bool,
        param_dtype,
        rngs: nnx.Rngs,
    ):
        self.in_features = in_features
        self.out_features = out_features
        self.order = order
        self.uniform = uniform
        get_activation(base_activation)
        self.base_activation = base_activation
        lo, hi = grid_range
        steps = np.arange(-order, grid + order + 1) / grid
        knots = np.broadcast_to(lo + (hi - lo) * steps, (in_features, steps.shape[0]))
        self.knots = Grid(jnp.asarray(knots, dtype=param_dtype))
        fan = 1.0 / math.sqrt(in_features)
        shape = (in_features, out_features)
        scale_base, coef = _random_init(
            rngs.params(), rngs.params(), shape, grid, order, jnp.dtype(param_dtype)
        )
        self.scale_base = nnx.Param(scale_base)
        self.scale_spline = nnx.Param(jnp.full(shape, fan, dtype=param_dtype))
        self.coef = nnx.Param(coef)
        self.mask = EdgeMask(jnp.ones(shape, dtype=param_dtype))

    @property
    def grid(self) -> int:
        return grid_size(self.knots[...], self.order)

    def _arrays(self):
        mask = self.mask[...]  # a pruned edge is exactly zero: both its scales are masked
        return (
            self.knots[...],
            self.coef[...],
            self.scale_base[...] * mask,
            self.scale_spline[...] * mask,
        )

    def edges(self, x: Array) -> Array:
        """Every edge function φ_{io}(x_i), shape ``(in_features, out_features)``."""
        return _edges(x, *self._arrays(), self.order, self.uniform, self.base_activation)

    def __call__(self, x: Array) -> Array:
        return _layer(x, *self._arrays(), self.order, self.uniform, self.base_activation)

    def out_of_grid(self, x: Array) -> Array:
        """Which inputs lie outside their grid ``[a_i, b_i]``, shape ``(in_features,)``."""
        a, b = grid_bounds(self.knots[...], self.order)
        return (x < a) | (x > b)


class KAN(AbstractApproximator):
    r"""Kolmogorov-Arnold network (Liu et al., 2024) acting on one input vector.

    Layer l maps its n_l input nodes to the next layer's nodes with a learnable 1-D function
    on every edge,

    .. math::
        x^{(l+1)}_o = \sum_i φ^{(l)}_{io}(x^{(l)}_i), \qquad
        φ(x) = w_b \,\mathrm{silu}(x) + w_s \sum_{m=0}^{G+k-1} c_m B_{m,k}(x),

    with cubic (order k) B-splines on a per-input grid of G intervals, extended by k knots
    each side. The spline is evaluated from its k + 1 non-zero pieces, so the cost does not
    grow with G and first and second input derivatives (for ∇H and Hessians of L, which are
    differentiated again in training) are exact and cheap.

    **Widths.** ``widths`` lists the node counts, input first: ``[2, 5, 1]``. An entry
    ``[n_add, n_mult]`` makes a layer with ``n_add`` addition nodes and ``n_mult``
    multiplication nodes (pykan's MultKAN): the previous layer then produces
    ``n_add + mult_arity * n_mult`` sums, and each multiplication node outputs the product of
    ``mult_arity`` consecutive ones. ``KAN([2, [0, 1], 1])`` can represent x·y exactly in the
    limit: one multiplication node fed by φ(x) ≈ x and φ(y) ≈ y.

    **Outside the grid** each spline continues as its tangent line at the nearer grid end
    (value and slope continuous, C¹), and the SiLU base continues as it is: the function stays
    smooth and grows at most linearly; it never drops to zero. Count how often inputs leave the
    grids with :meth:`out_of_grid_fraction` (for example on a rollout's states).

    **Grids** are non-trainable :class:`Grid` variables (saved in checkpoints, ignored by
    :func:`physnet.fit`). :meth:`update_grid` moves them to the range of sample inputs and
    :meth:`refine` extends G; both refit the spline coefficients by float64 least squares
    and return a :class:`GridChange` with the residual. ``refine`` changes parameter shapes,
    so continue training with a fresh optimizer state (``pn.fit`` makes one on every call) or
    carry Adam's moments over with :func:`remap_optimizer_state`.

    Args:
        widths: node counts per layer, input first (see above), at least two entries.
        grid: grid intervals G per input (>= 1).
        order: spline order k (>= 1; 3 is cubic).
        grid_range: the initial ``(a, b)`` of every grid.
        base_activation: base function name (``"silu"`` default, see ``ACTIVATIONS``).
        mult_arity: inputs of each multiplication node (>= 2).
        grid_eps: how :meth:`update_grid` places knots: 1 (default) keeps every grid uniform
            on the sample range (fastest evaluation, exact refinement); a value in (0, 1)
            mixes in sample quantiles, ``grid_eps·uniform + (1 - grid_eps)·quantile``, as
            pykan does.
        param_dtype: parameter and grid dtype (float64 by default).
        rngs: random streams for initialisation (keyword-only, required).

    Shapes: ``(in_features,) -> (out_features,)``.

    Raises:
        ConfigError: on invalid widths, grid, order, grid_range, activation or grid_eps.

    Reference: Liu et al. (2024), KAN: Kolmogorov-Arnold Networks, arXiv:2404.19756; Liu et
    al. (2024), KAN 2.0 (multiplication nodes), arXiv:2408.10205.
    """

    def __init__(
        self,
        widths: Sequence[int | Sequence[int]],
        *,
        grid: int = 5,
        order: int = 3,
        grid_range: Sequence[float] = (-1.0, 1.0),
        base_activation: str = "silu",
        mult_arity: int = 2,
        grid_eps: float = 1.0,
        param_dtype=jnp.float64,
        rngs: nnx.Rngs,
    ):
        nodes = _parse_widths(widths)
        grid = _check_int("grid", grid, 1)
        order = _check_int("order", order, 1)
        mult_arity = _check_int("mult_arity", mult_arity, 2)
        try:
            lo, hi = (float(v) for v in grid_range)
        except (TypeError, ValueError):
            raise ConfigError(
                f"KAN: grid_range must be two numbers (a, b), got {grid_range!r}"
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ConfigError(f"KAN: grid_range must be finite with a < b, got {grid_range!r}")
        if not (isinstance(grid_eps, int | float) and 0.0 < grid_eps <= 1.0):
            raise ConfigError(f"KAN: grid_eps must be in (0, 1], got {grid_eps!r}")
        get_activation(base_activation)
        self.nodes = tuple(nodes)
        self.in_features = nodes[0][0]
        self.out_features = sum(nodes[-1])
        self.grid = grid
        self.order = order
        self.grid_range = (lo, hi)
        self.base_activation = base_activation
        self.mult_arity = mult_arity
        self.grid_eps = float(grid_eps)
        self.param_dtype = jnp.dtype(param_dtype).name
        layers = []
        for (a_in, m_in), (a_out, m_out) in zip(nodes[:-1], nodes[1:], strict=True):
            layers.append(
                KANLayer(
                    a_in + m_in,
                    a_out + mult_arity * m_out,
                    grid=grid,
                    order=order,
                    grid_range=(lo, hi),
                    base_activation=base_activation,
                    uniform=self.grid_eps == 1.0,
                    param_dtype=param_dtype,
                    rngs=rngs,
                )
            )
        self.layers = nnx.List(layers)

    def _nodes_out(self, index: int, sums: Array) -> Array:
        """Layer ``index``'s node values from its sums (applies multiplication nodes)."""
        n_add, n_mult = self.nodes[index + 1]
        if not n_mult:
            return sums
        products = jnp.prod(sums[n_add:].reshape(n_mult, self.mult_arity), axis=-1)
        return jnp.concatenate([sums[:n_add], products])

    def __call__(self, x: Array) -> Array:
        if x.shape != (self.in_features,):
            raise ValueError(
                f"KAN expects one input of shape ({self.in_features},), got {x.shape}; "
                "use jax.vmap for batches"
            )
        for i, layer in enumerate(self.layers):
            x = self._nodes_out(i, layer(x))
        return x

    def layer_inputs(self, x: Array) -> list[Array]:
        """The inputs of every layer for one sample ``x`` (list of ``(n_l,)`` arrays)."""
        inputs = []
        for i, layer in enumerate(self.layers):
            inputs.append(x)
            x = self._nodes_out(i, layer(x))
        return inputs

    def out_of_grid_fraction(self, xs: Array) -> Array:
        """Fraction of edge inputs outside their grid, per layer, over a batch of samples.

        Use it on training data, or on the states of a rollout (for an energy model the KAN's
        input is the state) to see how often the learned function is extrapolating.

        Args:
            xs: samples, shape ``(n, in_features)``.

        Returns:
            Shape ``(n_layers,)``: for layer l, the fraction of (sample, input node) pairs
            that fall outside that input's grid ``[a, b]``.
        """
        xs = jnp.asarray(xs)
        if xs.ndim != 2 or xs.shape[1] != self.in_features:
            raise ValueError(
                f"out_of_grid_fraction expects samples of shape (n, {self.in_features}), "
                f"got {xs.shape}"
            )

        return _out_of_grid(*nnx.split(self), xs)

    def parameter_count(self) -> int:
        """Number of trainable parameters."""
        return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(self, nnx.Param)))

    def update_grid(self, xs: Array, *, margin: float = 0.0) -> GridChange:
        """Move every layer's grids to the range of its inputs on samples ``xs``, in place.

        Layer by layer (each with the inputs produced by the already updated layers before
        it), input i's new grid spans ``[min, max]`` of its samples widened by ``margin`` times
        the range on each side (uniform, or mixed with quantiles when ``grid_eps < 1``). Each
        edge's spline is refitted by float64 least squares to the old edge function (its
        linear continuation included) on 8 Gauss-Legendre points per new interval; the base
        term does not depend on the grid. G and the parameter shapes stay the same, so
        training can go on with the same optimizer state. An input whose samples are all
        equal keeps its grid.

        Args:
            xs: samples of the network's input, shape ``(n, in_features)``, finite.
            margin: fraction of each range added on both sides (>= 0).

        Returns:
            :class:`GridChange`; ``output_change`` is measured on ``xs``.
        """
        xs = self._check_samples(xs, "update_grid")
        if not (isinstance(margin, int | float) and margin >= 0):
            raise ConfigError(f"KAN.update_grid: margin must be >= 0, got {margin!r}")
        inputs, before = _trace(*nnx.split(self), xs)
        residuals, conditions, maps = [], [], []
        for i, layer in enumerate(self.layers):
            if i:  # the inputs as produced by the layers updated so far
                inputs, _ = _trace(*nnx.split(self), xs)
            new_knots = self._knots_from_samples(inputs[i], layer.knots[...], margin)
            res, cond, m = self._refit(layer, new_knots)
            residuals.append(res)
            conditions.append(cond)
            maps.append(m)
        _, after = _trace(*nnx.split(self), xs)
        return GridChange(
            grid=self.grid,
            previous_grid=self.grid,
            edge_residual=tuple(residuals),
            output_change=float(jnp.max(jnp.abs(after - before))),
            condition=tuple(conditions),
            exact=False,
            coefficient_maps=tuple(maps),
        )

    def refine(self, grid: int, xs: Array | None = None) -> GridChange:
        """Extend every grid to ``grid`` intervals on the same range, in place.

        The new breakpoints interpolate the old ones (uniform grids stay uniform). When
        ``grid`` is a multiple of the current G the old breakpoints are among the new ones,
        so the new spline space contains the old spline on [a, b] and the refit is exact up to
        rounding (the tangent-line continuation outside [a, b] is preserved too, since value
        and slope at a and b are). Otherwise the float64 least-squares residual is reported.
        Parameter shapes change: continue training with a fresh optimizer state, or map the
        old one with :func:`remap_optimizer_state`.

        Args:
            grid: the new number of intervals G' (>= 1).
            xs: optional samples ``(n, in_features)`` on which ``output_change`` is measured.

        Returns:
            :class:`GridChange`.
        """
        grid = _check_int("grid", grid, 1)
        before = None
        if xs is not None:
            xs = self._check_samples(xs, "refine")
            _, before = _trace(*nnx.split(self), xs)
        old_grid = self.grid
        residuals, conditions, maps = [], [], []
        position = np.linspace(0.0, old_grid, grid + 1)
        old_position = np.arange(old_grid + 1.0)
        for layer in self.layers:
            knots = np.asarray(layer.knots[...])
            breakpoints = knots[:, self.order : old_grid + self.order + 1]
            if layer.uniform:  # exactly equally spaced between the old ends
                a, b = breakpoints[:, :1], breakpoints[:, -1:]
                new_bp = a + (b - a) * (position / old_grid)[None, :]
            else:
                new_bp = np.stack([np.interp(position, old_position, bp) for bp in breakpoints])
            res, cond, m = self._refit(layer, _extend(new_bp, self.order))
            residuals.append(res)
            conditions.append(cond)
            maps.append(m)
        self.grid = grid
        output_change = float("nan")
        if xs is not None:
            output_change = float(jnp.max(jnp.abs(_trace(*nnx.split(self), xs)[1] - before)))
        return GridChange(
            grid=grid,
            previous_grid=old_grid,
            edge_residual=tuple(residuals),
            output_change=output_change,
            condition=tuple(conditions),
            exact=grid % old_grid == 0,
            coefficient_maps=tuple(maps),
        )

    def _check_samples(self, xs, method: str) -> Array:
        xs = jnp.asarray(xs, dtype=self.param_dtype)
        if xs.ndim != 2 or xs.shape[1] != self.in_features or xs.shape[0] < 1:
            raise ConfigError(
                f"KAN.{method}: samples must have shape (n, {self.in_features}) with n >= 1, "
                f"got {xs.shape}"
            )
        if not np.isfinite(np.asarray(xs)).all():
            raise ConfigError(f"KAN.{method}: samples contain NaN or infinity")
        return xs

    def _knots_from_samples(self, h: Array, knots: Array, margin: float) -> Array:
        """New knots ``(in, G + 2k + 1)`` spanning each column of ``h`` (shape ``(n, in)``)."""
        h = np.asarray(h)
        lo, hi = h.min(axis=0), h.max(axis=0)
        width = hi - lo
        lo, hi = lo - margin * width, hi + margin * width
        degenerate = width <= 1e-12 * np.maximum(1.0, np.abs(lo))
        positions = np.linspace(0.0, 1.0, self.grid + 1)
        bp = lo[:, None] + (hi - lo)[:, None] * positions[None, :]
        if self.grid_eps < 1.0:
            quantiles = np.quantile(h, positions, axis=0).T
            quantiles[:, 0], quantiles[:, -1] = lo, hi
            bp = self.grid_eps * bp + (1.0 - self.grid_eps) * quantiles
        return np.where(degenerate[:, None], np.asarray(knots), _extend(bp, self.order))

    def _refit(self, layer: KANLayer, new_knots: Array) -> tuple[float, float, Array]:
        """Refit ``layer``'s coefficients for ``new_knots`` by least squares; install both."""
        old_knots = layer.knots[...]
        new_knots = jnp.asarray(new_knots, dtype=old_knots.dtype)
        pairs = [
            _collocation(old_knots[i], new_knots[i], self.order, layer.uniform)
            for i in range(layer.in_features)
        ]
        old_basis = np.stack([np.asarray(a) for a, _ in pairs])  # (in, P, G + k)
        new_basis = np.stack([np.asarray(b) for _, b in pairs])  # (in, P, G' + k)
        # M = argmin ||A M - B_old|| per input, by QR (A has full column rank: >= k + 1 points
        # in every interval)
        q, r = np.linalg.qr(new_basis)
        maps = np.linalg.solve(r, np.swapaxes(q, -1, -2) @ old_basis)
        sv = np.linalg.svd(new_basis, compute_uv=False)
        condition = float(np.max(sv[:, 0] / sv[:, -1]))
        coef = np.asarray(layer.coef[...])
        new_coef = maps @ coef
        change = new_basis @ new_coef - old_basis @ coef
        edge_change = np.max(np.abs(change), axis=1) * np.abs(
            np.asarray(layer.scale_spline[...] * layer.mask[...])
        )
        layer.knots = Grid(new_knots)
        layer.coef = nnx.Param(jnp.asarray(new_coef, dtype=layer.coef.dtype))
        return float(np.max(edge_change)), condition, jnp.asarray(maps)

    def activations(self) -> tuple[str, ...]:
        return (self.base_activation,)

    def config(self) -> dict[str, Any]:
        return {
            "widths": [a if not m else [a, m] for a, m in self.nodes],
            "grid": self.grid,
            "order": self.order,
            "grid_range": list(self.grid_range),
            "base_activation": self.base_activation,
            "mult_arity": self.mult_arity,
            "grid_eps": self.grid_eps,
            "param_dtype": self.param_dtype,
        }


def _extend(breakpoints: np.ndarray, order: int) -> np.ndarray:
    """NumPy twin of :func:`extend_knots` (no compilation on the grid-update path)."""
    grid = breakpoints.shape[-1] - 1
    a, b = breakpoints[:, :1], breakpoints[:, -1:]
    steps = np.arange(1, order + 1)[None, :] * (b - a) / grid
    return np.concatenate([a - steps[:, ::-1], breakpoints, b + steps], axis=-1)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _collocation(old_knots: Array, new_knots: Array, order: int, uniform: bool):
    """One input's old and new dense bases ``(P, G + k)``, ``(P, G' + k)`` at refit points.

    The points are :data:`_FIT_NODES` Gauss-Legendre nodes in every interval of the new grid.
    """
    new_grid = grid_size(new_knots, order)
    nodes, _ = np.polynomial.legendre.leggauss(_FIT_NODES)
    nodes = jnp.asarray((nodes + 1.0) / 2.0, dtype=new_knots.dtype)[None, :]
    bp = new_knots[order : new_grid + order + 1]
    points = (bp[:-1, None] + (bp[1:] - bp[:-1])[:, None] * nodes).reshape(-1)
    old = bspline_basis(points, old_knots, order, uniform=uniform)
    return old, bspline_basis(points, new_knots, order, uniform=uniform)


@functools.partial(jax.jit, static_argnums=(0,))
def _trace(graphdef, state, xs: Array) -> tuple[list[Array], Array]:
    """Every layer's inputs ``[(n, n_l), ...]`` and the outputs ``(n, out)`` on a batch."""
    kan = nnx.merge(graphdef, state)
    return jax.vmap(kan.layer_inputs)(xs), jax.vmap(kan)(xs)


@functools.partial(jax.jit, static_argnums=(0,))
def _out_of_grid(graphdef, state, xs: Array) -> Array:
    kan = nnx.merge(graphdef, state)

    def flags(x):
        inputs = kan.layer_inputs(x)
        return jnp.stack(
            [jnp.mean(lay.out_of_grid(h)) for lay, h in zip(kan.layers, inputs, strict=True)]
        )

    return jnp.mean(jax.vmap(flags)(xs), axis=0)


def update_grids(module: nnx.Module, xs: Array, *, margin: float = 0.0) -> dict[str, GridChange]:
    """Call :meth:`KAN.update_grid` on every KAN inside ``module`` whose input is ``xs``.

    Every physnet model feeds its approximators the state, so for a model trained on
    trajectories pass the training states (``data.flat()[0]``) before :func:`physnet.fit`, to
    put the grids where the data are. KANs with another input size are left alone.

    Args:
        module: a model or approximator.
        xs: samples, shape ``(n, d)``.
        margin: see :meth:`KAN.update_grid`.

    Returns:
        The changes, keyed by each KAN's path in ``module`` (``""`` for ``module`` itself).
    """
    xs = jnp.asarray(xs)
    changes = {}
    for path, node in nnx.iter_graph(module):
        if isinstance(node, KAN) and xs.ndim == 2 and xs.shape[1] == node.in_features:
            changes["/".join(map(str, path))] = node.update_grid(xs, margin=margin)
    return changes


def _key_name(entry) -> Any:
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return getattr(entry, attr)
    return entry


def remap_optimizer_state(opt_state, change: GridChange, *, prefix: Sequence = ()):
    """Carry an optax state (e.g. Adam's moments) across :meth:`KAN.refine`.

    Every leaf of ``opt_state`` that belongs to the spline coefficients of layer l of the
    refined KAN (its path contains ``(*prefix, "layers", l, "coef")``) is mapped to the new
    shape; every other leaf is kept. First moments (and any other coefficient-shaped leaf)
    go through the coefficient map M of the change scaled by G/G' (a gradient with respect
    to a coefficient scales with its basis function's support); second moments (optax's
    ``nu``) go through |M| with rows normalised to one, scaled by (G/G')², so they stay
    non-negative. This is a heuristic that keeps Adam's step sizes continuous; a fresh
    ``optimizer.init(params)`` is always correct too.

    Args:
        opt_state: the optimizer state made for the parameters before the refine.
        change: what :meth:`KAN.refine` returned.
        prefix: the path of the KAN inside the trained model, e.g. ``("hamiltonian",)``
            for an :class:`~physnet.HNN`; ``()`` when the KAN itself is trained.

    Returns:
        An optimizer state for the refined parameters.
    """
    prefix = tuple(prefix)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(opt_state)
    new_leaves = []
    for path, leaf in leaves:
        names = tuple(_key_name(p) for p in path)
        new_leaves.append(_remap_leaf(names, leaf, change, prefix))
    return jax.tree_util.tree_unflatten(treedef, new_leaves)


def _remap_leaf(names: tuple, leaf, change: GridChange, prefix: tuple):
    for layer, m in enumerate(change.coefficient_maps):
        target = (*prefix, "layers", layer, "coef")
        hit = any(names[s : s + len(target)] == target for s in range(len(names)))
        if not hit or getattr(leaf, "ndim", 0) != 3 or leaf.shape[1] != m.shape[2]:
            continue
        ratio = change.previous_grid / change.grid
        if "nu" in names:
            weights = jnp.abs(m) / jnp.sum(jnp.abs(m), axis=-1, keepdims=True)
            return ratio**2 * jnp.einsum("inm,imo->ino", weights, leaf)
        return ratio * jnp.einsum("inm,imo->ino", m, leaf)
    return leaf
