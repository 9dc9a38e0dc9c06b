"""Approximator families: approximators of one kind at an adjustable size (an MLP's width, a
KAN's hidden width or grid size)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..approximators import KAN, MLP


@dataclasses.dataclass(frozen=True)
class Family:
    """Approximators of one kind at adjustable size.

    Args:
        name: short name.
        build: ``(size, in_features, out_features, rngs, input_range) -> approximator``.
        sizes: the sizes :func:`size_for` may choose from, increasing.
        default: the size used when no budget is matched.
    """

    name: str
    build: Callable[..., Any]
    sizes: tuple[int, ...]
    default: int


def mlp_family(depth: int = 2, activation: str = "tanh", name: str | None = None) -> Family:
    """MLPs of ``depth`` hidden layers whose width is the size (1 to 512)."""
    return Family(
        name or ("softexp" if activation == "soft_exponential" else "mlp"),
        lambda s, i, o, rngs, r: MLP(i, o, width=s, depth=depth, activation=activation, rngs=rngs),
        tuple(range(1, 513)),
        16,
    )


def kan_family(grid: int = 5, order: int = 3, name: str = "kan") -> Family:
    """KANs with one hidden layer whose width is the size.

    KANs ``[in, size, out]`` (one hidden layer of ``size`` nodes, G = ``grid``) on the
    task's input range."""
    return Family(
        name,
        lambda s, i, o, rngs, r: KAN([i, s, o], grid=grid, order=order, grid_range=r, rngs=rngs),
        tuple(range(1, 257)),
        5,
    )


def kan_grid_family(hidden: int | None = None, order: int = 3, name: str = "kan_grid") -> Family:
    """KANs whose grid size G is the size (the KAN paper's scaling knob).

    KANs ``[in, hidden, out]`` whose grid size G is the size (the KAN paper's scaling
    knob); ``hidden`` defaults to ``in + 1``."""

    def build(s, i, o, rngs, r):
        return KAN([i, hidden or i + 1, o], grid=s, order=order, grid_range=r, rngs=rngs)

    return Family(name, build, tuple(range(1, 1001)), 5)


def default_families() -> dict[str, Family]:
    """The default families: MLP, soft-exponential MLP and KAN.

    MLP (tanh, 2 hidden layers), soft-exponential MLP (2 hidden layers), KAN [in, w, out]
    with G = 5."""
    return {
        "mlp": mlp_family(),
        "softexp": mlp_family(activation="soft_exponential"),
        "kan": kan_family(),
    }
