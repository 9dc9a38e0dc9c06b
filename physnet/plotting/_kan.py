"""KAN network diagrams (source Figures 12-14): every edge drawn as its learned 1-D function."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._checks import integer
from .._errors import ConfigError

_POINTS = 64  # samples per edge curve


def _check(kan, xs, function: str) -> np.ndarray:
    from ..approximators import KAN

    if not isinstance(kan, KAN):
        raise ConfigError(f"{function}: kan must be a physnet KAN, got {type(kan).__name__}")
    xs = np.asarray(xs)
    if xs.ndim != 2 or xs.shape[1] != kan.in_features or xs.shape[0] < 1:
        raise ConfigError(
            f"{function}: xs must have shape (n, {kan.in_features}) with n >= 1, got {xs.shape}"
        )
    if not np.isfinite(xs).all():
        raise ConfigError(f"{function}: xs contain NaN or infinity")
    return xs


def _check_names(names, count: int, argument: str, function: str) -> list[str] | None:
    if names is None:
        return None
    names = [str(n) for n in names]
    if len(names) != count:
        raise ConfigError(f"{function}: {argument} must name {count} variables, got {names!r}")
    return names


def edge_curves(kan, xs) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every edge function over the range its input saw on ``xs``.

    Returns:
        Per layer, ``(grid, values)``: ``grid`` of shape ``(P, in_l)`` spans, for each input
        node of the layer, ``[min, max]`` of its values over ``xs``; ``values`` of shape
        ``(P, in_l, out_l)`` is φ_{io}(grid[:, i]).
    """
    inputs = jax.vmap(kan.layer_inputs)(jnp.asarray(xs))
    out = []
    for layer, h in zip(kan.layers, inputs, strict=True):
        h = np.asarray(h)
        lo, hi = h.min(axis=0), h.max(axis=0)
        grid = lo[None, :] + (hi - lo)[None, :] * np.linspace(0.0, 1.0, _POINTS)[:, None]
        values = jax.vmap(layer.edges)(jnp.asarray(grid, dtype=h.dtype))
        out.append((grid, np.asarray(values)))
    return out


def _alpha(score: float) -> float:
    """Opacity from an importance score (pykan: tanh(3·score)), never fully invisible."""
    return float(np.clip(np.tanh(3.0 * score), 0.08, 1.0))


def _edge_inset(ax: Axes, box, xs, ys, alpha: float, label: str) -> Axes:
    inset = ax.inset_axes(box, transform=ax.transData)
    inset.plot(xs, ys, color="black", linewidth=1.0, alpha=alpha)
    inset.set_xticks([])
    inset.set_yticks([])
    inset.patch.set_alpha(0.0)
    for spine in inset.spines.values():
        spine.set_alpha(alpha)
        spine.set_linewidth(0.6)
    inset.set_label(label)
    return inset


