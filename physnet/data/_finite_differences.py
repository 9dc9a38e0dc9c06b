"""Time derivatives estimated from observed states: the finite-difference baseline.

When only states are observed, derivative matching needs targets estimated from the states.
Both estimators here are local polynomial fits, written as one linear map along the time axis
(weights built once from the recording times), so they handle non-uniform times and apply to
any number of trajectories and components. The weights are those of the polynomial through (or
fitted to) the observations of a local window on the actual grid, so every estimate is exact
for polynomials of its degree on non-uniform times. Per-trajectory times ``(B, T)`` and ragged
trajectories (``lengths``) use each trajectory's own grid:

- ``"central"``: the second-order three-point formula (the derivative of the parabola through
  t_{i-1}, t_i, t_{i+1}; one-sided three-point formulas at the two ends). Exact for quadratics,
  error O(h²), but it amplifies observation noise by about 1/(√2 h).
- ``"forward"``: the first-order two-point formula (y_{i+1} - y_i)/(t_{i+1} - t_i) (backward
  at the last time), as in Greydanus et al. 2019's real-pendulum protocol. Error O(h); on an
  oscillation of frequency ω it adds a spurious damping of about h ω²/2.
- ``"savgol"``: Savitzky-Golay, the derivative at t_i of the least-squares polynomial of degree
  ``polyorder`` through the ``window_length`` observations centred on t_i (the window is
  shifted inwards at the ends). Smooths noise at the cost of bias on fast features.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from jax import Array

from .._checks import integer
from .._errors import ConfigError, DataError

if TYPE_CHECKING:
    from ._trajectories import Trajectories

FD_METHODS = ("central", "forward", "savgol")
"""The accepted values of ``method`` for derivative estimation."""


def _window(method: str, window_length: int, polyorder: int) -> tuple[int, int]:
    if method == "central":
        return 3, 2
    if method == "forward":
        return 2, 1
    if method == "savgol":
        window_length = integer("finite differences", "window_length", window_length, low=3)
        polyorder = integer("finite differences", "polyorder", polyorder, low=1)
        if window_length % 2 == 0:
            raise ConfigError(
                f"finite differences: window_length must be odd, got window_length={window_length}"
            )
        if polyorder >= window_length:
            raise ConfigError(
                "finite differences: polyorder must be < window_length, got "
                f"polyorder={polyorder}, window_length={window_length}"
            )
        return window_length, polyorder
    raise ConfigError(
        f"finite differences: unknown method {method!r}; choose one of {', '.join(FD_METHODS)}"
    )


def _stencils(ts: np.ndarray, method: str, window_length: int, polyorder: int):
    """Banded form of :func:`derivative_weights`: ``(starts (T,), weights (T, w))`` with
    dy/dt(t_i) ≈ Σ_k weights[i, k] y(t_{starts[i] + k})."""
    ts = np.asarray(ts, dtype=np.float64)
    if ts.ndim != 1 or not np.all(np.isfinite(ts)) or np.any(np.diff(ts) <= 0):
        raise DataError(
            f"finite differences need 1-D, finite, strictly increasing times, got shape {ts.shape}"
        )
    window_length, polyorder = _window(method, window_length, polyorder)
    n = ts.shape[0]
    if n < window_length:
        raise DataError(
            f"finite differences ({method}) need at least {window_length} recording times, got {n}"
        )
    scale = (ts[-1] - ts[0]) / (n - 1)
    i = np.arange(n)
    if method == "forward":
        starts = np.minimum(i, n - window_length)
    else:
        starts = np.clip(i - window_length // 2, 0, n - window_length)
    s = (ts[starts[:, None] + np.arange(window_length)[None, :]] - ts[:, None]) / scale
    vandermonde = s[:, :, None] ** np.arange(polyorder + 1)[None, None, :]
    weights = np.linalg.pinv(vandermonde)[:, 1, :] / scale
    return starts, weights


def derivative_weights(
    ts, *, method: str = "central", window_length: int = 7, polyorder: int = 3
) -> np.ndarray:
    r"""The matrix D with dy/dt(t_i) ≈ Σ_j D_ij y(t_j) for the recording times ``ts``.

    Row i holds the weights of the derivative at t_i of the least-squares polynomial of degree
    p fitted to the w observations in a window around t_i: with the window's offsets
    s_j = (t_j - t_i)/h̄ and Vandermonde matrix V_jk = s_j^k (k = 0..p), the weights are
    row 1 of V⁺ divided by h̄ (h̄ the mean step, for conditioning). For w = p + 1 the
    polynomial interpolates, and the weights are the exact (Fornberg) finite-difference
    weights on the actual, possibly non-uniform grid. ``"central"`` is the case w = 3, p = 2:
    on uniform times (y_{i+1} - y_{i-1})/(2h) inside and (∓3y_0 ± 4y_1 ∓ y_2)/(2h) at the
    ends, all second order. ``"forward"`` is w = 2, p = 1 with the window starting at t_i:
    (y_{i+1} - y_i)/(t_{i+1} - t_i), backward at the last time, first order.

    Args:
        ts: strictly increasing recording times, shape ``(T,)`` (uniform or not; concrete).
        method: ``"central"``, ``"forward"`` or ``"savgol"``.
        window_length: odd window w of ``"savgol"`` (ignored otherwise).
        polyorder: polynomial degree p of ``"savgol"``, 1 <= p < w.

    Returns:
        ``D`` of shape ``(T, T)`` (float64 NumPy array).

    Raises:
        ConfigError: for an unknown ``method`` or invalid ``window_length``/``polyorder``.
        DataError: if ``ts`` is not 1-D strictly increasing and finite, or shorter than the
            window.
    """
    starts, weights = _stencils(ts, method, window_length, polyorder)
    n, w = weights.shape
    dense = np.zeros((n, n))
    dense[np.arange(n)[:, None], starts[:, None] + np.arange(w)[None, :]] = weights
    return dense


def finite_difference(
    ts,
    values: Array,
    *,
    method: str = "central",
    window_length: int = 7,
    polyorder: int = 3,
    axis: int = -2,
    lengths=None,
) -> Array:
    """Time derivatives of sampled values, estimated by :func:`derivative_weights`.

    With per-trajectory times ``ts`` of shape ``(B, T)`` or ``lengths``, every trajectory
    b (axis 0 of ``values``, time on axis 1) uses the weights of its own valid times
    ``ts[b, :lengths[b]]``; the derivative at padding repeats the last valid one.

    Args:
        ts: recording times, shape ``(T,)`` shared, or ``(B, T)`` per trajectory.
        values: samples with time on ``axis``, e.g. ``(B, T, d)`` or ``(T, d)``.
        method: ``"central"`` (second order), ``"forward"`` (first order) or ``"savgol"``
            (smoothed).
        window_length, polyorder: of ``"savgol"``.
        axis: the time axis of ``values`` (default -2; must be 1 for per-trajectory times).
        lengths: valid observations per trajectory ``(B,)``, or ``None`` (all ``T``).

    Returns:
        Estimated derivatives, the shape and dtype of ``values``.

    Raises:
        DataError: if ``values`` has no axis ``axis`` of length ``T``.
    """
    values = jnp.asarray(values)
    if values.ndim == 0 or not -values.ndim <= axis < values.ndim:
        raise DataError(f"finite differences: values of shape {values.shape} have no axis {axis}")
    ts = np.asarray(ts)
    if ts.ndim == 2 or lengths is not None:
        return _per_trajectory(
            ts, values, lengths, axis % values.ndim, method, window_length, polyorder
        )
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


def _per_trajectory(ts, values, lengths, axis, method, window_length, polyorder) -> Array:
    if axis != 1 or values.ndim < 2:
        raise DataError(
            "finite differences with per-trajectory times need values of shape (B, T, ...) "
            f"with time on axis 1, got shape {values.shape} and axis {axis}"
        )
    n, t = values.shape[:2]
    ts = np.broadcast_to(ts, (n, t)) if ts.ndim == 1 else ts
    if ts.shape != (n, t):
        raise DataError(
            f"finite differences: times of shape {ts.shape} do not match values {values.shape}"
        )
    lengths = np.full(n, t) if lengths is None else np.asarray(lengths)
    w = _window(method, window_length, polyorder)[0]
    index = np.zeros((n, t, w), dtype=np.int64)
    weights = np.zeros((n, t, w))
    for b in range(n):
        length = int(lengths[b])
        try:
            starts, wb = _stencils(ts[b, :length], method, window_length, polyorder)
        except DataError as err:
            raise DataError(f"trajectory {b}: {err}") from None
        rows = np.minimum(np.arange(t), length - 1)  # padding repeats the last valid row
        index[b] = starts[rows, None] + np.arange(w)[None, :]
        weights[b] = wb[rows]
    gathered = values[np.arange(n)[:, None, None], jnp.asarray(index)]  # (B, T, w, ...)
    wts = jnp.asarray(weights, dtype=values.dtype).reshape((n, t, w) + (1,) * (values.ndim - 2))
    return jnp.sum(wts * gathered, axis=2)


def _describe(method: str, window_length: int, polyorder: int) -> str:
    if method == "central":
        return "central differences (second order, one-sided at the ends)"
    if method == "forward":
        return "forward differences (first order, backward at the last time)"
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
        method: ``"central"``, ``"forward"`` or ``"savgol"``; see
            :func:`derivative_weights` (on each trajectory's own times).
        window_length, polyorder: of ``"savgol"``.

    Raises:
        ConfigError, DataError: as :func:`derivative_weights`.
    """
    dy = finite_difference(
        data.ts,
        data.states,
        method=method,
        window_length=window_length,
        polyorder=polyorder,
        lengths=data.lengths,
    )
    clean = data.clean_derivatives if data.clean_derivatives is not None else data.derivatives
    meta = dict(data.metadata)
    meta["derivatives"] = _describe(method, window_length, polyorder)
    return dataclasses.replace(data, derivatives=dy, clean_derivatives=clean, metadata=meta)


