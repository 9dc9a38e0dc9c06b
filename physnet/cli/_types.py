"""The command line's parser class, argparse value types and shared help strings."""

from __future__ import annotations

import argparse

EXIT_USER_ERROR = 2
"""The exit status of a user error (bad file, bad option, diverged training): 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line."""

    def error(self, message):  # noqa: D401
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _int_at_least(low: int, what: str):
    """An argparse type: an integer >= ``low`` (``what`` names it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonnegative_int = _int_at_least(0, "an integer >= 0")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _nonnegative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, 2**63 - 1], got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _bool(text: str) -> bool:
    from .._errors import ConfigError

    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"expected true or false, got {text!r}")
    return value in ("true", "1", "yes")


_OVERWRITE_HELP = "replace the output if it is a previous physnet output of the same kind"


class _Choices(list):
    """The registered names, as argparse choices, that also admit a user's own class named by
    import path ``package.module:Class`` (imported and checked when the command runs)."""

    def __contains__(self, value) -> bool:
        return super().__contains__(value) or (isinstance(value, str) and ":" in value)


_PATH_HELP = "or your own class as package.module:Class (the module is imported)"
