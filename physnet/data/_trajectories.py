"""The container for observed trajectories."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import DataError
from .._io import atomic_path

_ARRAY_FIELDS = ("states", "derivatives", "clean_states", "clean_derivatives")
FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Trajectories:
    """Observed trajectories of a dynamical system, all recorded at the same times.

    Attributes:
        ts: recording times, shape ``(T,)``, strictly increasing.
        states: observed states, shape ``(B, T, d)`` (``d = 2N`` for ``(q, p)`` or
            ``(q, q̇)``).
        derivatives: observed time derivatives dy/dt, shape ``(B, T, d)``, or ``None`` when
            only states were observed.
        clean_states, clean_derivatives: the noise-free values when noise was added by
            :meth:`with_noise` (``None`` otherwise); used to report ``test_mse_clean``.
        metadata: JSON-serialisable description (system name and parameters, noise level).

    Raises:
        DataError: on inconsistent shapes or non-finite values.
    """

    ts: Array
    states: Array
    derivatives: Array | None = None
    clean_states: Array | None = None
    clean_derivatives: Array | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        ts = np.asarray(self.ts)
        if ts.ndim != 1 or ts.shape[0] < 2:
            raise DataError(f"ts must be a 1-D array of at least 2 times, got shape {ts.shape}")
        if not np.all(np.isfinite(ts)):
            raise DataError("ts contains NaN or inf")
        if np.any(np.diff(ts) <= 0):
            raise DataError("ts must be strictly increasing")
        states = np.asarray(self.states)
        if states.ndim != 3 or states.shape[1] != ts.shape[0]:
            raise DataError(
                "states must have shape (n_trajectories, n_times, state_size) with n_times = "
                f"len(ts) = {ts.shape[0]}, got {states.shape}"
            )
        for name in _ARRAY_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            arr = np.asarray(value)
            if arr.shape != states.shape:
                raise DataError(
                    f"{name} must have the shape of states {states.shape}, got {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                bad = int(np.sum(~np.isfinite(arr)))
                raise DataError(f"{name} contains {bad} NaN or inf value(s)")

    # ------------------------------------------------------------------ views
    @property
    def n_trajectories(self) -> int:
        return int(self.states.shape[0])

    @property
    def n_times(self) -> int:
        return int(self.states.shape[1])

    @property
    def state_size(self) -> int:
        return int(self.states.shape[2])

    @property
    def has_derivatives(self) -> bool:
        return self.derivatives is not None

    @property
    def y0(self) -> Array:
        """Initial states, shape ``(B, d)``."""
        return self.states[:, 0]

    @property
    def accelerations(self) -> Array:
        """Observed accelerations q̈ = d(q̇)/dt, shape ``(B, T, N)``: the second half of
        ``derivatives``.

        Valid for states (q, q̇), and for canonical states (q, p) of unit-mass systems where
        p = q̇ (every system in :mod:`physnet.systems`, e.g. Duffing), where dp/dt = q̈.

        Raises:
            DataError: if the data have no derivatives or an odd state size.
        """
        if self.derivatives is None:
            raise DataError("these trajectories have no derivatives, so no accelerations")
        if self.state_size % 2:
            raise DataError(
                f"accelerations need a state (q, q̇) of even size, got state_size={self.state_size}"
            )
        return self.derivatives[..., self.state_size // 2 :]

    def flat(self, clean: bool = False) -> tuple[Array, Array]:
        """States and derivatives as sample arrays of shape ``(B * T, d)``.

        Args:
            clean: use the noise-free arrays when the data carry them.

        Raises:
            DataError: if the data have no derivatives.
        """
        if self.derivatives is None:
            raise DataError(
                "these trajectories have no derivatives; use the trajectory loss or "
                "estimate derivatives by finite differences"
            )
        y, dy = self.states, self.derivatives
        if clean and self.clean_states is not None:
            y = self.clean_states
        if clean and self.clean_derivatives is not None:
            dy = self.clean_derivatives
        d = self.state_size
        return jnp.reshape(y, (-1, d)), jnp.reshape(dy, (-1, d))

    # ------------------------------------------------------------ transforms
    def take(self, idx) -> Trajectories:
        """The trajectories with indices ``idx`` (an integer array), in that order."""

        def pick(a):
            return None if a is None else a[idx]

        return dataclasses.replace(
            self,
            states=pick(self.states),
            derivatives=pick(self.derivatives),
            clean_states=pick(self.clean_states),
            clean_derivatives=pick(self.clean_derivatives),
        )

    _take = take

    def take_times(self, idx) -> Trajectories:
        """Every trajectory at the observations ``idx`` only (increasing integer indices)."""

        def pick(a):
            return None if a is None else a[:, idx]

        return dataclasses.replace(
            self,
            ts=self.ts[idx],
            states=pick(self.states),
            derivatives=pick(self.derivatives),
            clean_states=pick(self.clean_states),
            clean_derivatives=pick(self.clean_derivatives),
        )

    def split(
        self, train_fraction: float = 0.8, *, key: Array
    ) -> tuple[Trajectories, Trajectories]:
        """Split by trajectory into (train, test), so test trajectories are unseen.

        Args:
            train_fraction: fraction of trajectories for training, in (0, 1).
            key: PRNG key for the random permutation.

        The split itself (which trajectories) is :meth:`physnet.data.TrajectorySplit.random`,
        which run directories store.
        """
        from ._split import TrajectorySplit

        return TrajectorySplit.random(self.n_trajectories, train_fraction, key=key).apply(self)

    def with_noise(self, sigma: float, *, key: Array, derivatives: bool = True) -> Trajectories:
        """Add independent N(0, σ²) noise to the states (and derivatives).

        The noise-free arrays are kept as ``clean_states``/``clean_derivatives``.
        """
        if not (sigma >= 0 and np.isfinite(sigma)):
            raise DataError(f"noise sigma must be finite and >= 0, got {sigma!r}")
        k1, k2 = jax.random.split(key)
        clean_y = self.states if self.clean_states is None else self.clean_states
        clean_dy = self.derivatives if self.clean_derivatives is None else self.clean_derivatives
        states = self.states + sigma * jax.random.normal(k1, self.states.shape, self.states.dtype)
        dy = self.derivatives
        if dy is not None and derivatives:
            dy = dy + sigma * jax.random.normal(k2, dy.shape, dy.dtype)
        meta = dict(self.metadata)
        meta["noise"] = float(np.hypot(meta.get("noise", 0.0), sigma))
        return dataclasses.replace(
            self,
            states=states,
            derivatives=dy,
            clean_states=clean_y,
            clean_derivatives=clean_dy,
            metadata=meta,
        )

    def without_derivatives(self) -> Trajectories:
        """The same trajectories with only times and states."""
        return dataclasses.replace(self, derivatives=None, clean_derivatives=None)

    def with_estimated_derivatives(
        self, method: str = "central", *, window_length: int = 7, polyorder: int = 3
    ) -> Trajectories:
        """The same trajectories with derivatives estimated from the states by finite
        differences (``"central"``, second order) or Savitzky-Golay (``"savgol"``); see
        :func:`physnet.data.estimate_derivatives`."""
        from ._finite_differences import estimate_derivatives

        return estimate_derivatives(self, method, window_length=window_length, polyorder=polyorder)

    # -------------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike) -> Path:
        """Write a ``.npz`` file (no pickle) atomically; returns the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz")
        arrays = {"ts": np.asarray(self.ts)}
        for name in _ARRAY_FIELDS:
            value = getattr(self, name)
            if value is not None:
                arrays[name] = np.asarray(value)
        arrays["metadata"] = np.array(
            json.dumps({"format_version": FORMAT_VERSION, **self.metadata})
        )
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trajectories:
        """Read a ``.npz`` file written by :meth:`save` (or by hand: ``ts`` and ``states``
        are required; ``derivatives`` is optional).

        Raises:
            DataError: if the file is missing, not a valid ``.npz``, lacks required arrays,
                has wrong shapes, or contains NaN/inf.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"data file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as npz:
                contents = {k: npz[k] for k in npz.files}
        except Exception as err:  # zipfile.BadZipFile, ValueError (pickled arrays), OSError
            raise DataError(f"{path}: not a readable .npz data file ({err})") from None
        missing = [k for k in ("ts", "states") if k not in contents]
        if missing:
            raise DataError(
                f"{path}: missing array(s) {', '.join(missing)} (found {sorted(contents)})"
            )
        metadata: dict[str, Any] = {}
        if "metadata" in contents:
            try:
                metadata = json.loads(str(contents.pop("metadata")))
            except json.JSONDecodeError as err:
                raise DataError(f"{path}: metadata is not valid JSON ({err})") from None
            metadata.pop("format_version", None)
        unknown = sorted(set(contents) - {"ts", *_ARRAY_FIELDS})
        if unknown:
            raise DataError(f"{path}: unexpected array(s) {', '.join(unknown)}")
        for name, arr in contents.items():
            if not np.issubdtype(arr.dtype, np.number):
                raise DataError(f"{path}: array {name!r} is not numeric (dtype {arr.dtype})")
        try:
            return cls(
                ts=jnp.asarray(contents["ts"], dtype=jnp.float64),
                **{
                    k: jnp.asarray(contents[k], dtype=jnp.float64)
                    for k in _ARRAY_FIELDS
                    if k in contents
                },
                metadata=metadata,
            )
        except DataError as err:
            raise DataError(f"{path}: {err}") from None
