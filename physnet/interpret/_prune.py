r"""Importance scores of a KAN's edges and nodes, and pruning to a smaller KAN.

Scores follow pykan's attribution (``MultKAN.attribute``, Liu et al. 2024, KAN 2.0 section
4.1): every output node has score 1; going backwards through the layers, a layer's sums
(``out_features`` of a :class:`~physnet.approximators.KANLayer`: one per addition node, a per
multiplication node of arity a, each factor inheriting the node's score) share their score
among their incoming edges in proportion to the edges' spread over the data, and a node's score
is the sum of the scores of its outgoing edges:

.. math::
    E^{(l)}_{io} = \frac{σ(φ^{(l)}_{io})}{σ(s^{(l)}_o) + ε}\, T^{(l)}_o, \qquad
    S^{(l)}_i = \sum_o E^{(l)}_{io}, \qquad S^{(L)} = 1,

with σ the standard deviation over the samples, s_o = Σ_i φ_io the sum o, T_o the score of the
node it feeds and ε = 1e-4 (pykan's). The standard deviation (not the mean magnitude) makes a
constant edge unimportant: :func:`prune` replaces what it removes by its mean, folded exactly
into a surviving edge, so only the variation is lost.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ..approximators import KAN
from ._sparsity import _check_batch, edge_activations


@functools.partial(jax.jit, static_argnums=0)
def _activations(graphdef, state, xs):
    kan = nnx.merge(graphdef, state)
    return jax.vmap(kan.layer_inputs)(xs), edge_activations(kan, xs), jax.vmap(kan)(xs)


def _trace(kan: KAN, xs, function: str):
    if not isinstance(kan, KAN):
        raise ConfigError(f"{function}: kan must be a physnet KAN, got {type(kan).__name__}")
    xs = _check_batch(kan, xs, function)
    if not bool(jnp.all(jnp.isfinite(xs))):
        raise ConfigError(f"{function}: xs contain NaN or infinity")
    inputs, acts, out = _activations(*nnx.split(kan), xs)
    return [np.asarray(h) for h in inputs], [np.asarray(a) for a in acts], np.asarray(out)


def _check_eps(eps, function: str) -> float:
    return number(function, "eps", eps, low=0)


def _sub_scores(kan: KAN, layer: int, node_score: np.ndarray) -> np.ndarray:
    """Scores of layer ``layer``'s sums from the scores of the nodes they feed."""
    n_add, _ = kan.nodes[layer + 1]
    return np.concatenate([node_score[:n_add], np.repeat(node_score[n_add:], kan.mult_arity)])


def _scores(kan: KAN, acts: list[np.ndarray], eps: float):
    node = np.ones(kan.out_features)
    nodes, edges = [node], []
    for layer in reversed(range(len(kan.layers))):
        a = acts[layer]  # (n, in, out)
        spread = a.std(axis=0) / (a.sum(axis=1).std(axis=0) + eps)
        edge = spread * _sub_scores(kan, layer, node)[None, :]
        node = edge.sum(axis=1)
        edges.insert(0, edge)
        nodes.insert(0, node)
    return edges, nodes


def edge_scores(kan: KAN, xs: Array, *, eps: float = 1e-4) -> list[np.ndarray]:
    r"""Importance of every edge of a KAN on samples ``xs`` (pykan's attribution).

    :math:`E^{(l)}_{io} = σ(φ_{io}) / (σ(s_o) + ε) · T_o`, computed backwards from score 1 at
    every output (see the module docstring); a masked (pruned) edge scores exactly 0, and so
    does an edge that is constant on the data.

    Args:
        kan: a :class:`~physnet.KAN`.
        xs: samples of the network input, shape ``(n, in_features)``.
        eps: ε added to the spread of each sum (pykan: 1e-4).

    Returns:
        Per layer, an array ``(in_l, out_l)`` (``out_l`` counts the layer's sums, so a
        multiplication node contributes ``mult_arity`` columns).

    Raises:
        ConfigError: (a ValueError) on a non-KAN, badly shaped or non-finite ``xs``, or a
            bad ``eps``.

    Reference: Liu et al. (2024), KAN 2.0, arXiv:2408.10205, section 4.1; pykan
    ``MultKAN.attribute``.
    """
    eps = _check_eps(eps, "edge_scores")
    _, acts, _ = _trace(kan, xs, "edge_scores")
    return _scores(kan, acts, eps)[0]