def kan_diagram(
    kan,
    xs,
    *,
    in_names: Sequence[str] | None = None,
    out_names: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Draw a KAN as a network, every edge as its learned 1-D function (pykan's ``plot``).

    Input nodes are at the bottom and each layer's nodes above the previous one: addition
    nodes as filled circles, multiplication nodes as squares marked ×, fed by small dots (their
    factor sums). Between two layers every active edge i -> o is a line through a small inset
    that plots φ_io over the range its input took on ``xs`` (insets ordered by target, then
    source, so they never overlap); pruned (masked) edges are not drawn. The opacity of an edge
    is tanh(3·score) with its :func:`~physnet.interpret.edge_scores` importance. Each inset is
    a child axes of the diagram's axes (``ax.child_axes``) labelled ``"kan-edge l,i,o"``.

    Args:
        kan: a :class:`~physnet.KAN`.
        xs: samples of the input, shape ``(n, in_features)`` (e.g. the training inputs).
        in_names: names of the inputs (default x1, x2, ...).
        out_names: names of the outputs (default y1, ...).
        ax: axes to draw in (default: a new figure).
        title: figure title.

    Returns:
        The matplotlib Figure.

    Raises:
        ConfigError: (a ValueError) on a non-KAN, badly shaped ``xs`` or wrong name counts.

    Reference: Liu et al. (2024), KAN: Kolmogorov-Arnold Networks, arXiv:2404.19756, Fig. 2.4.
    """
    from ..interpret import edge_scores

    xs = _check(kan, xs, "kan_diagram")
    in_names = _check_names(in_names, kan.in_features, "in_names", "kan_diagram") or [
        f"x{i + 1}" for i in range(kan.in_features)
    ]
    out_names = _check_names(out_names, kan.out_features, "out_names", "kan_diagram") or [
        f"y{i + 1}" for i in range(kan.out_features)
    ]
    curves = edge_curves(kan, xs)
    scores = edge_scores(kan, xs)
    n_layers = len(kan.layers)
    widest = max(layer.in_features * layer.out_features for layer in kan.layers)
    if ax is None:
        width = float(np.clip(0.75 * widest, 5.0, 14.0))
        fig, ax = plt.subplots(figsize=(width, 2.6 * n_layers + 0.8), layout="constrained")
    else:
        fig = ax.figure
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(-0.25, n_layers + 0.25)
    ax.set_axis_off()

    def node_x(count: int) -> np.ndarray:
        return (np.arange(count) + 0.5) / count

    sub_offset = 0.12  # a multiplication node's factor dots sit this far below it
    positions = [node_x(sum(n)) for n in kan.nodes]
    for l, layer in enumerate(kan.layers):
        n_add, n_mult = kan.nodes[l + 1]
        upper = positions[l + 1]
        # where each sum of this layer is drawn
        sub_x = list(upper[:n_add])
        sub_y = [l + 1.0] * n_add
        spread = 0.35 / max(sum(kan.nodes[l + 1]), 1)
        for m in range(n_mult):
            centre = upper[n_add + m]
            offsets = np.linspace(-spread, spread, kan.mult_arity) / 2
            sub_x.extend(centre + offsets)
            sub_y.extend([l + 1.0 - sub_offset] * kan.mult_arity)
            for off in offsets:
                ax.plot([centre + off, centre], [l + 1 - sub_offset, l + 1], color="black", lw=0.8)
                ax.plot(centre + off, l + 1 - sub_offset, "o", color="black", markersize=3)
        mask = np.asarray(layer.mask[...])
        n_in, n_out = layer.in_features, layer.out_features
        slot = 1.0 / (n_in * n_out)
        box_w = min(0.8 * slot, 0.12)
        box_h = 0.32
        grid, values = curves[l]
        for o in range(n_out):
            for i in range(n_in):
                if mask[i, o] == 0:
                    continue
                k = o * n_in + i
                cx, cy = (k + 0.5) * slot, l + 0.5
                alpha = _alpha(float(scores[l][i, o]))
                ax.plot(
                    [positions[l][i], cx], [l, cy - box_h / 2], color="black", lw=0.8, alpha=alpha
                )
                ax.plot(
                    [cx, sub_x[o]], [cy + box_h / 2, sub_y[o]], color="black", lw=0.8, alpha=alpha
                )
                _edge_inset(
                    ax,
                    (cx - box_w / 2, cy - box_h / 2, box_w, box_h),
                    grid[:, i],
                    values[:, i, o],
                    alpha,
                    f"kan-edge {l},{i},{o}",
                )
    for l, (n_add, n_mult) in enumerate(kan.nodes):
        px = positions[l]
        ax.plot(px[:n_add], [l] * n_add, "o", color="black", markersize=7, zorder=3)
        if n_mult:
            ax.plot(
                px[n_add:],
                [l] * n_mult,
                "s",
                markerfacecolor="white",
                markeredgecolor="black",
                markersize=11,
                zorder=3,
            )
            for x in px[n_add:]:
                ax.text(x, l, "×", ha="center", va="center", fontsize=9, zorder=4)
    for i, name in enumerate(in_names):
        ax.text(positions[0][i], -0.12, name, ha="center", va="top", fontsize=11)
    for o, name in enumerate(out_names):
        ax.text(positions[-1][o], n_layers + 0.1, name, ha="center", va="bottom", fontsize=11)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def kan_edge_functions(
    kan,
    xs,
    layer: int = 0,
    names: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """A grid of small panels: each edge function of one layer over the range its input saw.

    Panel (i, o) shows φ_io of layer ``layer`` against its input i (rows: inputs, columns:
    the layer's sums; a layer with a single sum is laid out in rows of up to five panels).
    Pruned (masked) edges are shown empty and marked "pruned". Source Figure 14 (the learned
    1-D functions of the KAN Lagrangian of E5).

    Args:
        kan: a :class:`~physnet.KAN`.
        xs: samples of the network input, shape ``(n, in_features)``.
        layer: which layer (0 = the input layer's edges).
        names: names of the layer's inputs (default x1, ... for layer 0, h1, ... otherwise).
        title: figure title.

    Returns:
        The matplotlib Figure.

    Raises:
        ConfigError: (a ValueError) on a bad ``layer``, ``xs`` or ``names``.
    """
    xs = _check(kan, xs, "kan_edge_functions")
    n_layers = len(kan.layers)
    integer("kan_edge_functions", "layer", layer, low=0, high=n_layers - 1)
    lay = kan.layers[layer]
    n_in, n_out = lay.in_features, lay.out_features
    prefix = "x" if layer == 0 else "h"
    names = _check_names(names, n_in, "names", "kan_edge_functions") or [
        f"{prefix}{i + 1}" for i in range(n_in)
    ]
    grid, values = edge_curves(kan, xs)[layer]
    mask = np.asarray(lay.mask[...])
    edges = [(i, o) for i in range(n_in) for o in range(n_out)]
    if n_out == 1:
        cols = min(n_in, 5)
        rows = -(-n_in // cols)
    else:
        rows, cols = n_in, n_out
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(1.9 * cols + 0.4, 1.6 * rows + 0.6),
        layout="constrained",
        squeeze=False,
    )
    for k, ax in enumerate(axes.flat):
        if k >= len(edges):
            ax.set_axis_off()
            continue
        i, o = edges[k]
        if mask[i, o] == 0:
            ax.text(0.5, 0.5, "pruned", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.plot(grid[:, i], values[:, i, o], color="black", linewidth=1.2)
        ax.set_title(f"φ[{i + 1},{o + 1}]", fontsize=8)
        ax.set_xlabel(names[i], fontsize=8, labelpad=1)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"KAN layer {layer}: learned edge functions", fontsize=10)
    return fig
