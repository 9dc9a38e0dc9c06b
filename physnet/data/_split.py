"""Train/test splits as data: which trajectories, or which times, belong to each part.

A split is computed once (by :func:`physnet.data.Trajectories.split` or by ``physnet train``),
stored as JSON in the run directory, and applied again by ``physnet evaluate``: nothing is ever
re-derived by replaying random keys.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import jax
import numpy as np
from jax import Array

from .._errors import DataError

if TYPE_CHECKING:
    from ._trajectories import Trajectories


def _indices(value, name: str) -> tuple[int, ...]:
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"split: {name} must be a non-empty list of integer indices, got {value!r}")
    return tuple(int(i) for i in arr)


class AbstractSplit(abc.ABC):
    """Which part of a :class:`~physnet.data.Trajectories` trains and which tests."""

    #: the ``"kind"`` written to JSON
    kind: ClassVar[str]

    @abc.abstractmethod
    def apply(self, data: Trajectories) -> tuple[Trajectories, Trajectories]:
        """``(train, test)`` parts of ``data``.

        Raises:
            DataError: if the split does not fit the data (another file, other sizes).
        """

    @abc.abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description (read back by :func:`split_from_json`)."""


@dataclasses.dataclass(frozen=True)
class TrajectorySplit(AbstractSplit):
    """Whole trajectories for training and for testing (test trajectories are unseen).

    Attributes:
        train, test: trajectory indices; disjoint.
        n_trajectories: how many trajectories the split data held.
    """

    train: tuple[int, ...]
    test: tuple[int, ...]
    n_trajectories: int
    kind: ClassVar[str] = "trajectory"

    def __post_init__(self):
        train, test = _indices(self.train, "train"), _indices(self.test, "test")
        every = np.concatenate([train, test])
        if set(train) & set(test):
            raise DataError("split: train and test trajectories overlap")
        if every.min() < 0 or every.max() >= self.n_trajectories:
            raise DataError(
                f"split: trajectory indices must lie in [0, {self.n_trajectories}), got "
                f"{int(every.min())}..{int(every.max())}"
            )
        object.__setattr__(self, "train", train)
        object.__setattr__(self, "test", test)

    @classmethod
    def random(cls, n_trajectories: int, train_fraction: float, *, key: Array) -> TrajectorySplit:
        """A random split of ``n_trajectories`` with ``round(train_fraction * n)`` for training
        (a permutation drawn with ``key``)."""
        if not 0.0 < train_fraction < 1.0:
            raise DataError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
        n = n_trajectories
        n_train = int(round(train_fraction * n))
        if n_train < 1 or n_train >= n:
            raise DataError(
                f"cannot split {n} trajectories with train_fraction={train_fraction}: "
                "both parts need at least one trajectory"
            )
        perm = np.asarray(jax.random.permutation(key, n))
        return cls(tuple(perm[:n_train]), tuple(perm[n_train:]), n)

    def apply(self, data: Trajectories) -> tuple[Trajectories, Trajectories]:
        if data.n_trajectories != self.n_trajectories:
            raise DataError(
                f"the split was made for {self.n_trajectories} trajectories, the data hold "
                f"{data.n_trajectories}"
            )
        return data.take(np.asarray(self.train)), data.take(np.asarray(self.test))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n_trajectories": self.n_trajectories,
            "train": list(self.train),
            "test": list(self.test),
        }


def _counts(value, name: str) -> int | tuple[int, ...]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise DataError(
            f"time split: {name} must be an integer or a non-empty list of integers (one per "
            f"trajectory), got {value!r}"
        )
    return tuple(int(i) for i in arr)