def node_scores(kan: KAN, xs: Array, *, eps: float = 1e-4) -> list[np.ndarray]:
    r"""Importance of every node of a KAN on samples ``xs``: :math:`S_i = \sum_o E_{io}`.

    Outputs score 1; an input or hidden node whose outgoing edges are all constant or pruned
    scores 0 (a dead input). The scores of a layer's inputs need not sum to one: cancelling
    edges (φ and -φ into one sum) both count.

    Args:
        kan: a :class:`~physnet.KAN`.
        xs: samples, shape ``(n, in_features)``.
        eps: see :func:`edge_scores`.

    Returns:
        Per layer of nodes, inputs first and outputs last, an array ``(n_nodes_l,)`` (sum
        nodes first, then multiplication nodes, as in ``kan.nodes``).

    Reference: Liu et al. (2024), KAN 2.0, arXiv:2408.10205; pykan ``MultKAN.attribute``.
    """
    eps = _check_eps(eps, "node_scores")
    _, acts, _ = _trace(kan, xs, "node_scores")
    return _scores(kan, acts, eps)[1]


@dataclasses.dataclass(frozen=True)
class PruneReport:
    """What :func:`prune` did.

    Attributes:
        widths_before, widths_after: the KAN's widths (``KAN.config()["widths"]``).
        kept_nodes: per layer of nodes, the indices (into the original KAN's nodes) kept.
        edges_before, edges_after: number of active (unmasked) edges.
        parameters_before, parameters_after: trainable parameter counts (masked edges still
            hold parameters; removed nodes do not).
        max_output_change: ``max |KAN_pruned(x) - KAN(x)|`` over the samples.
        relative_output_change: the same divided by the largest ``|KAN(x)|`` (or 1 if zero).
        node_scores, edge_scores: the original KAN's scores (see :func:`node_scores`).
    """

    widths_before: list
    widths_after: list
    kept_nodes: tuple[tuple[int, ...], ...]
    edges_before: int
    edges_after: int
    parameters_before: int
    parameters_after: int
    max_output_change: float
    relative_output_change: float
    node_scores: tuple[np.ndarray, ...] = dataclasses.field(repr=False)
    edge_scores: tuple[np.ndarray, ...] = dataclasses.field(repr=False)


def _active_edges(kan: KAN) -> int:
    return int(sum(np.count_nonzero(np.asarray(layer.mask[...])) for layer in kan.layers))


def _widths(nodes) -> list:
    return [a if not m else [a, m] for a, m in nodes]


def _subnode_index(kan: KAN, layer: int, keep: np.ndarray) -> np.ndarray:
    """Indices of layer ``layer``'s sums that feed the kept nodes ``keep`` of the next layer."""
    n_add, n_mult = kan.nodes[layer + 1]
    index = [j for j in range(n_add) if keep[j]]
    for m in range(n_mult):
        if keep[n_add + m]:
            start = n_add + kan.mult_arity * m
            index.extend(range(start, start + kan.mult_arity))
    return np.asarray(index, dtype=int)


def _fold_constant(coef, scale, mask, score, column: int, constant: float) -> None:
    """Add ``constant`` to one active edge into sum ``column`` (in place, numpy arrays).

    A spline's B-spline basis sums to one (inside the grid and on its linear continuation
    outside), so adding ``δ`` to all of an edge's coefficients adds ``w_s·δ`` to the edge
    everywhere: the constant is folded in exactly. The edge with the highest score among the
    active ones with ``w_s != 0`` takes it.
    """
    if constant == 0.0:
        return
    w = scale[:, column] * mask[:, column]
    candidates = [i for i in range(w.shape[0]) if w[i] != 0]
    if not candidates:
        return  # nothing can carry it; the change shows in the report
    best = max(candidates, key=lambda i: (score[i, column], abs(w[i])))
    coef[best, :, column] += constant / w[best]


