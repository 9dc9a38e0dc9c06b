"""Spectral evaluation of a learned model: error per frequency of rollouts and fields."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from .._errors import ConfigError, DataError


@dataclasses.dataclass(frozen=True)
class SpectralError:
    """Error per frequency.

    Attributes:
        frequencies: frequency of every bin (cycles per unit of time or of the grid
            coordinate; for a 2-D grid the radial wavenumber), shape ``(F,)``.
        error: amplitude of the error's Fourier transform per bin, ``(F,)`` (the root of the
            power summed over the bin, components and trajectories).
        reference: the same for the true signal, ``(F,)``.
    """

    frequencies: np.ndarray
    error: np.ndarray
    reference: np.ndarray

    @property
    def relative(self) -> np.ndarray:
        """error / reference per bin (inf where the reference has no power)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.reference > 0, self.error / self.reference, np.inf)

    def to_json(self) -> dict:
        return {
            "frequencies": self.frequencies.tolist(),
            "error": self.error.tolist(),
            "reference": self.reference.tolist(),
        }


def rollout_error_spectrum(predicted, true, ts) -> SpectralError:
    r"""Error per frequency along trajectories: |FFT_t(ŷ - y)| against |FFT_t(y)|.

    The mean of each trajectory is removed from neither: bin 0 is the constant offset. Power
    is summed over trajectories and state components.

    Args:
        predicted: rollouts ``(T, d)`` or ``(B, T, d)``.
        true: the true trajectories, same shape.
        ts: uniform recording times ``(T,)``.

    Returns:
        :class:`SpectralError` with the ``T // 2 + 1`` frequencies k / (T Δt).

    Raises:
        DataError: for shapes that differ or non-uniform ``ts``.
    """
    y_hat, y = np.asarray(predicted, dtype=float), np.asarray(true, dtype=float)
    if y_hat.shape != y.shape:
        raise DataError(f"rollout_error_spectrum: shapes differ: {y_hat.shape} vs {y.shape}")
    if y.ndim == 2:
        y_hat, y = y_hat[None], y[None]
    ts = np.asarray(ts, dtype=float)
    if y.ndim != 3 or ts.shape != (y.shape[1],):
        raise DataError(
            f"rollout_error_spectrum: need (B, T, d) arrays and ts (T,), got {y.shape}, {ts.shape}"
        )
    dt = np.diff(ts)
    if not np.allclose(dt, dt[0], rtol=1e-6):
        raise DataError("rollout_error_spectrum: ts must be uniform (resample first)")
    freqs = np.fft.rfftfreq(ts.size, d=dt[0])

    def amplitude(x):
        return np.sqrt(np.sum(np.abs(np.fft.rfft(x, axis=1)) ** 2, axis=(0, 2)))

    return SpectralError(freqs, amplitude(y_hat - y), amplitude(y))


def field_error_spectrum(model, true_field, grid) -> SpectralError:
    r"""Error per frequency of a learned vector field (or any map) on a 1-D or 2-D grid.

    Evaluates ``model(0, x)`` and ``true_field(0, x)`` on the grid, Fourier transforms the
    error and the true field over the grid axes and sums the power per (radial) wavenumber
    bin.

    Args:
        model: a vector field ``f(t, y)`` (a physnet model; wrap a plain map ``g`` as
            ``lambda t, x: g(x)``).
        true_field: the reference, same signature (e.g. ``system.vector_field``).
        grid: a tuple of 1 or 2 uniform coordinate vectors, e.g. ``(q, p)``.

    Returns:
        :class:`SpectralError` with frequencies in cycles per unit of the coordinate.
    """
    grid = [np.asarray(g, dtype=float) for g in grid]
    if len(grid) not in (1, 2) or any(g.ndim != 1 or g.size < 4 for g in grid):
        raise ConfigError(
            "field_error_spectrum: grid must be one or two 1-D coordinate vectors of >= 4 points"
        )
    mesh = np.stack(np.meshgrid(*grid, indexing="ij"), axis=-1)
    flat = mesh.reshape(-1, len(grid))

    def evaluate(f):
        out = np.asarray(jax.vmap(lambda x: f(0.0, x))(flat))
        return out.reshape(*mesh.shape[:-1], -1)

    err = evaluate(model) - evaluate(true_field)
    ref = evaluate(true_field)
    steps = [g[1] - g[0] for g in grid]
    axes = tuple(range(len(grid)))
    power_err = np.sum(np.abs(np.fft.fftn(err, axes=axes)) ** 2, axis=-1)
    power_ref = np.sum(np.abs(np.fft.fftn(ref, axes=axes)) ** 2, axis=-1)
    k = np.meshgrid(
        *[np.fft.fftfreq(g.size, d=h) for g, h in zip(grid, steps, strict=True)], indexing="ij"
    )
    radius = np.sqrt(sum(ki**2 for ki in k))
    dk = max(1.0 / (g.size * h) for g, h in zip(grid, steps, strict=True))
    bins = np.rint(radius / dk).astype(int)
    n = int(min(g.size for g in grid) // 2 + 1)
    e = np.bincount(bins.ravel(), power_err.ravel(), minlength=n)[:n]
    r = np.bincount(bins.ravel(), power_ref.ravel(), minlength=n)[:n]
    return SpectralError(np.arange(n) * dk, np.sqrt(e), np.sqrt(r))
