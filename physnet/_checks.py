"""Validators for options: one message shape for every option physnet checks.

Each validator raises :class:`~physnet.ConfigError` (or the error class it is given) with
``"{owner}: {name} must be {what}, got {value!r}"``, e.g. ``"KAN: grid_size must be an integer
>= 1, got 0"``, and returns the value converted (``int`` or ``float``). Bools are neither integers
nor numbers here; numpy integers and floats are.
"""

from __future__ import annotations

import math
import numbers

from ._errors import ConfigError


def _fail(owner, name: str, what: str, value, error: type[Exception], none: bool = False):
    where = f"{owner}: " if owner else ""
    what += " or None" if none else ""
    raise error(f"{where}{name} must be {what}, got {value!r}")


def _bounds(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def is_integer(value) -> bool:
    """Whether ``value`` is an integer (a numpy integer counts, a bool does not)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """Whether ``value`` is a real number (int, float or numpy scalar; a bool is not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(
    owner,
    name: str,
    value,
    *,
    low: int | None = None,
    high: int | None = None,
    error: type[Exception] = ConfigError,
    none: bool = False,
) -> int | None:
    """``value`` as an ``int``, checked to be an integer in ``[low, high]`` (either bound may be
    None; with ``none``, None passes too): ``"{owner}: {name} must be an integer >= {low}, got
    {value!r}"``."""
    if none and value is None:
        return None
    if (
        not is_integer(value)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        _fail(owner, name, "an integer" + _bounds(low, high), value, error, none)
    return int(value)


def number(
    owner,
    name: str,
    value,
    *,
    positive: bool = False,
    low: float | None = None,
    below: float | None = None,
    finite: bool = True,
    error: type[Exception] = ConfigError,
    none: bool = False,
) -> float | None:
    """``value`` as a ``float``, checked to be a real number, finite unless ``finite=False``,
    ``> 0`` with ``positive``, ``>= low`` with ``low`` and ``< below`` with ``below``:
    ``"{owner}: {name} must be a finite number > 0, got {value!r}"``. NaN is refused whatever ``finite`` says; with ``none``, None
    passes too."""
    if none and value is None:
        return None
    ok = is_number(value) and not math.isnan(value)
    if ok and finite:
        ok = math.isfinite(value)
    if ok and positive:
        ok = value > 0
    if ok and low is not None:
        ok = value >= low
    if ok and below is not None:
        ok = value < below
    if not ok:
        what = "a finite number" if finite else "a number"
        if positive:
            what += " > 0"
        if low is not None and below is not None:
            what += f" in [{low}, {below})"
        elif low is not None:
            what += f" >= {low}"
        elif below is not None:
            what += f" < {below}"
        _fail(owner, name, what, value, error, none)
    return float(value)


def choice(
    owner, name: str, value, choices, *, error: type[Exception] = ConfigError, none: bool = False
):
    """``value``, checked to be one of ``choices``: ``"{owner}: {name} must be one of (...),
    got {value!r}"``."""
    if none and value is None:
        return None
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against a set or dict
        ok = False
    if not ok:
        _fail(owner, name, f"one of {tuple(choices)}", value, error, none)
    return value


def optional(check, owner, name: str, value, **kwargs):
    """``None`` if ``value`` is None, else ``check(owner, name, value, **kwargs)`` (a failure
    says "... or None, got ...")."""
    return check(owner, name, value, none=True, **kwargs)


def known_options(owner, options, known, *, error: type[Exception] = ConfigError) -> None:
    """Refuse the names in ``options`` that are not in ``known``: ``"{owner}: unknown option(s)
    a, b; choose from x, y"`` (``known`` listed in its own order)."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        takes = f"choose from {', '.join(known)}" if known else "it takes none"
        raise error(f"{owner}: unknown option(s) {', '.join(unknown)}; {takes}")