def _layer_arrays(layer) -> dict[str, np.ndarray]:
    return {
        name: np.array(getattr(layer, name)[...])
        for name in ("knots", "coef", "scale_base", "scale_spline", "mask")
    }


def _select_nodes(kan: KAN, keep: list[np.ndarray], acts, scores) -> KAN:
    """A new KAN with only the nodes ``keep`` (per layer of nodes, booleans); what the removed
    hidden nodes fed into the next layer is replaced by its mean on the data."""
    nodes = [
        (int(k[:n_add].sum()), int(k[n_add:].sum()))
        for k, (n_add, _) in zip(keep, kan.nodes, strict=True)
    ]
    config = kan.config()
    config["widths"] = _widths(nodes)
    config["param_dtype"] = jnp.dtype(config["param_dtype"])
    new = KAN(**config, rngs=nnx.Rngs(0))
    for l, (old_layer, new_layer) in enumerate(zip(kan.layers, new.layers, strict=True)):
        arrays = _layer_arrays(old_layer)
        rows = np.flatnonzero(keep[l])
        cols = _subnode_index(kan, l, keep[l + 1])
        removed = np.flatnonzero(~keep[l])
        # what the removed inputs of this layer fed into each kept sum, as a constant
        constants = acts[l][:, removed][:, :, cols].mean(axis=0).sum(axis=0)
        coef = arrays["coef"][rows][:, :, cols]
        scale = arrays["scale_spline"][rows][:, cols]
        mask = arrays["mask"][rows][:, cols]
        score = scores[l][rows][:, cols]
        for o, c in enumerate(constants):
            _fold_constant(coef, scale, mask, score, o, float(c))
        new_layer.knots[...] = jnp.asarray(arrays["knots"][rows])
        new_layer.coef[...] = jnp.asarray(coef)
        new_layer.scale_base[...] = jnp.asarray(arrays["scale_base"][rows][:, cols])
        new_layer.scale_spline[...] = jnp.asarray(scale)
        new_layer.mask[...] = jnp.asarray(mask)
    return new


def _mask_edges(kan: KAN, acts, scores, threshold: float) -> None:
    """Mask (in place) the active edges scoring below ``threshold``, folding their means into
    a surviving edge of the same sum; a sum keeps its best edge if all would go."""
    for l, layer in enumerate(kan.layers):
        arrays = _layer_arrays(layer)
        coef, scale, mask = arrays["coef"], arrays["scale_spline"], arrays["mask"]
        score = scores[l]
        a = acts[l]
        for o in range(layer.out_features):
            active = mask[:, o] != 0
            drop = active & (score[:, o] < threshold)
            if not drop.any():
                continue
            if drop.sum() == active.sum() and np.any(a[:, active, o] != 0):
                best = np.flatnonzero(active)[np.argmax(score[active, o])]
                drop[best] = False
            constant = float(a[:, drop, o].mean(axis=0).sum())
            mask[drop, o] = 0.0
            _fold_constant(coef, scale, mask, score, o, constant)
        layer.coef[...] = jnp.asarray(coef)
        layer.mask[...] = jnp.asarray(mask)


def _dead_hidden_nodes(kan: KAN) -> list[np.ndarray]:
    """Per layer of nodes, which nodes to keep: every input and output, and the hidden nodes
    that have an active outgoing edge and an active incoming edge into each of their sums."""
    keep = [np.ones(sum(n), dtype=bool) for n in kan.nodes]
    for l in range(1, len(kan.nodes) - 1):
        n_add, n_mult = kan.nodes[l]
        out_mask = np.asarray(kan.layers[l].mask[...])
        in_mask = np.asarray(kan.layers[l - 1].mask[...])
        for j in range(n_add + n_mult):
            cols = _subnode_index(kan, l - 1, np.arange(n_add + n_mult) == j)
            fed = all(np.any(in_mask[:, c] != 0) for c in cols)
            keep[l][j] = fed and bool(np.any(out_mask[j] != 0))
        if not keep[l].any():  # a layer needs a node; keep one (it is constant)
            keep[l][0] = True
    return keep


