"""The container for observed trajectories.

What is not intrinsic to the container lives in functions of their own modules, which the
methods here call (they know the container only as a type, so there is no import circle):
file I/O in :mod:`._npz`, noise in :mod:`._noise`, units in :mod:`._units`, derivative
estimation in :mod:`._finite_differences`, grouping flat rows in :mod:`._rows` and splits in
:mod:`._split`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import DataError, NonFiniteError
from . import _finite_differences, _inputs, _noise, _npz, _rows, _units
from ._npz import ARRAY_FIELDS
from ._split import TrajectorySplit


def _as_float64(data, name: str) -> None:
    """Set field ``name`` of ``data`` to float64 (physnet computes in float64): integer and
    lower-precision float arrays are converted (a NumPy array stays NumPy, a JAX array JAX);
    anything that is not real numbers (strings, objects, complex, booleans) is refused in one
    line naming the field."""
    value = getattr(data, name)
    if value is None:
        return
    converted = not hasattr(value, "dtype")
    if converted:
        try:
            value = np.asarray(value)
        except (ValueError, TypeError) as err:  # ragged nested lists
            raise DataError(f"{name} must be an array of real numbers ({err!s:.80})") from None
    kind = np.dtype(value.dtype).kind
    if kind not in "iuf":
        what = {"c": "complex numbers", "b": "booleans"}.get(kind, f"dtype {value.dtype}")
        raise DataError(f"{name} must hold real numbers (integers or floats), got {what}")
    if np.dtype(value.dtype) != np.float64:
        converted = True
        if isinstance(value, np.ndarray):
            value = value.astype(np.float64)
        else:
            value = jnp.asarray(value, dtype=jnp.float64)
    if converted:
        object.__setattr__(data, name, value)


@dataclasses.dataclass(frozen=True)
class Trajectories:
    """Observed trajectories of a dynamical system.

    Trajectories are recorded either at the same times (``ts`` of shape ``(T,)``, as every
    simulated data set) or each at its own times (``ts`` of shape ``(B, T)``: measured trials,
    dropped frames, test segments of a time split). Trials of different lengths are stored
    padded to a common ``T`` with ``lengths`` giving each trajectory's number of valid
    observations; entries past a trajectory's length are padding (times continued with the last
    step, values repeating the last observation, so every array stays finite) and are masked
    out by every method (:meth:`flat`, :meth:`take`, :meth:`with_noise`, derivative estimates,
    :meth:`save`). Use :meth:`trajectory` or :attr:`mask` to read the valid part.

    Attributes:
        ts: recording times, shape ``(T,)`` shared by all trajectories or ``(B, T)`` per
            trajectory; the valid part of every row strictly increasing.
        states: observed states, shape ``(B, T, d)`` (``d = 2N`` for ``(q, p)`` or
            ``(q, q̇)``; ``d = N`` for positions only, ``metadata["positions_only"]``).
        derivatives: observed time derivatives dy/dt, shape ``(B, T, d)``, or ``None`` when
            only states were observed.
        clean_states, clean_derivatives: the noise-free values when noise was added by
            :meth:`with_noise` (``None`` otherwise); used to report ``test_mse_clean``.
        metadata: JSON-serialisable description (system name and parameters, noise level,
            ``"scales"`` of rescaled data, provenance of imported data).
        lengths: valid observations per trajectory, shape ``(B,)`` with ``2 <= lengths <= T``,
            or ``None`` when every trajectory has all ``T`` (normalised to ``None`` then).
        inputs: measured inputs u (torque, force, voltage) at the same times ``(B, T, m)``,
            or ``None``; between samples they are :attr:`input_interpolation`.

    Arrays of integers or of a lower float precision are stored as float64 (physnet computes
    in float64; a NumPy array stays NumPy, a JAX array JAX).

    Raises:
        DataError: on inconsistent shapes, non-finite values, times that do not increase, or
            arrays that are not real numbers (strings, objects, complex, booleans).
    """

    ts: Array
    states: Array
    derivatives: Array | None = None
    clean_states: Array | None = None
    clean_derivatives: Array | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    lengths: np.ndarray | None = None
    inputs: Array | None = None

    def __post_init__(self):
        for name in ("ts", *ARRAY_FIELDS, "inputs"):
            _as_float64(self, name)
        states = np.asarray(self.states)
        if states.ndim != 3:
            raise DataError(
                f"states must have shape (n_trajectories, n_times, state_size), got {states.shape}"
            )
        ts = np.asarray(self.ts)
        if ts.ndim not in (1, 2) or ts.shape[-1] < 2:
            raise DataError(
                "ts must be a 1-D array of at least 2 times (or (n_trajectories, n_times) for "
                f"per-trajectory times), got shape {ts.shape}"
            )
        if not np.all(np.isfinite(ts)):
            raise NonFiniteError("ts contains NaN or inf")
        if states.shape[1] != ts.shape[-1] or (ts.ndim == 2 and ts.shape[0] != states.shape[0]):
            raise DataError(
                "states must have shape (n_trajectories, n_times, state_size) with n_times = "
                f"len(ts) = {ts.shape[-1]}, got {states.shape}"
                + (f" for per-trajectory ts of shape {ts.shape}" if ts.ndim == 2 else "")
            )
        lengths = None
        if self.lengths is not None:
            lengths = np.asarray(self.lengths)
            n, t = states.shape[:2]
            if (
                lengths.shape != (n,)
                or not np.issubdtype(lengths.dtype, np.integer)
                or np.any(lengths < 2)
                or np.any(lengths > t)
            ):
                raise DataError(
                    f"lengths must be {n} integers in [2, {t}] (valid observations per "
                    f"trajectory), got {self.lengths!r}"
                )
            lengths = lengths.astype(np.int64)
            lengths = None if np.all(lengths == t) else lengths
            if lengths is not None:
                lengths.setflags(write=False)
        object.__setattr__(self, "lengths", lengths)
        steps = np.diff(ts, axis=-1)
        if lengths is not None:
            valid = np.arange(ts.shape[-1] - 1)[None, :] < (lengths[:, None] - 1)
            steps = np.where(valid, steps, 1.0) if ts.ndim == 2 else steps
        if np.any(steps <= 0):
            raise DataError("ts must be strictly increasing")
        for name in ARRAY_FIELDS:
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
                raise NonFiniteError(f"{name} contains {bad} NaN or inf value(s)")
        if self.inputs is not None:
            _inputs.check_inputs(np.asarray(self.inputs), states.shape, self.metadata)

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
    def input_size(self) -> int:
        """The number of input channels m (0 for an autonomous record without inputs)."""
        return 0 if self.inputs is None else int(self.inputs.shape[2])

    @property
    def input_interpolation(self) -> str:
        """What the inputs do between samples: ``"zoh"``, ``"linear"`` or ``"cubic"``
        (``metadata["input_interpolation"]``, default ``"linear"``)."""
        return str(self.metadata.get("input_interpolation", "linear"))

    def input_signals(self, method: str | None = None):
        """The inputs as one batched signal u_b(t) (:class:`physnet.signals.Interpolated`,
        by ``method``, default :attr:`input_interpolation`); DataError without inputs."""
        return _inputs.input_signals(self, method)

    def flat_inputs(self) -> Array | None:
        """The input of every row of :meth:`flat`, shape ``(n_samples, m)`` (``None``
        without inputs)."""
        return _inputs.flat_inputs(self)

    @property
    def has_derivatives(self) -> bool:
        return self.derivatives is not None

    @property
    def y0(self) -> Array:
        """Initial states, shape ``(B, d)`` (each at its trajectory's first time,
        ``ts[0]`` or ``ts[b, 0]``)."""
        return self.states[:, 0]

    @property
    def is_ragged(self) -> bool:
        """Whether some trajectories have fewer valid observations than ``n_times``."""
        return self.lengths is not None

    @property
    def shared_times(self) -> bool:
        """Whether every trajectory is recorded at the same times: ``ts`` of shape ``(T,)``
        and no padding (what rollouts from ``ts`` and the windowed trajectory loss need)."""
        return np.ndim(self.ts) == 1 and self.lengths is None

    @property
    def trajectory_lengths(self) -> np.ndarray:
        """Valid observations per trajectory, shape ``(B,)`` (all ``n_times`` unless
        ragged)."""
        if self.lengths is not None:
            return np.array(self.lengths)
        return np.full(self.n_trajectories, self.n_times, dtype=np.int64)

    @property
    def n_samples(self) -> int:
        """Valid observations in total (the rows of :meth:`flat`)."""
        return int(np.sum(self.trajectory_lengths))

    @property
    def mask(self) -> np.ndarray:
        """Boolean ``(B, T)``: True at valid observations, False at padding."""
        return np.arange(self.n_times)[None, :] < self.trajectory_lengths[:, None]

    @property
    def times(self) -> Array:
        """Recording times per trajectory, shape ``(B, T)`` (``ts`` broadcast when shared;
        padding included)."""
        ts = jnp.asarray(self.ts)
        return jnp.broadcast_to(ts, (self.n_trajectories, self.n_times)) if ts.ndim == 1 else ts

    def times_of(self, b: int) -> Array:
        """The valid recording times of trajectory ``b``, shape ``(lengths[b],)``."""
        b = self._index(b)
        return self.times[b, : int(self.trajectory_lengths[b])]

    def trajectory(self, b: int) -> Trajectories:
        """Trajectory ``b`` alone, its valid part only, with its own times ``(lengths[b],)``
        (a single trajectory on shared times: every consumer accepts it)."""
        b = self._index(b)
        n = int(self.trajectory_lengths[b])

        return self._with_arrays(lambda a: a[b : b + 1, :n], ts=self.times_of(b), lengths=None)

    def _index(self, b) -> int:
        if (
            not isinstance(b, int | np.integer)
            or not -self.n_trajectories <= b < self.n_trajectories
        ):
            raise DataError(
                f"trajectory index must be an integer in [0, {self.n_trajectories}), got {b!r}"
            )
        return int(b) % self.n_trajectories

    def is_uniform(self, rtol: float = 1e-6) -> bool:
        """Whether every valid step of every trajectory equals one step h (relative
        tolerance ``rtol``): uniform sampling, possibly with different start times."""
        steps = np.diff(np.asarray(self.times), axis=1)[self.mask[:, 1:]]
        return bool(np.all(np.abs(steps - steps[0]) <= rtol * abs(steps[0])))

    def common_times(self, purpose: str = "this operation") -> Array:
        """The shared recording times ``(T,)``.

        Raises:
            DataError: if the trajectories have per-trajectory times or different lengths,
                naming ``purpose`` and the way out (one trajectory at a time).
        """
        if not self.shared_times:
            what = "different lengths" if self.is_ragged else "per-trajectory times"
            raise DataError(
                f"{purpose} needs trajectories recorded at the same times, but these have "
                f"{what}; use data.trajectory(b) for one trajectory at a time"
            )
        return jnp.asarray(self.ts)

    @property
    def accelerations(self) -> Array:
        """Observed accelerations q̈ = d(q̇)/dt, shape ``(B, T, N)``: the second half of
        ``derivatives``.

        Valid for states (q, q̇) (``generate(..., coordinates="velocity")``, measured data), and
        for canonical states (q, p) of unit-mass systems where p = q̇, so dp/dt = q̈.

        Raises:
            DataError: if the data have no derivatives or an odd state size, or are canonical
                states of a system without unit mass (metadata ``"unit_mass": false``), whose
                dp/dt is not q̈.
        """
        if self.derivatives is None:
            raise DataError("these trajectories have no derivatives, so no accelerations")
        if self.state_size % 2:
            raise DataError(
                f"accelerations need a state (q, q̇) of even size, got state_size={self.state_size}"
            )
        if (
            self.metadata.get("coordinates") == "canonical"
            and self.metadata.get("unit_mass") is False
        ):
            raise DataError(
                f"these states are canonical (q, p) of system {self.metadata.get('system')!r}, "
                "whose mass is not unit (p != q̇), so dp/dt is not q̈; generate the data with "
                "coordinates='velocity' for accelerations"
            )
        return self.derivatives[..., self.state_size // 2 :]

    def flat(self, clean: bool = False) -> tuple[Array, Array]:
        """States and derivatives as sample arrays of shape ``(n_samples, d)``: the valid
        observations only (``B * T`` rows unless ragged; padding is left out).

        Args:
            clean: use the noise-free arrays when the data carry them.

        Raises:
            DataError: if the data have no derivatives.
        """
        if self.derivatives is None:
            raise DataError(
                "these trajectories have no derivatives, which the derivative loss needs; "
                "train on the states with --loss trajectory or --loss auto (the default) "
                "(pn.fit(..., loss='trajectory') or no loss), or estimate derivatives first "
                "(physnet import --estimate-derivatives central; "
                "data.with_estimated_derivatives())"
            )
        y, dy = self.states, self.derivatives
        if clean and self.clean_states is not None:
            y = self.clean_states
        if clean and self.clean_derivatives is not None:
            dy = self.clean_derivatives
        d = self.state_size
        if self.lengths is not None:
            mask = self.mask
            return jnp.asarray(y)[mask], jnp.asarray(dy)[mask]
        return jnp.reshape(y, (-1, d)), jnp.reshape(dy, (-1, d))

    def flat_times(self) -> Array:
        """The recording time of every row of :meth:`flat`, shape ``(n_samples,)`` (the valid
        observations only, in the same order), so that a non-autonomous model f(t, y) sees
        each sample at its own time."""
        times = self.times
        if self.lengths is not None:
            return jnp.asarray(times)[self.mask]
        return jnp.reshape(times, (-1,))

    # ------------------------------------------------------------ transforms
    def _with_arrays(self, fn, *, inputs: bool = True, **changes) -> Trajectories:
        """A copy with ``fn`` applied to each state array that is set (``states``,
        ``derivatives`` and their clean versions; with ``inputs``, also the inputs: for
        selections, not for changes of state units) and the fields ``changes`` replaced."""
        names = (*ARRAY_FIELDS, "inputs") if inputs else ARRAY_FIELDS
        arrays = {k: None if getattr(self, k) is None else fn(getattr(self, k)) for k in names}
        return dataclasses.replace(self, **arrays, **changes)

    def take(self, idx) -> Trajectories:
        """The trajectories with indices ``idx`` (an integer array), in that order (padding
        beyond the longest one kept is dropped)."""
        idx = np.asarray(idx)

        lengths = None if self.lengths is None else self.lengths[idx]
        out = self._with_arrays(
            lambda a: a[idx], ts=self.ts[idx] if np.ndim(self.ts) == 2 else self.ts, lengths=lengths
        )
        if lengths is not None and lengths.size and int(lengths.max()) < self.n_times:
            return out._trimmed(int(lengths.max()))
        return out

    _take = take

    def _trimmed(self, n: int) -> Trajectories:
        return self._with_arrays(lambda a: a[:, :n], ts=self.ts[..., :n])

    def take_times(self, idx) -> Trajectories:
        """Every trajectory at the observations ``idx`` only (increasing integer indices,
        valid for every trajectory; use :meth:`segments` for per-trajectory ranges).

        Raises:
            DataError: if an index lies past some trajectory's length.
        """
        idx = np.asarray(idx)
        if self.lengths is not None and idx.size and int(idx.max()) >= int(self.lengths.min()):
            raise DataError(
                f"take_times: observation {int(idx.max())} lies past the end of a trajectory "
                f"of {int(self.lengths.min())} observations; use segments() for ragged data"
            )

        return self._with_arrays(lambda a: a[:, idx], ts=self.ts[..., idx], lengths=None)

    def segments(self, starts, stops) -> Trajectories:
        """Observations ``starts[b] .. stops[b] - 1`` of every trajectory b.

        The result has per-trajectory times ``(B, T')`` (shared ``(T,)`` when every range is
        the same and the times are shared) and lengths ``stops - starts``, padded to
        ``T' = max(stops - starts)``.

        Args:
            starts, stops: integer arrays of shape ``(B,)`` with
                ``0 <= starts``, ``starts + 2 <= stops <= lengths``.

        Raises:
            DataError: for ranges outside a trajectory or shorter than 2 observations.
        """
        n = self.n_trajectories
        starts = np.broadcast_to(np.asarray(starts, dtype=np.int64), (n,))
        stops = np.broadcast_to(np.asarray(stops, dtype=np.int64), (n,))
        lengths = self.trajectory_lengths
        if np.any(starts < 0) or np.any(stops > lengths) or np.any(stops - starts < 2):
            raise DataError(
                "segments: every range must hold at least 2 valid observations "
                f"(0 <= start, start + 2 <= stop <= length); got starts {starts.tolist()}, "
                f"stops {stops.tolist()}, lengths {lengths.tolist()}"
            )
        if np.all(starts == starts[0]) and np.all(stops == stops[0]) and self.lengths is None:
            return self.take_times(np.arange(starts[0], stops[0]))
        new_lengths = stops - starts
        width = int(new_lengths.max())
        # padding repeats the last valid observation; times continue with the last step
        k = np.arange(width)[None, :]
        valid = k < new_lengths[:, None]
        src = starts[:, None] + np.minimum(k, new_lengths[:, None] - 1)
        rows = np.arange(n)[:, None]
        times = np.asarray(self.times)
        last = times[rows[:, 0], stops - 1][:, None]
        step = last[:, 0] - times[rows[:, 0], stops - 2]
        ts = np.where(
            valid, times[rows, src], last + (k - new_lengths[:, None] + 1) * step[:, None]
        )

        return self._with_arrays(
            lambda a: jnp.asarray(a)[rows, src], ts=jnp.asarray(ts), lengths=new_lengths
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
        return TrajectorySplit.random(self.n_trajectories, train_fraction, key=key).apply(self)

    def with_noise(self, sigma: float, *, key: Array, derivatives: bool = True) -> Trajectories:
        """Add independent N(0, σ²) noise to the states (and derivatives).

        The noise-free arrays are kept as ``clean_states``/``clean_derivatives``; see
        :func:`physnet.data.add_noise`.
        """
        return _noise.add_noise(self, sigma, key=key, derivatives=derivatives)

    def without_derivatives(self) -> Trajectories:
        """The same trajectories with only times and states."""
        return dataclasses.replace(self, derivatives=None, clean_derivatives=None)

    def with_estimated_derivatives(
        self, method: str = "central", *, window_length: int = 7, polyorder: int = 3
    ) -> Trajectories:
        """The same trajectories with derivatives estimated from the states by finite
        differences (``"central"``, second order; ``"forward"``, first order) or
        Savitzky-Golay (``"savgol"``), on each trajectory's own times; see
        :func:`physnet.data.estimate_derivatives`."""
        return _finite_differences.estimate_derivatives(
            self, method, window_length=window_length, polyorder=polyorder
        )

    def with_velocities(
        self, method: str = "central", *, window_length: int = 7, polyorder: int = 3
    ) -> Trajectories:
        """Positions-only trajectories (state q) turned into states (q, q̇) with q̇ estimated
        by :func:`physnet.data.from_positions` (on each trajectory's own times).

        Raises:
            DataError: if the data are not marked ``metadata["positions_only"]``.
        """
        return _finite_differences.with_velocities(
            self, method, window_length=window_length, polyorder=polyorder
        )

    # ---------------------------------------------------------------- units
    @property
    def scales(self) -> np.ndarray:
        """Per-component scales ``(d,)``: a state in the file's units is ``scales * y``
        (``metadata["scales"]``; ones when the data were not rescaled)."""
        return _units.scales(self)

    def to_units(self, values) -> Array:
        """Scaled states or derivatives (last axis the state) in the file's units:
        ``values * scales``. Time is never rescaled, so derivatives scale as states do."""
        return _units.to_units(self, values)

    def from_units(self, values) -> Array:
        """States or derivatives in the file's units scaled as these data: ``values / scales``."""
        return _units.from_units(self, values)

    def rescaled(self, scale="std") -> Trajectories:
        """The data with every state component divided by a scale, the scales kept.

        States, derivatives and the clean copies are divided by the same ``s_i`` (time is
        unchanged, so dy_i/dt scales as y_i); ``metadata["scales"]`` holds the product with
        any earlier scales, so :meth:`to_units` and :meth:`unscaled` return the file's units.

        Args:
            scale: ``"std"`` (each component's standard deviation over the valid
                observations), ``"none"``/``None`` (unchanged) or ``d`` positive numbers.

        Raises:
            ConfigError: for an unknown ``scale``; DataError for a constant component or
                scales that are not ``d`` positive finite numbers.
        """
        return _units.rescale(self, scale)

    def unscaled(self) -> Trajectories:
        """The data in the file's units (``metadata["scales"]`` removed)."""
        return _units.unscale(self)

    # ----------------------------------------------------------- constructors
    @classmethod
    def from_arrays(
        cls,
        times,
        states,
        derivatives=None,
        trajectory_ids=None,
        metadata: dict[str, Any] | None = None,
        inputs=None,
    ) -> Trajectories:
        """Trajectories from flat rows, as in a table: one observation per row.

        Rows are grouped into trajectories by ``trajectory_ids`` in order of first
        appearance, keeping the rows' order within each; each trajectory keeps its recorded
        times (non-uniform allowed). The result has shared times ``(T,)`` when every
        trajectory has the same times, else per-trajectory times ``(B, T)`` and ``lengths``.

        Args:
            times: recording times, shape ``(n,)``.
            states: observed states, shape ``(n, d)`` (or ``(n,)`` for d = 1).
            derivatives: observed dy/dt, the shape of ``states``, or ``None``.
            trajectory_ids: the trajectory (trial) of each row, shape ``(n,)``; ``None``: one
                trajectory.
            metadata: stored on the result (``"trajectory_ids"`` is added).
            inputs: measured inputs, shape ``(n, m)`` (or ``(n,)``), or ``None``.

        Returns:
            :class:`Trajectories` with ``B`` = the number of distinct ids.

        Raises:
            DataError: for mismatched shapes, NaN/inf, a trial whose times repeat or go
                backwards (naming the trial and the row), or a trial with fewer than 3 rows.
        """
        return _rows.from_arrays(
            times,
            states,
            derivatives,
            trajectory_ids,
            metadata=metadata,
            trajectories=cls,
            inputs=inputs,
        )

    # -------------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write a ``.npz`` file (no pickle) atomically; returns the path written.

        An existing file is replaced only if it is a physnet data file and ``overwrite`` is
        true; anything else there is refused (:func:`physnet._io.check_output`). See
        :func:`physnet.data.save`.
        """
        return _npz.save(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trajectories:
        """Read trajectories from a ``.npz`` file.

        Read a ``.npz`` file written by :meth:`save` (or by hand: ``ts`` and ``states``
        are required; ``derivatives`` and ``lengths`` are optional). Files of every earlier
        version load.

        Raises:
            DataError: if the file is missing, not a valid ``.npz``, lacks required arrays,
                has wrong shapes, or contains NaN/inf.
        """
        return _npz.load(path, cls)
