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


@dataclasses.dataclass(frozen=True)
class TimeSplit(AbstractSplit):
    """The first observations of every trajectory train, the rest test (for single long
    records, as in Greydanus et al. 2019: the first 80 % in time).

    Attributes:
        n_train_times: observations ``0 .. n_train_times - 1`` train, the rest test.
        n_times: how many observations each trajectory of the split data held.
    """

    n_train_times: int
    n_times: int
    kind: ClassVar[str] = "time"

    def __post_init__(self):
        if not (2 <= self.n_train_times <= self.n_times - 2):
            raise DataError(
                f"a time split of {self.n_times} observations needs at least 2 for training and "
                f"2 for testing, got {self.n_train_times} for training"
            )

    @classmethod
    def by_fraction(cls, n_times: int, train_fraction: float) -> TimeSplit:
        """The first ``round(train_fraction * n_times)`` observations train."""
        if not 0.0 < train_fraction < 1.0:
            raise DataError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
        return cls(int(round(train_fraction * n_times)), n_times)

    def apply(self, data: Trajectories) -> tuple[Trajectories, Trajectories]:
        if data.n_times != self.n_times:
            raise DataError(
                f"the split was made for {self.n_times} observations per trajectory, the data "
                f"hold {data.n_times}"
            )
        k = self.n_train_times
        return data.take_times(np.arange(k)), data.take_times(np.arange(k, self.n_times))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_times": self.n_times, "n_train_times": self.n_train_times}


_SPLITS: dict[str, type[AbstractSplit]] = {cls.kind: cls for cls in (TrajectorySplit, TimeSplit)}


def split_from_json(obj: Any) -> AbstractSplit:
    """The split described by ``obj`` (from :meth:`AbstractSplit.to_json`).

    Raises:
        DataError: if ``obj`` is not a valid split description.
    """
    if not isinstance(obj, dict) or obj.get("kind") not in _SPLITS:
        kind = obj.get("kind") if isinstance(obj, dict) else None
        raise DataError(
            f"not a split description (kind {kind!r}; known: {', '.join(_SPLITS)})"
        )
    fields = {k: v for k, v in obj.items() if k != "kind"}
    cls = _SPLITS[obj["kind"]]
    try:
        return cls(**fields)
    except TypeError as err:
        raise DataError(f"malformed {obj['kind']} split: {err}") from None
