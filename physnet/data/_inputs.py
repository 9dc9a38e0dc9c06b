"""The measured inputs of :class:`~physnet.data.Trajectories`: checks, the interpolated
signals and the flat rows (functions the container's methods call)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np

from .._errors import DataError, NonFiniteError
from ..signals import INTERPOLATIONS, Interpolated

if TYPE_CHECKING:
    from ._trajectories import Trajectories


def check_inputs(inputs: np.ndarray, shape: tuple, metadata: dict) -> None:
    """Inputs ``(B, T, m)`` on the states' ``(B, T)``, finite; a known interpolation."""
    if inputs.ndim != 3 or inputs.shape[:2] != shape[:2]:
        raise DataError(
            f"inputs must have shape (n_trajectories, n_times, n_inputs) = ({shape[0]}, "
            f"{shape[1]}, m) like the states {shape}, got {inputs.shape}"
        )
    if not np.all(np.isfinite(inputs)):
        bad = int(np.sum(~np.isfinite(inputs)))
        raise NonFiniteError(f"inputs contains {bad} NaN or inf value(s)")
    method = metadata.get("input_interpolation", "linear")
    if method not in INTERPOLATIONS:
        raise DataError(
            f"input_interpolation must be one of {', '.join(INTERPOLATIONS)}, got {method!r}"
        )


def input_signals(data: Trajectories, method: str | None = None):
    """See :meth:`physnet.data.Trajectories.input_signals`."""
    if data.inputs is None:
        raise DataError("these trajectories have no inputs")
    return Interpolated.from_samples(
        np.asarray(data.times), np.asarray(data.inputs), method or data.input_interpolation
    )


def flat_inputs(data: Trajectories):
    """See :meth:`physnet.data.Trajectories.flat_inputs`."""
    if data.inputs is None:
        return None
    if data.lengths is not None:
        return jnp.asarray(data.inputs)[data.mask]
    return jnp.reshape(jnp.asarray(data.inputs), (-1, data.input_size))
