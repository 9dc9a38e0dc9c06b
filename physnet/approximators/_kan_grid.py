"""Grid algorithms of the KAN: the grids, their update and refinement by least-squares refits,
and carrying an optimizer state across a refinement.

:meth:`KAN.update_grid <physnet.approximators.KAN.update_grid>` and
:meth:`KAN.refine <physnet.approximators.KAN.refine>` call :func:`update_grid` and
:func:`refine` here, and :func:`~physnet.approximators.update_grids` (beside the KAN) calls
them on every KAN inside a model; :func:`remap_optimizer_state` maps an optax state's
coefficient-shaped leaves. The functions take the KAN as an argument and know its class only
as a type, so the KAN's module imports this one without an import circle.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ._bspline import bspline_basis, grid_size

if TYPE_CHECKING:
    from ._kan import KAN, KANLayer

#: Gauss-Legendre nodes per grid interval used to refit splines after a grid change
_FIT_NODES = 8

#: a grid update widens each sample range by this fraction of it on both sides (beyond
#: ``margin``), so that no sample sits exactly on a grid end: there the linearly continued
#: spline is only C¹, and a sample on the end would take its second derivative (which an
#: HNN's or LNN's training gradient contains) from one side or the other depending on the
#: last bit of rounding, e.g. between the compiled in-loop update and the NumPy one
END_GUARD = 1e-9


class Grid(nnx.Variable):
    """Knot vectors of a KAN layer: state that is saved and restored but never trained."""


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


def update_grid(kan: KAN, xs: Array, *, margin: float = 0.0) -> GridChange:
    """Move every layer's grids of ``kan`` to the range of its inputs on ``xs``, in place
    (see :meth:`KAN.update_grid`)."""
    xs = check_samples(kan, xs, "update_grid")
    number("KAN.update_grid", "margin", margin, low=0)
    inputs, before = _trace(*nnx.split(kan), xs)
    residuals, conditions, maps = [], [], []
    for i, layer in enumerate(kan.layers):
        if i:  # the inputs as produced by the layers updated so far
            inputs, _ = _trace(*nnx.split(kan), xs)
        new_knots = _knots_from_samples(kan, inputs[i], layer.knots[...], margin)
        res, cond, m = _refit(kan, layer, new_knots)
        residuals.append(res)
        conditions.append(cond)
        maps.append(m)
    _, after = _trace(*nnx.split(kan), xs)
    return GridChange(
        grid=kan.grid,
        previous_grid=kan.grid,
        edge_residual=tuple(residuals),
        output_change=float(jnp.max(jnp.abs(after - before))),
        condition=tuple(conditions),
        exact=False,
        coefficient_maps=tuple(maps),
    )


def refine(kan: KAN, grid: int, xs: Array | None = None) -> GridChange:
    """Extend every grid of ``kan`` to ``grid`` intervals on the same range, in place (see
    :meth:`KAN.refine`, which checks ``grid``)."""
    before = None
    if xs is not None:
        xs = check_samples(kan, xs, "refine")
        _, before = _trace(*nnx.split(kan), xs)
    old_grid = kan.grid
    residuals, conditions, maps = [], [], []
    position = np.linspace(0.0, old_grid, grid + 1)
    old_position = np.arange(old_grid + 1.0)
    for layer in kan.layers:
        knots = np.asarray(layer.knots[...])
        breakpoints = knots[:, kan.order : old_grid + kan.order + 1]
        if layer.uniform:  # exactly equally spaced between the old ends
            a, b = breakpoints[:, :1], breakpoints[:, -1:]
            new_bp = a + (b - a) * (position / old_grid)[None, :]
        else:
            new_bp = np.stack([np.interp(position, old_position, bp) for bp in breakpoints])
        res, cond, m = _refit(kan, layer, _extend(new_bp, kan.order))
        residuals.append(res)
        conditions.append(cond)
        maps.append(m)
    kan.grid = grid
    output_change = float("nan")
    if xs is not None:
        output_change = float(jnp.max(jnp.abs(_trace(*nnx.split(kan), xs)[1] - before)))
    return GridChange(
        grid=grid,
        previous_grid=old_grid,
        edge_residual=tuple(residuals),
        output_change=output_change,
        condition=tuple(conditions),
        exact=grid % old_grid == 0,
        coefficient_maps=tuple(maps),
    )


def check_samples(kan: KAN, xs, method: str) -> Array:
    """``xs`` as an ``(n, in_features)`` array in the KAN's dtype, or ConfigError."""
    xs = jnp.asarray(xs, dtype=kan.param_dtype)
    if xs.ndim != 2 or xs.shape[1] != kan.in_features or xs.shape[0] < 1:
        raise ConfigError(
            f"KAN.{method}: samples must have shape (n, {kan.in_features}) with n >= 1, "
            f"got {xs.shape}"
        )
    if not np.isfinite(np.asarray(xs)).all():
        raise ConfigError(f"KAN.{method}: samples contain NaN or infinity")
    return xs


