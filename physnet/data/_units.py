"""Units of trajectories: per-component scales of rescaled data, and the way back.

Rescaled data hold ``y / s`` with the scales ``s`` in ``metadata["scales"]``; a state in the
file's units is ``s * y``. Time is never rescaled, so derivatives scale as states do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import ConfigError, DataError

if TYPE_CHECKING:
    from ._trajectories import Trajectories


def _along_last(scales, ndim: int) -> Array:
    """``scales`` (d,) shaped to broadcast on the last axis of an ``ndim`` array."""
    scales = jnp.asarray(scales, dtype=jnp.float64)
    return jnp.reshape(scales, (1,) * max(ndim - 1, 0) + scales.shape)


def scales(data: Trajectories) -> np.ndarray:
    """Per-component scales ``(d,)`` of ``data`` (ones when the data were not rescaled)."""
    found = data.metadata.get("scales")
    if found is None:
        return np.ones(data.state_size)
    return np.asarray(found, dtype=np.float64)


def to_units(data: Trajectories, values) -> Array:
    """``values`` (states or derivatives, last axis the state) scaled as ``data``, in the
    file's units: ``values * scales``."""
    values = jnp.asarray(values)
    return values * _along_last(scales(data), values.ndim)


def from_units(data: Trajectories, values) -> Array:
    """``values`` in the file's units scaled as ``data``: ``values / scales``."""
    values = jnp.asarray(values)
    return values / _along_last(scales(data), values.ndim)


def rescale(data: Trajectories, scale="std") -> Trajectories:
    """``data`` with every state component divided by a scale (see
    :meth:`Trajectories.rescaled <physnet.data.Trajectories.rescaled>`)."""
    if scale is None or (isinstance(scale, str) and scale == "none"):
        return data
    if isinstance(scale, str):
        if scale != "std":
            raise ConfigError(f"unknown scale {scale!r}; choose 'none', 'std' or numbers")
        values = np.asarray(data.states)[data.mask]
        s = values.std(axis=0)
        if np.any(s <= 0):
            bad = int(np.flatnonzero(s <= 0)[0])
            raise DataError(
                f"scale='std': state component {bad} is constant, so it has no scale; "
                "give the scales explicitly"
            )
    else:
        s = np.asarray(scale, dtype=np.float64).reshape(-1)
        if s.shape != (data.state_size,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise DataError(
                f"scales must be {data.state_size} positive finite numbers, got {scale!r}"
            )
    meta = dict(data.metadata)
    meta["scales"] = (scales(data) * s).tolist()
    inv = _along_last(1.0 / s, 3)
    return data._with_arrays(lambda a: jnp.asarray(a) * inv, inputs=False, metadata=meta)


def unscale(data: Trajectories) -> Trajectories:
    """``data`` in the file's units (``metadata["scales"]`` removed)."""
    if "scales" not in data.metadata:
        return data
    meta = {k: v for k, v in data.metadata.items() if k != "scales"}
    s = _along_last(scales(data), 3)
    return data._with_arrays(lambda a: jnp.asarray(a) * s, inputs=False, metadata=meta)


SCALINGS = ("components", "canonical", "configuration", "uniform", "none")
"""The rescalings :func:`structure_scales` knows (see ``AbstractVectorField.scaling``)."""


def _spread(data: Trajectories) -> np.ndarray:
    """Per-component standard deviation of the valid states; 1 for a constant component."""
    values = np.asarray(data.states, dtype=np.float64)[np.asarray(data.mask)]
    s = values.std(axis=0)
    return np.where(s > 0, s, 1.0)


def structure_scales(data: Trajectories, kind: str) -> np.ndarray:
    """Per-component scales that make the states O(1) while keeping a model's structure.

    Per-component scales ``s`` (``(d,)``) that make ``data``'s states O(1) (``y / s``)
    while keeping a model structure (``AbstractVectorField.scaling``): with σ the
    per-component standard deviation (1 for a constant component),

    - ``"components"``: s = σ;
    - ``"canonical"`` (states (q, p)): q_i and p_i get a_i = σ_qi·r_i and b_i = σ_pi·r_i with
      r_i = sqrt(K / (σ_qi σ_pi)) and K the geometric mean of the σ_qi σ_pi, so every
      a_i·b_i = K (one degree of freedom: s = σ);
    - ``"configuration"`` (states (q, q̇)): q_i and q̇_i share sqrt(σ_qi σ_q̇i);
    - ``"uniform"``: every component the root mean square of σ;
    - ``"none"``: ones.

    Raises:
        ConfigError: for an unknown ``kind``, or a paired kind on an odd state size.
    """
    if kind not in SCALINGS:
        raise ConfigError(f"unknown scaling {kind!r}; choose one of {', '.join(SCALINGS)}")
    d = data.state_size
    if kind == "none":
        return np.ones(d)
    sigma = _spread(data)
    if kind == "components":
        return sigma
    if kind == "uniform":
        return np.full(d, float(np.sqrt(np.mean(sigma**2))))
    if d % 2:
        raise ConfigError(f"scaling {kind!r} needs pairs of coordinates, not {d} components")
    first, second = sigma[: d // 2], sigma[d // 2 :]
    if kind == "configuration":
        shared = np.sqrt(first * second)
        return np.concatenate([shared, shared])
    product = first * second
    r = np.sqrt(np.exp(np.mean(np.log(product))) / product)
    return np.concatenate([first * r, second * r])


def velocity_coordinates(data: Trajectories, tolerance: float = 0.3) -> bool | None:
    """Whether the states are (q, q̇): the second half the time derivative of the first.

    Whether the second half of ``data``'s states is the time derivative of the first half
    (states (q, q̇) rather than (q, p) with p ≠ q̇): the root mean square of dq/dt - (second
    half) relative to that of dq/dt is below ``tolerance``. dq/dt is the stored derivative
    when there is one, else a second-order finite difference along every trajectory.
    ``None`` for an odd state size or too few observations to tell."""
    d = data.state_size
    if d % 2:
        return None
    n = d // 2
    if data.derivatives is not None:
        mask = np.asarray(data.mask)
        dq = np.asarray(data.derivatives)[mask][:, :n]
        v = np.asarray(data.states)[mask][:, n:]
    else:
        from ._finite_differences import estimate_derivatives

        try:
            est = estimate_derivatives(data, "central")
        except DataError:  # too few observations to difference
            return None
        mask = np.asarray(est.mask)
        dq = np.asarray(est.derivatives)[mask][:, :n]
        v = np.asarray(est.states)[mask][:, n:]
    scale = float(np.sqrt(np.mean(dq**2)))
    if not np.isfinite(scale) or scale == 0:
        return None
    return bool(np.sqrt(np.mean((dq - v) ** 2)) / scale < tolerance)
