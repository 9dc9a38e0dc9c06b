"""Butcher tableaux of explicit Runge-Kutta methods, validated once at construction."""

from __future__ import annotations

import dataclasses

import numpy as np

from .._errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta method as data.

    Stage i evaluates ``k_i = f(t + c_i h, y + h Σ_{j<i} a_ij k_j)`` and the step is
    ``y + h Σ b_i k_i``.

    Args:
        a: strictly lower-triangular stage matrix, shape ``(s, s)``.
        b: weights, shape ``(s,)``, summing to 1.
        c: nodes, shape ``(s,)``, with ``c_i = Σ_j a_ij``.
        order: the method's classical order (used for documentation and tests).

    Raises:
        ConfigError: if the shapes disagree, ``a`` is not strictly lower triangular,
            Σ b ≠ 1, or the rows of ``a`` do not sum to ``c``.
    """

    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int

    def __post_init__(self):
        a, b, c = np.asarray(self.a, float), np.asarray(self.b, float), np.asarray(self.c, float)
        s = b.shape[0]
        if a.shape != (s, s) or c.shape != (s,):
            raise ConfigError(
                f"ButcherTableau: a must be ({s}, {s}) and c ({s},), got {a.shape} and {c.shape}"
            )
        if np.any(np.triu(a) != 0):
            raise ConfigError("ButcherTableau: a must be strictly lower triangular (explicit)")
        if abs(b.sum() - 1.0) > 1e-14:
            raise ConfigError(f"ButcherTableau: weights b must sum to 1, got {b.sum()!r}")
        if np.max(np.abs(a.sum(axis=1) - c)) > 1e-14:
            raise ConfigError("ButcherTableau: each row of a must sum to the node c_i")

    @property
    def stages(self) -> int:
        return len(self.b)


EULER_TABLEAU = ButcherTableau(a=((0.0,),), b=(1.0,), c=(0.0,), order=1)
"""The explicit Euler method (order 1)."""

MIDPOINT_TABLEAU = ButcherTableau(a=((0.0, 0.0), (0.5, 0.0)), b=(0.0, 1.0), c=(0.0, 0.5), order=2)
"""The explicit midpoint method (order 2)."""

HEUN3_TABLEAU = ButcherTableau(
    a=((0.0, 0.0, 0.0), (1 / 3, 0.0, 0.0), (0.0, 2 / 3, 0.0)),
    b=(0.25, 0.0, 0.75),
    c=(0.0, 1 / 3, 2 / 3),
    order=3,
)
"""Heun's third-order method."""

RK4_TABLEAU = ButcherTableau(
    a=(
        (0.0, 0.0, 0.0, 0.0),
        (0.5, 0.0, 0.0, 0.0),
        (0.0, 0.5, 0.0, 0.0),
        (0.0, 0.0, 1.0, 0.0),
    ),
    b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
    c=(0.0, 0.5, 0.5, 1.0),
    order=4,
)
"""The classical fourth-order Runge-Kutta method."""