def _sample_ends(h, margin: float):
    """Per column of the samples ``h`` (a NumPy or a JAX array, shape ``(n, in)``): the new grid
    ends, ``[min, max]`` widened by ``margin + END_GUARD`` of the range on both sides, and
    whether the column is degenerate (all samples equal, so its grid is kept). One piece of
    arithmetic for the NumPy update and the traced one, so they agree to the bit."""
    lo, hi = h.min(axis=0), h.max(axis=0)
    width = hi - lo
    lo, hi = lo - (margin + END_GUARD) * width, hi + (margin + END_GUARD) * width
    return lo, hi, width <= 1e-12 * abs(lo).clip(min=1.0)


def _knots_from_samples(kan: KAN, h: Array, knots: Array, margin: float) -> Array:
    """New knots ``(in, G + 2k + 1)`` spanning each column of ``h`` (shape ``(n, in)``)."""
    h = np.asarray(h)
    lo, hi, degenerate = _sample_ends(h, margin)
    positions = np.linspace(0.0, 1.0, kan.grid + 1)
    bp = lo[:, None] + (hi - lo)[:, None] * positions[None, :]
    if kan.grid_eps < 1.0:
        quantiles = np.quantile(h, positions, axis=0).T
        quantiles[:, 0], quantiles[:, -1] = lo, hi
        bp = kan.grid_eps * bp + (1.0 - kan.grid_eps) * quantiles
    return np.where(degenerate[:, None], np.asarray(knots), _extend(bp, kan.order))


