"""The signal protocol and the interpolant of sampled inputs."""

from __future__ import annotations

import abc

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import ConfigError, DataError

INTERPOLATIONS = ("zoh", "linear", "cubic")
"""What an input does between its samples: held, straight line, cubic spline.

The accepted values of ``Interpolated.from_samples(method=...)``."""


class AbstractSignal(eqx.Module):
    """An input signal u(t) with ``input_size`` channels: ``signal(t)`` has shape ``(m,)``."""

    @property
    @abc.abstractmethod
    def input_size(self) -> int:
        """The number of input channels m."""

    @abc.abstractmethod
    def __call__(self, t) -> Array:
        """u(t), shape ``(m,)``, at the scalar time ``t``."""


def is_batch(signal) -> bool:
    """Whether ``signal`` is a batch of signals.

    A batch has a leading axis on its arrays, as :meth:`Interpolated.from_samples` of
    ``(B, T)`` times gives: one signal evaluates to ``(m,)``, a batch does not."""
    try:
        out = jax.eval_shape(signal, jnp.zeros((), jnp.float64))
    except Exception:  # a batch's arrays do not broadcast like one signal's
        return True
    return out.shape != (signal.input_size,)


def driven(f):
    """The field ``g(t, y, signal) = f(t, y, signal(t))`` of a field with an input port.

    ``f(t, y, u)`` is driven by the signal passed as the ODE's ``args`` (so that every diffrax
    adjoint sees the signal, and a batch of signals is vmapped like the states)."""

    def field(t, y, signal):
        return f(t, y, signal(t))

    return field


def _coefficients(ts: np.ndarray, us: np.ndarray, method: str) -> np.ndarray:
    """Piecewise-polynomial coefficients ``(4, T-1, m)``: value on [t_i, t_{i+1}) is
    ``sum_k c[k, i] (t - t_i)^k``."""
    h = np.diff(ts)[:, None]
    c = np.zeros((4, ts.size - 1, us.shape[1]))
    c[0] = us[:-1]
    if method == "linear" or (method == "cubic" and ts.size < 4):
        c[1] = (us[1:] - us[:-1]) / h
    elif method == "cubic":
        from scipy.interpolate import CubicSpline  # not-a-knot: exact for cubics

        spline = CubicSpline(ts, us, axis=0, bc_type="not-a-knot")
        c[:] = spline.c[::-1]  # scipy's highest power first
    return c


class Interpolated(AbstractSignal):
    r"""Sampled inputs as a signal of time: zero-order hold, linear or cubic.

    On each interval [t_i, t_{i+1}) the signal is the polynomial

    .. math:: u(t) = c_0 + c_1 (t - t_i) + c_2 (t - t_i)^2 + c_3 (t - t_i)^3,

    with ``"zoh"``: u(t) = u_i (the sample held until the next one, right-continuous, as a
    digital actuator does: exact for piecewise-constant inputs); ``"linear"``: the straight
    line through u_i and u_{i+1} (exact for linear inputs); ``"cubic"``: the not-a-knot
    cubic spline through all samples (exact for cubic inputs; linear below 4 samples).
    Before t_0 and after the last time the first and last pieces are continued. Evaluation is
    ``diffrax.CubicInterpolation`` (right limit at the knots, so the held value switches at
    t_i exactly).

    Build it with :meth:`from_samples`; a batch (leading axis B on ``ts`` and the
    coefficients) is vmapped like one signal.

    Attributes:
        interpolation: diffrax's interpolation of the samples.
    """

    interpolation: diffrax.CubicInterpolation

    @property
    def input_size(self) -> int:
        return int(self.interpolation.coeffs[0].shape[-1])

    def __call__(self, t) -> Array:
        return self.interpolation.evaluate(t, left=False)

    @classmethod
    def from_samples(cls, ts, us, method: str = "linear") -> Interpolated:
        """The signal through samples ``us`` ``(T, m)`` (or ``(T,)``) at increasing times
        ``ts`` ``(T,)``, T >= 2; a batch ``ts`` ``(B, T)``, ``us`` ``(B, T, m)`` gives a
        batch of signals.

        Raises:
            ConfigError: for an unknown ``method``.
            DataError: for mismatched shapes, non-finite values or times that do not increase.
        """
        if method not in INTERPOLATIONS:
            raise ConfigError(
                f"unknown input interpolation {method!r}; choose one of {', '.join(INTERPOLATIONS)}"
            )
        ts, us = np.asarray(ts, dtype=np.float64), np.asarray(us, dtype=np.float64)
        if ts.ndim == 2:
            if us.ndim != 3 or us.shape[:2] != ts.shape:
                raise DataError(
                    f"inputs must have shape {(*ts.shape, 'm')} for times {ts.shape}, got {us.shape}"
                )
            pieces = [
                cls.from_samples(t, u, method).interpolation for t, u in zip(ts, us, strict=True)
            ]
            times = np.stack([np.asarray(p.ts) for p in pieces])
            coeffs = [np.stack([np.asarray(p.coeffs[k]) for p in pieces]) for k in range(4)]
            return jax.vmap(lambda t, *c: cls(_interpolation(t, c)))(times, *coeffs)
        us = us[:, None] if us.ndim == 1 else us
        if ts.ndim != 1 or ts.size < 2 or us.ndim != 2 or us.shape[0] != ts.size:
            raise DataError(
                f"inputs must have shape ({ts.size}, m) for {ts.size} times, got {us.shape}"
            )
        if not (np.all(np.isfinite(ts)) and np.all(np.isfinite(us))):
            raise DataError("inputs contain NaN or inf")
        if np.any(np.diff(ts) <= 0):
            raise DataError("input times must be strictly increasing")
        c = _coefficients(ts, us, method)
        return cls(_interpolation(ts, (c[3], c[2], c[1], c[0])))

    @classmethod
    def held(cls, ts, us) -> Interpolated:
        """Piecewise-constant pieces: u(t) = ``us[i]`` on [``ts[i]``, ``ts[i+1]``), the last
        piece continued after ``ts[-1]`` (a zero-order hold of designed inputs).

        Unlike :meth:`from_samples` it only uses ``jax.numpy``, so ``us`` may be traced: an
        optimiser differentiates a rollout with respect to the pieces (model-predictive
        control). The caller gives valid values: ``ts`` ``(P + 1,)`` increasing, ``us``
        ``(P, m)``.
        """
        us = jnp.asarray(us, dtype=jnp.float64)
        zeros = jnp.zeros_like(us)
        return cls(_interpolation(ts, (zeros, zeros, zeros, us)))


def _interpolation(ts, coeffs) -> diffrax.CubicInterpolation:
    return diffrax.CubicInterpolation(jnp.asarray(ts), tuple(jnp.asarray(c) for c in coeffs))
