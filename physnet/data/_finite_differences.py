"""Time derivatives estimated from observed states: the finite-difference baseline.

When only states are observed, derivative matching needs targets estimated from the states.
Both estimators here are local polynomial fits, written as one linear map along the time axis
(a ``(T, T)`` weight matrix built once from the recording times), so they handle non-uniform
times and apply to any number of trajectories and components:

- ``"central"``: the second-order three-point formula (the derivative of the parabola through
  t_{i-1}, t_i, t_{i+1}; one-sided three-point formulas at the two ends). Exact for quadratics,
  error O(h²), but it amplifies observation noise by about 1/(√2 h).
- ``"savgol"``: Savitzky-Golay, the derivative at t_i of the least-squares polynomial of degree
  ``polyorder`` through the ``window_length`` observations centred on t_i (the window is
  shifted inwards at the ends). Smooths noise at the cost of bias on fast features.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import ConfigError, DataError
from ._trajectories import Trajectories

#: the accepted values of ``method``
FD_METHODS = ("central", "savgol")


def _check_int(name: str, value, low: int) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
        raise ConfigError(f"finite differences: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def derivative_weights(
    ts, *, method: str = "central", window_length: int = 7, polyorder: int = 3
) -> np.ndarray:
    r"""The matrix D with dy/dt(t_i) ≈ Σ_j D_ij y(t_j) for the recording times ``ts``.

    Row i holds the weights of the derivative at t_i of the least-squares polynomial of degree
    p fitted to the w observations in a window around t_i: with the window's offsets
    s_j = (t_j - t_i)/h̄ and Vandermonde matrix V_jk = s_j^k (k = 0..p), the weights are
    row 1 of V⁺ divided by h̄ (h̄ the mean step, for conditioning). ``"central"`` is the case
    w = 3, p = 2: on uniform times (y_{i+1} - y_{i-1})/(2h) inside and
    (∓3y_0 ± 4y_1 ∓ y_2)/(2h) at the ends, all second order.

    Args:
        ts: strictly increasing recording times, shape ``(T,)`` (uniform or not; concrete).
        method: ``"central"`` or ``"savgol"``.
        window_length: odd window w of ``"savgol"`` (ignored for ``"central"``).
        polyorder: polynomial degree p of ``"savgol"``, 1 <= p < w.

    Returns:
        ``D`` of shape ``(T, T)`` (float64 NumPy array).

    Raises:
        ConfigError: for an unknown ``method`` or invalid ``window_length``/``polyorder``.
        DataError: if ``ts`` is not 1-D strictly increasing and finite, or shorter than the
            window.
    """
    ts = np.asarray(ts, dtype=np.float64)
    if ts.ndim != 1 or not np.all(np.isfinite(ts)) or np.any(np.diff(ts) <= 0):
        raise DataError(
            f"finite differences need 1-D, finite, strictly increasing times, got shape {ts.shape}"
        )
    if method == "central":
        window_length, polyorder = 3, 2
    elif method == "savgol":
        window_length = _check_int("window_length", window_length, 3)
        polyorder = _check_int("polyorder", polyorder, 1)
        if window_length % 2 == 0:
            raise ConfigError(
                f"finite differences: window_length must be odd, got window_length={window_length}"
            )
        if polyorder >= window_length:
            raise ConfigError(
                "finite differences: polyorder must be < window_length, got "
                f"polyorder={polyorder}, window_length={window_length}"
            )
    else:
        raise ConfigError(
            f"finite differences: unknown method {method!r}; choose one of {', '.join(FD_METHODS)}"
        )
    n = ts.shape[0]
    if n < window_length:
        raise DataError(
            f"finite differences ({method}) need at least {window_length} recording times, got {n}"
        )
    scale = (ts[-1] - ts[0]) / (n - 1)
    half = window_length // 2
    weights = np.zeros((n, n))
    powers = np.arange(polyorder + 1)
    for i in range(n):
        start = min(max(i - half, 0), n - window_length)
        window = slice(start, start + window_length)
        s = (ts[window] - ts[i]) / scale
        vandermonde = s[:, None] ** powers[None, :]
        weights[i, window] = np.linalg.pinv(vandermonde)[1] / scale
    return weights


def finite_difference(
    ts,
    values: Array,
    *,
    method: str = "central",
    window_length: int = 7,
    polyorder: int = 3,
    axis: int = -2,
) -> Array:
    """Time derivatives of sampled values, estimated by :func:`derivative_weights`.

    Args:
        ts: recording times, shape ``(T,)``.
        values: samples with time on ``axis``, e.g. ``(B, T, d)`` or ``(T, d)``.
        method: ``"central"`` (second order) or ``"savgol"`` (smoothed).
        window_length, polyorder: of ``"savgol"``.
        axis: the time axis of ``values`` (default -2).

    Returns:
        Estimated derivatives, the shape and dtype of ``values``.

    Raises:
        DataError: if ``values`` has no axis ``axis`` of length ``T``.
    """
    values = jnp.asarray(values)
    if values.ndim == 0 or not -values.ndim <= axis < values.ndim:
        raise DataError(f"finite differences: values of shape {values.shape} have no axis {axis}")
    ts = np.asarray(ts)
    if values.shape[axis] != ts.shape[0]:
        raise DataError(
            f"finite differences: values have {values.shape[axis]} samples along axis {axis} "
            f"but ts has {ts.shape[0]} times"
        )
    weights = jnp.asarray(
        derivative_weights(ts, method=method, window_length=window_length, polyorder=polyorder),
        dtype=values.dtype,
    )
    moved = jnp.moveaxis(values, axis, 0)
    out = jnp.tensordot(weights, moved, axes=(1, 0))
    return jnp.moveaxis(out, 0, axis)


def _describe(method: str, window_length: int, polyorder: int) -> str:
    if method == "central":
        return "central differences (second order, one-sided at the ends)"
    return f"Savitzky-Golay (window_length={window_length}, polyorder={polyorder})"


def estimate_derivatives(
    data: Trajectories,
    method: str = "central",
    *,
    window_length: int = 7,
    polyorder: int = 3,
) -> Trajectories:
    """The same trajectories with ``derivatives`` estimated from the observed states.

    The estimate replaces any observed derivatives. Derivatives known to be noise-free (the
    input's ``clean_derivatives``, or its ``derivatives`` when it has no noise record) are kept
    as ``clean_derivatives``, so ``test_mse_clean`` still measures the error against the exact
    field; ``metadata["derivatives"]`` records the estimator.

    Args:
        data: observed trajectories (derivatives not needed).
        method: ``"central"`` or ``"savgol"``; see :func:`derivative_weights`.
        window_length, polyorder: of ``"savgol"``.

    Raises:
        ConfigError, DataError: as :func:`derivative_weights`.
    """
    dy = finite_difference(
        data.ts, data.states, method=method, window_length=window_length, polyorder=polyorder
    )
    clean = data.clean_derivatives if data.clean_derivatives is not None else data.derivatives
    meta = dict(data.metadata)
    meta["derivatives"] = _describe(method, window_length, polyorder)
    return dataclasses.replace(data, derivatives=dy, clean_derivatives=clean, metadata=meta)


def from_positions(
    ts,
    positions: Array,
    method: str = "central",
    *,
    window_length: int = 7,
    polyorder: int = 3,
    metadata: dict | None = None,
) -> Trajectories:
    """Trajectories with states (q, q̇) from observed positions q only, q̇ estimated.

    For Lagrangian models (:class:`physnet.LNN`), whose state is (q, q̇): train them on these
    states with the trajectory loss, ideally ``TrajectoryLoss(observe="positions")`` so only
    the observed q enter the loss and the estimated q̇ serve as initial conditions.

    Args:
        ts: recording times, shape ``(T,)``.
        positions: observed q, shape ``(B, T, N)``.
        method, window_length, polyorder: the velocity estimator (:func:`derivative_weights`).
        metadata: stored on the result (``"velocities"`` is added).

    Returns:
        :class:`Trajectories` with states ``(B, T, 2N)`` and no derivatives.

    Raises:
        DataError: if ``positions`` is not ``(B, T, N)`` with ``T = len(ts)``.
    """
    q = jnp.asarray(positions)
    if q.ndim != 3:
        raise DataError(f"positions must have shape (B, T, N), got {q.shape}")
    qdot = finite_difference(
        ts, q, method=method, window_length=window_length, polyorder=polyorder, axis=1
    )
    meta = dict(metadata or {})
    meta["velocities"] = _describe(method, window_length, polyorder)
    return Trajectories(
        ts=jnp.asarray(ts), states=jnp.concatenate([q, qdot], axis=-1), metadata=meta
    )
