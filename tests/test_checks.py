"""The option validators of physnet._checks: one message shape, bools refused, numpy scalars
accepted, nan and inf refused where a finite number is asked."""

import math

import numpy as np
import pytest

from physnet import ConfigError, DataError
from physnet._checks import choice, integer, known_options, number, optional


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_bools_are_not_integers_nor_numbers(value):
    with pytest.raises(ConfigError, match="must be an integer"):
        integer("Owner", "count", value)
    with pytest.raises(ConfigError, match="must be a finite number"):
        number("Owner", "rate", value)


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_numpy_integers_are_integers(value):
    out = integer("Owner", "count", value, low=1)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize("value", [2.5, np.float32(2.5), np.float64(2.5), 2.5 + 0j, "2", None])
def test_non_integers_are_refused(value):
    with pytest.raises(ConfigError, match="must be an integer"):
        integer("Owner", "count", value)


def test_the_message_names_owner_option_bound_and_value():
    with pytest.raises(ConfigError) as err:
        integer("KAN", "grid", 0, low=1)
    assert str(err.value) == "KAN: grid must be an integer >= 1, got 0"
    with pytest.raises(ConfigError) as err:
        integer("plot", "layer", 5, low=0, high=2)
    assert str(err.value) == "plot: layer must be an integer in [0, 2], got 5"
    with pytest.raises(ConfigError) as err:
        number("Adam", "learning_rate", -1.0, positive=True)
    assert str(err.value) == "Adam: learning_rate must be a finite number > 0, got -1.0"
    with pytest.raises(ConfigError) as err:
        choice("Adam", "schedule", "linear", ("constant", "cosine"))
    assert str(err.value) == "Adam: schedule must be one of ('constant', 'cosine'), got 'linear'"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_nan_and_inf_are_refused_where_finite(value):
    with pytest.raises(ConfigError, match=r"rate must be a finite number >= 0, got"):
        number("Owner", "rate", value, low=0)


def test_inf_passes_without_finite_but_nan_never_does():
    assert number("Owner", "limit", math.inf, finite=False, positive=True) == math.inf
    with pytest.raises(ConfigError, match="limit must be a number > 0, got nan"):
        number("Owner", "limit", math.nan, finite=False, positive=True)


def test_numbers_accept_ints_and_numpy_floats_and_return_floats():
    for value in (2, np.int64(2), np.float32(2.0), 2.0):
        out = number("Owner", "rate", value, positive=True)
        assert out == 2.0 and type(out) is float
    with pytest.raises(ConfigError, match="rate must be a finite number > 0, got 0"):
        number("Owner", "rate", 0, positive=True)
    with pytest.raises(ConfigError, match="got '1'"):
        number("Owner", "rate", "1")


def test_optional_lets_none_through_and_says_so():
    assert optional(integer, "FitConfig", "batch_size", None, low=1) is None
    assert optional(integer, "FitConfig", "batch_size", np.int64(4), low=1) == 4
    with pytest.raises(ConfigError) as err:
        optional(integer, "FitConfig", "batch_size", 0, low=1)
    assert str(err.value) == "FitConfig: batch_size must be an integer >= 1 or None, got 0"
    with pytest.raises(ConfigError, match="must be a finite number > 0 or None, got -1"):
        optional(number, "FitConfig", "max_param_norm", -1, positive=True)


def test_choice_refuses_unhashable_values_and_the_error_class_can_be_chosen():
    with pytest.raises(ConfigError, match=r"must be one of \('a',\), got \['a'\]"):
        choice("Owner", "mode", ["a"], {"a"})
    with pytest.raises(DataError, match="file: size must be an integer >= 1, got -2"):
        integer("file", "size", -2, low=1, error=DataError)


def test_known_options_names_the_unknown_ones_and_the_choices():
    known_options("Owner", {"a": 1}, ("a", "b"))
    with pytest.raises(ConfigError) as err:
        known_options("Owner", {"c": 1, "a": 2, "z": 3}, ("a", "b"))
    assert str(err.value) == "Owner: unknown option(s) c, z; choose from a, b"
    with pytest.raises(ConfigError, match="Owner: unknown option\\(s\\) x; it takes none"):
        known_options("Owner", {"x": 1}, ())


def test_a_half_open_range_says_so():
    assert number("read", "threshold", 0.0, low=0.0, below=1.0) == 0.0
    for value in (1.0, -0.5, math.nan, False):
        with pytest.raises(ConfigError) as err:
            number("read", "threshold", value, low=0.0, below=1.0)
        assert (
            str(err.value)
            == f"read: threshold must be a finite number in [0.0, 1.0), got {value!r}"
        )