def prune(
    kan: KAN,
    xs: Array,
    *,
    node_threshold: float = 1e-2,
    edge_threshold: float = 3e-2,
    eps: float = 1e-4,
) -> tuple[KAN, PruneReport]:
    r"""A smaller KAN computing nearly the same function on ``xs`` (pykan's ``prune``).

    1. **Nodes.** Hidden nodes with :func:`node_scores` ``<= node_threshold`` are removed
       (at least the best node of each layer is kept); a multiplication node goes with all
       its factor sums.
    2. **Edges.** On the smaller KAN, edges with :func:`edge_scores` ``< edge_threshold`` are
       masked to exactly zero (:class:`~physnet.approximators.EdgeMask`); a sum whose edges
       would all go keeps its best one.
    3. **Clean-up.** Hidden nodes left without an active outgoing edge, or with a factor sum
       that has no active incoming edge, are removed, until none is left.

    Whatever is removed is replaced by its mean over ``xs``, added exactly to a surviving edge
    of the same sum (a B-spline basis sums to one, so shifting all coefficients of an edge by
    δ shifts the edge by w_s·δ everywhere). Removing an edge or node that is constant on
    ``xs`` therefore changes nothing, and one that is exactly zero changes nothing anywhere.
    Input and output nodes are never removed. The original KAN is not modified; the new one
    has the same grids, order and options (its masks and coefficients are copies).

    Args:
        kan: a :class:`~physnet.KAN` (typically trained with
            :func:`~physnet.interpret.kan_regularization`).
        xs: samples of the network input, shape ``(n, in_features)`` (the training inputs).
        node_threshold: node-score threshold (pykan: 1e-2), >= 0.
        edge_threshold: edge-score threshold (pykan: 3e-2), >= 0.
        eps: see :func:`edge_scores`.

    Returns:
        ``(pruned_kan, report)``; ``report.max_output_change`` is max |difference| of the
        outputs on ``xs``.

    Raises:
        ConfigError: (a ValueError) on a non-KAN, badly shaped or non-finite ``xs`` or a
            negative or non-finite threshold.

    Reference: Liu et al. (2024), KAN: Kolmogorov-Arnold Networks, arXiv:2404.19756, section
    2.5.1; KAN 2.0, arXiv:2408.10205; pykan ``MultKAN.prune``.
    """
    for name, value in (("node_threshold", node_threshold), ("edge_threshold", edge_threshold)):
        number("prune", name, value, low=0)
    eps = _check_eps(eps, "prune")
    _, acts, before = _trace(kan, xs, "prune")
    xs = jnp.asarray(xs)
    edges0, nodes0 = _scores(kan, acts, eps)

    keep = [np.ones(sum(n), dtype=bool) for n in kan.nodes]
    for l in range(1, len(kan.nodes) - 1):
        keep[l] = nodes0[l] > node_threshold
        if not keep[l].any():
            keep[l][np.argmax(nodes0[l])] = True
    original = [np.flatnonzero(k) for k in keep]
    pruned = _select_nodes(kan, keep, acts, edges0)

    _, acts, _ = _trace(pruned, xs, "prune")
    _mask_edges(pruned, acts, _scores(pruned, acts, eps)[0], float(edge_threshold))

    while True:
        keep = _dead_hidden_nodes(pruned)
        if all(k.all() for k in keep):
            break
        _, acts, _ = _trace(pruned, xs, "prune")
        pruned = _select_nodes(pruned, keep, acts, _scores(pruned, acts, eps)[0])
        original = [o[k] for o, k in zip(original, keep, strict=True)]

    _, _, after = _trace(pruned, xs, "prune")
    change = float(np.max(np.abs(after - before)))
    scale = float(np.max(np.abs(before)))
    report = PruneReport(
        widths_before=kan.config()["widths"],
        widths_after=pruned.config()["widths"],
        kept_nodes=tuple(tuple(int(i) for i in o) for o in original),
        edges_before=_active_edges(kan),
        edges_after=_active_edges(pruned),
        parameters_before=kan.parameter_count(),
        parameters_after=pruned.parameter_count(),
        max_output_change=change,
        relative_output_change=change / scale if scale > 0 else change,
        node_scores=tuple(nodes0),
        edge_scores=tuple(edges0),
    )
    return pruned, report
