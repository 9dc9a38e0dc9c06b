"""What a comparison matches and records: parameter counts, XLA-counted forward FLOPs, the
size of a family nearest a budget, soft-exponential α."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .._errors import ConfigError
from ..approximators import SoftExponential
from ._families import Family


def parameter_count(module) -> int:
    """Number of trainable parameters (``nnx.Param`` entries) of ``module``."""
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(module, nnx.Param)))


def forward_flops(approximator) -> float:
    """FLOPs of one forward pass per input, as XLA's cost analysis counts them.

    FLOPs of the forward pass per input, as XLA's cost analysis counts them
    (``jax.jit(f).lower(x).compile().cost_analysis()["flops"]``), for inputs in a batch: the
    count for 16 inputs less that for 8, divided by 8, so work done once per call and shared
    by the batch (a KAN converting its splines to piecewise-polynomial form) is not counted.
    NaN when the backend reports none. ``approximator`` may be abstract (``nnx.eval_shape``)."""
    graphdef, state = nnx.split(approximator)

    def flops(batch: int) -> float:
        x = jax.ShapeDtypeStruct((batch, approximator.in_features), jnp.float64)
        forward = jax.jit(lambda s, x: jax.vmap(nnx.merge(graphdef, s))(x))
        cost = forward.lower(state, x).compile().cost_analysis()
        if isinstance(cost, list | tuple):
            cost = cost[0] if cost else {}
        return float((cost or {}).get("flops", float("nan")))

    return (flops(16) - flops(8)) / 8


#: what ``match`` may name: the measure of an approximator it compares
MEASURES = {"params": parameter_count, "flops": forward_flops}
MATCHES = tuple(MEASURES)
"""What ``compare(match=...)`` may name: ``"params"`` or ``"flops"``."""


def measure(
    family: Family,
    size: int,
    in_features: int,
    out_features: int,
    match: str,
    input_range=(-1.0, 1.0),
) -> float:
    """The parameter count or forward FLOPs of a family at a size.

    Parameter count (``match="params"``) or forward FLOPs (``"flops"``) of ``family`` at
    ``size``."""
    if match not in MATCHES:
        raise ConfigError(f"match must be one of {MATCHES}, got {match!r}")
    # built abstractly (shapes only): nothing is initialised or compiled but the forward pass
    approx = nnx.eval_shape(
        lambda: family.build(size, in_features, out_features, nnx.Rngs(0), tuple(input_range))
    )
    return float(MEASURES[match](approx))


def size_for(
    family: Family,
    budget: float,
    in_features: int,
    out_features: int,
    *,
    match: str = "params",
    input_range=(-1.0, 1.0),
) -> int:
    """The size of a family whose measure is nearest a budget in log scale.

    The size of ``family`` whose parameter count / forward FLOPs is nearest ``budget`` in
    log scale (bisection over ``family.sizes``; the measure grows with the size).

    Raises:
        ConfigError: on a non-positive budget or unknown ``match``.
    """
    if not budget > 0:
        raise ConfigError(f"size_for: budget must be > 0, got {budget!r}")
    sizes = family.sizes
    cache: dict[int, float] = {}

    def m(i):
        if i not in cache:
            cache[i] = measure(family, sizes[i], in_features, out_features, match, input_range)
        return cache[i]

    lo, hi = 0, len(sizes) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if m(mid) < budget:
            lo = mid
        else:
            hi = mid
    best = min((lo, hi), key=lambda i: abs(math.log(m(i) / budget)))
    return sizes[best]


def alpha_values(module) -> np.ndarray:
    """All soft-exponential α of ``module`` (empty when it has none)."""
    alphas = [
        np.asarray(m.alpha[...]).ravel()
        for _, m in nnx.iter_modules(module)
        if isinstance(m, SoftExponential)
    ]
    return np.concatenate(alphas) if alphas else np.zeros(0)
