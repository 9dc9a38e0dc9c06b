"""Kolmogorov-Arnold network with B-spline edges (the network, and the grid update of every
KAN inside a model; the grid algorithms live in :mod:`._kan_grid`)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import integer
from .._errors import ConfigError
from . import _kan_grid
from ._activations import get_activation
from ._base import AbstractApproximator
from ._bspline import (
    bspline_eval,
    grid_bounds,
    grid_size,
)
from ._kan_grid import Grid, GridChange


class EdgeMask(nnx.Variable):
    """The active (1) and pruned (0) edges of a KAN layer, never trained.

    Which edges of a KAN layer are active (1) or pruned (0): saved and restored, never
    trained (see :func:`physnet.interpret.prune`)."""


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
            n_add = integer("KAN", "widths (addition nodes)", entry[0], low=0)
            n_mult = integer("KAN", "widths (multiplication nodes)", entry[1], low=0)
        else:
            n_add, n_mult = integer("KAN", "widths", entry, low=1), 0
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
    t_i. The coefficients are converted to piecewise-polynomial form once per call (shared by
    a batch), and each input then reads its interval's k + 1 monomial coefficients and runs
    Horner's rule, so the cost per point does not grow with G (see :mod:`._bspline`).

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
    each side. The spline is evaluated as the one cubic polynomial of the interval holding the
    input (piecewise-polynomial form, converted from the coefficients once per call), so the
    cost per point does not grow with G, and first and second input derivatives (for ∇H and
    Hessians of L, which are differentiated again in training) are exact and cheap.

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
        grid = integer("KAN", "grid", grid, low=1)
        order = integer("KAN", "order", order, low=1)
        mult_arity = integer("KAN", "mult_arity", mult_arity, low=2)
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
        the range on each side, plus 1e-9 of the range so that no sample sits exactly on a
        grid end, where the continued spline is only C¹ (uniform, or mixed with quantiles
        when ``grid_eps < 1``). Each edge's spline is refitted by float64 least squares to
        the old edge function (its linear continuation included) on 8 Gauss-Legendre points
        per new interval; the base term does not depend on the grid. G and the parameter
        shapes stay the same, so training can go on with the same optimizer state. An input
        whose samples are all equal keeps its grid.

        Args:
            xs: samples of the network's input, shape ``(n, in_features)``, finite.
            margin: fraction of each range added on both sides (>= 0).

        Returns:
            :class:`GridChange`; ``output_change`` is measured on ``xs``.
        """
        return _kan_grid.update_grid(self, xs, margin=margin)

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
        return _kan_grid.refine(self, integer("KAN", "grid", grid, low=1), xs)

    def activation_names(self) -> tuple[str, ...]:
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


def update_grids_traced(module: nnx.Module, xs: Array, *, margin: float = 0.0) -> None:
    """Update the grids of every matching KAN in a module, inside ``jax.jit``.

    :func:`update_grids` inside ``jax.jit``: :func:`update_grid_traced` on every KAN inside
    ``module`` whose input size is ``xs.shape[1]``, in place."""
    for _, node in nnx.iter_graph(module):
        if isinstance(node, KAN) and xs.ndim == 2 and xs.shape[1] == node.in_features:
            _kan_grid.update_grid_traced(node, xs, margin=margin)