@dataclasses.dataclass(frozen=True)
class TimeSplit(AbstractSplit):
    """A split by time: the first observations of every trajectory train.

    The first observations of every trajectory train, the rest test (for single long
    records, as in Greydanus et al. 2019: the first 80 % in time).

    For trajectories of different lengths (measured trials), both counts are per trajectory:
    the first ``n_train_times[b]`` of trajectory b's ``n_times[b]`` observations train. The
    test part then starts at a different time in every trajectory (per-trajectory times).

    Attributes:
        n_train_times: observations ``0 .. n_train_times - 1`` train, the rest test; an
            integer (every trajectory) or one integer per trajectory.
        n_times: how many observations each trajectory of the split data held; an integer
            or one per trajectory (the same form as ``n_train_times``).
    """

    n_train_times: int | tuple[int, ...]
    n_times: int | tuple[int, ...]
    kind: ClassVar[str] = "time"

    def __post_init__(self):
        train = _counts(self.n_train_times, "n_train_times")
        total = _counts(self.n_times, "n_times")
        if isinstance(train, int) != isinstance(total, int) or (
            not isinstance(train, int) and len(train) != len(total)
        ):
            raise DataError(
                "time split: n_train_times and n_times must both be integers or lists of the "
                f"same length, got {self.n_train_times!r} and {self.n_times!r}"
            )
        object.__setattr__(self, "n_train_times", train)
        object.__setattr__(self, "n_times", total)
        pairs = [(train, total)] if isinstance(train, int) else list(zip(train, total, strict=True))
        for k, n in pairs:
            if not (2 <= k <= n - 2):
                raise DataError(
                    f"a time split of {n} observations needs at least 2 for training and "
                    f"2 for testing, got {k} for training"
                )

    @classmethod
    def by_fraction(cls, n_times, train_fraction: float) -> TimeSplit:
        """The first ``round(train_fraction * n)`` observations train, for ``n_times`` an
        integer or one length per trajectory (equal lengths give the integer form)."""
        if not 0.0 < train_fraction < 1.0:
            raise DataError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
        total = _counts(n_times, "n_times")
        if not isinstance(total, int) and len(set(total)) == 1:
            total = total[0]
        if isinstance(total, int):
            return cls(int(round(train_fraction * total)), total)
        return cls(tuple(int(round(train_fraction * n)) for n in total), total)

    @classmethod
    def for_data(cls, data: Trajectories, train_fraction: float) -> TimeSplit:
        """:meth:`by_fraction` of each trajectory's own length (``data.trajectory_lengths``)."""
        return cls.by_fraction(data.trajectory_lengths, train_fraction)

    def apply(self, data: Trajectories) -> tuple[Trajectories, Trajectories]:
        lengths = data.trajectory_lengths
        if isinstance(self.n_times, int):
            fits = bool(np.all(lengths == self.n_times))
        else:
            fits = lengths.shape == (len(self.n_times),) and bool(
                np.all(lengths == np.asarray(self.n_times))
            )
        if not fits:
            held = lengths[0] if np.all(lengths == lengths[0]) else lengths.tolist()
            raise DataError(
                f"the split was made for {self.n_times} observations per trajectory, the data "
                f"hold {held}"
            )
        if isinstance(self.n_times, int) and data.lengths is None:
            k = self.n_train_times
            return data.take_times(np.arange(k)), data.take_times(np.arange(k, self.n_times))
        k = np.broadcast_to(np.asarray(self.n_train_times), lengths.shape)
        return data.segments(0, k), data.segments(k, lengths)

    def to_json(self) -> dict[str, Any]:
        def plain(v):
            return v if isinstance(v, int) else list(v)

        return {
            "kind": self.kind,
            "n_times": plain(self.n_times),
            "n_train_times": plain(self.n_train_times),
        }


_SPLITS: dict[str, type[AbstractSplit]] = {cls.kind: cls for cls in (TrajectorySplit, TimeSplit)}


def split_from_json(obj: Any) -> AbstractSplit:
    """The split described by ``obj`` (from :meth:`AbstractSplit.to_json`).

    Raises:
        DataError: if ``obj`` is not a valid split description.
    """
    if not isinstance(obj, dict) or obj.get("kind") not in _SPLITS:
        kind = obj.get("kind") if isinstance(obj, dict) else None
        raise DataError(f"not a split description (kind {kind!r}; known: {', '.join(_SPLITS)})")
    fields = {k: v for k, v in obj.items() if k != "kind"}
    cls = _SPLITS[obj["kind"]]
    try:
        return cls(**fields)
    except TypeError as err:
        raise DataError(f"malformed {obj['kind']} split: {err}") from None
