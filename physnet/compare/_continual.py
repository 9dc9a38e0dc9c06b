r"""The KAN paper's continual-learning protocol: Gaussian peaks learned one region after
another, forgetting measured after each phase (Liu et al. 2024, §3.5)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .._errors import ConfigError, TrainingDivergedError
from ..training import fit_function
from ._families import Family
from ._measure import parameter_count
from ._tasks import uniform_box as _box


def peaks_task(
    dims: int = 1,
    *,
    n_per_region: int = 100,
    width: float | None = None,
    key: jax.Array | None = None,
):
    r"""The KAN paper's continual-learning target: Gaussian peaks, one per region.

    1-D: five peaks at c = -0.8, -0.4, 0, 0.4, 0.8 on [-1, 1], regions of width 0.4 around
    them, f(x) = Σ exp(-(x - c)²/(2σ²)) with σ = 0.05 (default). 2-D: four peaks at
    (±0.5, ±0.5), one per quadrant of [-1, 1]², σ = 0.1.

    Returns:
        ``(f, regions)``: the function ``(n, d) -> (n, 1)`` and a list of ``(x, y)`` per
        region (``n_per_region`` uniform samples each), in presentation order.
    """
    key = jax.random.key(0) if key is None else key
    if dims == 1:
        centers = np.array([[-0.8], [-0.4], [0.0], [0.4], [0.8]])
        sigma = 0.05 if width is None else width
        boxes = [(c - 0.2, c + 0.2) for c in centers]
    elif dims == 2:
        centers = np.array([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]])
        sigma = 0.1 if width is None else width
        boxes = [(c - 0.5, c + 0.5) for c in centers]
    else:
        raise ConfigError(f"peaks_task: dims must be 1 or 2, got {dims!r}")

    def f(x):
        d2 = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * sigma**2)).sum(1, keepdims=True)

    regions = []
    for k, (lo, hi) in zip(jax.random.split(key, len(boxes)), boxes, strict=True):
        x = _box(k, n_per_region, lo, hi)
        regions.append((x, f(x)))
    return f, regions


def continual_learning(
    family: Family,
    size: int,
    *,
    dims: int = 1,
    seed: int = 0,
    steps_per_phase: int = 300,
    optimizer: optax.GradientTransformation | None = None,
) -> dict:
    r"""Train on one peak region after another and measure forgetting (Liu et al. 2024, §3.5).

    Phase k trains (``steps_per_phase`` Adam steps, state carried over) on region k's data
    only. After each phase the test RMSE on every region is measured (fresh samples). The
    forgetting score after phase k is the mean over earlier regions j < k of
    RMSE_j(after k) − RMSE_j(after j): how much was lost of what had been learned. KAN grids
    stay fixed on the whole domain [-1, 1]^d (no grid updates: locality needs the grid).

    Returns:
        ``{"errors": E (phases × regions), "forgetting": per phase (NaN for the first),
        "final_mean_rmse": ..., "params": ...}``.
    """
    f, regions = peaks_task(dims, key=jax.random.key(100))
    _, tests = peaks_task(dims, key=jax.random.key(200))
    approx = family.build(size, dims, 1, nnx.Rngs(seed), (-1.0, 1.0))
    optimizer = optax.adam(1e-2) if optimizer is None else optimizer

    def rmse(x, y):
        return float(np.sqrt(np.mean((np.asarray(jax.vmap(approx)(jnp.asarray(x))) - y) ** 2)))

    errors = []
    opt_state = None
    diverged = False
    for x, y in regions:
        try:
            _, opt_state = fit_function(
                approx,
                x,
                y,
                steps=steps_per_phase,
                optimizer=optimizer,
                opt_state=opt_state,
                return_opt_state=True,
                chunk_size=steps_per_phase,
            )
        except TrainingDivergedError:
            diverged = True
        errors.append([rmse(tx, ty) for tx, ty in tests])
    E = np.asarray(errors)
    forgetting = [math.nan] + [
        float(np.mean([E[k, j] - E[j, j] for j in range(k)])) for k in range(1, len(E))
    ]
    return {
        "errors": E.tolist(),
        "forgetting": forgetting,
        "final_mean_rmse": float(E[-1].mean()),
        "params": parameter_count(approx),
        "diverged": diverged,
        "family": family.name,
        "size": int(size),
        "seed": int(seed),
        "dims": dims,
    }