def _refit(kan: KAN, layer: KANLayer, new_knots: Array) -> tuple[float, float, Array]:
    """Refit ``layer``'s coefficients for ``new_knots`` by least squares; install both."""
    old_knots = layer.knots[...]
    new_knots = jnp.asarray(new_knots, dtype=old_knots.dtype)
    pairs = [
        _collocation(old_knots[i], new_knots[i], kan.order, layer.uniform)
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


def _key_name(entry):
    """The name or index of one step of a pytree path (dict key, attribute, sequence index)."""
    if isinstance(entry, jax.tree_util.DictKey):
        return entry.key
    if isinstance(entry, jax.tree_util.GetAttrKey):
        return entry.name
    if isinstance(entry, jax.tree_util.SequenceKey | jax.tree_util.FlattenedIndexKey):
        return entry.idx
    return entry


def _under(names: tuple, target: tuple) -> bool:
    """``target`` occurs as a contiguous run of ``names``."""
    return any(names[s : s + len(target)] == target for s in range(len(names) - len(target) + 1))


def remap_optimizer_state(opt_state, change: GridChange, *, prefix: Sequence = ()):
    r"""Carry an optax state across a KAN grid refinement.

    Carry an optax state (Adam's moments, SGD's momentum trace, ...) across
    :meth:`KAN.refine`.

    The leaves to map are found by structure, for any optax state: a leaf is a moment of the
    spline coefficients of layer l of the refined KAN when its path contains that parameter's
    path ``(*prefix, "layers", l, "coef")`` and its shape is the coefficients' old shape
    ``(in, G + k, out)``; every other leaf (step counts, other parameters' moments) is kept.
    A moment m goes through the layer's coefficient map M, scaled by r = G/G' (a gradient with
    respect to a coefficient scales with its basis function's support): m' = r·M m. A leaf
    that is non-negative everywhere (a second moment such as Adam's ν, or an accumulated
    square) must stay so: it goes through |M| with rows normalised to one, scaled by r².
    This is a heuristic that keeps step sizes continuous; a fresh ``optimizer.init(params)``
    is always correct too.

    Args:
        opt_state: the optimizer state made for the parameters before the refine.
        change: what :meth:`KAN.refine` returned.
        prefix: the path of the KAN inside the trained model, e.g. ``("hamiltonian",)``
            for an :class:`~physnet.HNN`; ``()`` when the KAN itself is trained.

    Returns:
        An optimizer state for the refined parameters (same tree structure).
    """
    prefix = tuple(prefix)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(opt_state)
    new_leaves = []
    for path, leaf in leaves:
        names = tuple(_key_name(p) for p in path)
        new_leaves.append(_remap_leaf(names, leaf, change, prefix))
    return jax.tree_util.tree_unflatten(treedef, new_leaves)


def _remap_leaf(names: tuple, leaf, change: GridChange, prefix: tuple):
    shape = jnp.shape(leaf)
    for layer, m in enumerate(change.coefficient_maps):
        if len(shape) != 3 or shape[:2] != (m.shape[0], m.shape[2]):
            continue
        if not _under(names, (*prefix, "layers", layer, "coef")):
            continue
        ratio = change.previous_grid / change.grid
        leaf = jnp.asarray(leaf)
        weights = jnp.abs(m) / jnp.sum(jnp.abs(m), axis=-1, keepdims=True)
        second = ratio**2 * jnp.einsum("inm,imo->ino", weights, leaf)
        first = ratio * jnp.einsum("inm,imo->ino", m, leaf)
        return jnp.where(jnp.all(leaf >= 0), second, first)
    return leaf


def update_grid_traced(kan: KAN, xs: Array, *, margin: float = 0.0) -> None:
    """:func:`update_grid` as pure array code, so it runs inside ``jax.jit`` (e.g. inside the
    compiled training loop, :class:`~physnet.training.GridUpdate`), in place on ``kan``.

    The same algorithm as :meth:`KAN.update_grid` (knots from the per-input range of each
    layer's inputs on ``xs``, widened by ``margin``, mixed with quantiles when
    ``grid_eps < 1``; coefficients refitted by least squares on 8 Gauss-Legendre points per
    new interval), in ``jax.numpy`` instead of NumPy, so the result agrees to round-off; no
    diagnostics (residuals, condition numbers) are computed.

    Args:
        kan: the KAN (a module merged inside the traced function).
        xs: samples ``(n, in_features)`` (not checked: check them once outside the trace with
            :func:`check_samples`).
        margin: fraction of each range added on both sides (>= 0).
    """
    h = xs  # each layer's inputs, as produced by the layers updated before it
    for i, layer in enumerate(kan.layers):
        old_knots = layer.knots[...]
        new_knots = _knots_traced(kan, h, old_knots, margin).astype(old_knots.dtype)
        old_basis, new_basis = jax.vmap(  # (in, P, G + k), (in, P, G' + k)
            lambda a, b, uniform=layer.uniform: _collocation(a, b, kan.order, uniform)
        )(old_knots, new_knots)
        q, r = jax.lax.linalg.qr(new_basis, full_matrices=False)
        maps = jax.lax.linalg.triangular_solve(  # r maps = qᵀ old_basis
            r, jnp.swapaxes(q, -1, -2) @ old_basis, left_side=True, lower=False
        )
        coef = layer.coef[...]
        layer.coef[...] = (maps @ coef).astype(coef.dtype)
        layer.knots[...] = new_knots
        if i + 1 < len(kan.layers):
            h = jax.vmap(lambda v, i=i, layer=layer: kan._nodes_out(i, layer(v)))(h)


def _knots_traced(kan: KAN, h: Array, knots: Array, margin: float) -> Array:
    """:func:`_knots_from_samples` in ``jax.numpy`` (traceable)."""
    lo, hi, degenerate = _sample_ends(h, margin)
    positions = np.linspace(0.0, 1.0, kan.grid + 1)  # the constants of the NumPy path
    bp = lo[:, None] + (hi - lo)[:, None] * jnp.asarray(positions, h.dtype)[None, :]
    if kan.grid_eps < 1.0:
        quantiles = jnp.quantile(h, jnp.asarray(positions, h.dtype), axis=0).T
        quantiles = quantiles.at[:, 0].set(lo).at[:, -1].set(hi)
        bp = kan.grid_eps * bp + (1.0 - kan.grid_eps) * quantiles
    grid = kan.grid
    steps = jnp.arange(1, kan.order + 1, dtype=h.dtype)[None, :] * (bp[:, -1:] - bp[:, :1]) / grid
    extended = jnp.concatenate([bp[:, :1] - steps[:, ::-1], bp, bp[:, -1:] + steps], axis=-1)
    return jnp.where(degenerate[:, None], knots, extended)