def velocity_states(
    ts,
    positions: Array,
    method: str = "central",
    *,
    window_length: int = 7,
    polyorder: int = 3,
    lengths=None,
) -> tuple[Array, str]:
    """States (q, q̇) from observed positions q, q̇ estimated on each trajectory's own times,
    and the estimator's description (what :func:`physnet.data.from_positions` and
    :meth:`Trajectories.with_velocities <physnet.data.Trajectories.with_velocities>` record
    as ``metadata["velocities"]``).

    Args:
        ts: recording times, shape ``(T,)`` or ``(B, T)`` per trajectory.
        positions: observed q, shape ``(B, T, N)``.
        method, window_length, polyorder: the velocity estimator (:func:`derivative_weights`).
        lengths: valid observations per trajectory ``(B,)`` for ragged data, or ``None``.

    Returns:
        States ``(B, T, 2N)`` and the description.

    Raises:
        DataError: if ``positions`` is not ``(B, T, N)`` with ``T = len(ts)``.
    """
    q = jnp.asarray(positions)
    if q.ndim != 3:
        raise DataError(f"positions must have shape (B, T, N), got {q.shape}")
    qdot = finite_difference(
        ts,
        q,
        method=method,
        window_length=window_length,
        polyorder=polyorder,
        axis=1,
        lengths=lengths,
    )
    return jnp.concatenate([q, qdot], axis=-1), _describe(method, window_length, polyorder)


def with_velocities(
    data: Trajectories, method: str = "central", *, window_length: int = 7, polyorder: int = 3
) -> Trajectories:
    """Positions-only trajectories (state q) turned into states (q, q̇), q̇ estimated (see
    :meth:`Trajectories.with_velocities <physnet.data.Trajectories.with_velocities>`).

    Raises:
        DataError: if the data are not marked ``metadata["positions_only"]``.
    """
    if not data.metadata.get("positions_only"):
        raise DataError(
            "with_velocities: these trajectories already hold full states; it applies to "
            "positions-only data (metadata['positions_only'])"
        )
    meta = {k: v for k, v in data.metadata.items() if k != "positions_only"}
    if "names" in meta:
        meta["names"] = list(meta["names"]) + [f"d{n}/dt" for n in meta["names"]]
    if "scales" in meta:
        meta["scales"] = list(meta["scales"]) * 2
    states, meta["velocities"] = velocity_states(
        data.ts,
        data.states,
        method,
        window_length=window_length,
        polyorder=polyorder,
        lengths=data.lengths,
    )
    return type(data)(
        ts=jnp.asarray(data.ts),
        states=states,
        metadata=meta,
        lengths=data.lengths,
        inputs=data.inputs,
    )
