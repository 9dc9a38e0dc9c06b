"""Uncertainty from ensembles: the spread of members' rollouts and of their read-outs."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ..models import Ensemble


class Spread(NamedTuple):
    """Mean and standard deviation over ensemble members (see :func:`ensemble_spread`)."""

    mean: Array
    std: Array


def ensemble_spread(ys: Array) -> Spread:
    """Mean and standard deviation over the leading member axis.

    With ``ys = rollout(ensemble, y0, ts)`` of shape ``(members, B, T, d)`` (or ``(members, T,
    d)``), ``std`` is the ensemble's uncertainty on each predicted state:

        mean = (1/N) Σ_i y_i,    std = sqrt((1/N) Σ_i (y_i - mean)²)

    (population standard deviation, ddof 0).

    Args:
        ys: member predictions, shape ``(members, ...)`` with at least one member.

    Returns:
        :class:`Spread` ``(mean, std)``, each of shape ``ys.shape[1:]``.

    Raises:
        ConfigError: if ``ys`` has no member axis or no members.
    """
    ys = jnp.asarray(ys)
    if ys.ndim < 1 or ys.shape[0] < 1:
        raise ConfigError(
            f"ensemble_spread: expected a leading member axis of size >= 1, got shape {ys.shape}"
        )
    return Spread(jnp.mean(ys, axis=0), jnp.std(ys, axis=0))


def _members(ensemble) -> list:
    if isinstance(ensemble, Ensemble):
        return ensemble.members()
    if isinstance(ensemble, nnx.Module):
        raise ConfigError(
            "ensemble_readout: got a single model; pass an Ensemble or a sequence of models"
        )
    members = list(ensemble)
    if not members:
        raise ConfigError("ensemble_readout: need at least one member")
    return members


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    return (
        isinstance(value, (np.ndarray, Array))
        and np.ndim(value) == 0
        and (np.issubdtype(np.asarray(value).dtype, np.number))
    )


def ensemble_readout(
    ensemble: Ensemble | Sequence[Any], readout: Callable[[Any], dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Apply a per-member read-out to every member and summarise each key over the members.

    The read-out is any Python callable ``member -> {name: value}`` (it runs once per member,
    outside ``jit``, so it may fit formulas, call sympy, ...): for example the learned damping
    ``lambda m: {"gamma_hat": float(m.gamma)}`` of a :class:`~physnet.DissipativeHNN`, or the
    coefficients of a KAN's symbolic formula.

    Args:
        ensemble: an :class:`~physnet.models.Ensemble` or a sequence of models.
        readout: maps one member to a dict; every member must give the same keys.

    Returns:
        ``{name: summary}``. For real scalar values the summary holds ``median``, ``mean``,
        ``std`` (population, over the members whose value is finite), ``members`` (every
        member's value, in order, as floats) and ``n_finite``; for other values (for example
        formula strings) only ``members``.

    Raises:
        ConfigError: if the read-out does not return a dict, or members give different keys.
    """
    rows = []
    for i, member in enumerate(_members(ensemble)):
        row = readout(member)
        if not isinstance(row, dict):
            raise ConfigError(
                f"ensemble_readout: the read-out must return a dict, got {type(row).__name__} "
                f"for member {i}"
            )
        if rows and set(row) != set(rows[0]):
            raise ConfigError(
                f"ensemble_readout: member {i} gives keys {sorted(row)}, member 0 gives "
                f"{sorted(rows[0])}"
            )
        rows.append(row)
    summary: dict[str, dict[str, Any]] = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        if all(_is_number(v) for v in values):
            floats = [float(v) for v in values]
            finite = np.asarray([v for v in floats if math.isfinite(v)])
            stats = (
                {
                    "median": float(np.median(finite)),
                    "mean": float(np.mean(finite)),
                    "std": float(np.std(finite)),
                }
                if finite.size
                else {"median": math.nan, "mean": math.nan, "std": math.nan}
            )
            summary[name] = stats | {"members": floats, "n_finite": int(finite.size)}
        else:
            summary[name] = {"members": values}
    return summary
