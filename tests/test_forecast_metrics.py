"""The chaotic-benchmark metrics on cases with known values, and simulate's recorded failure."""

import numpy as np
import pytest

import physnet as pn
from physnet.benchmarks import simulate
from physnet.evaluation import (
    attractor_hellinger,
    coefficient_error,
    smape,
    support_recovery,
    valid_prediction_time,
)


def test_smape_on_the_0_200_scale():
    x = np.ones((4, 2))
    assert smape(x, x) == 0.0
    assert smape(x, -x) == pytest.approx(200.0)
    assert smape(x, 3 * x) == pytest.approx(100.0)  # |1 - 3| / (1 + 3) = 1/2
    assert smape(x, np.full_like(x, np.nan)) == pytest.approx(200.0)


def test_valid_prediction_time_is_the_first_crossing_in_lyapunov_times():
    ts = np.linspace(0.0, 10.0, 101)
    true = np.ones((101, 3))
    pred = true.copy()
    pred[40:] = 2.0  # sMAPE 66.7 > 30 from t = 4
    assert valid_prediction_time(true, pred, ts, 0.5) == pytest.approx(0.5 * 4.0)
    assert valid_prediction_time(true, true, ts, 0.5) == pytest.approx(0.5 * 10.0)
    pred[40:] = 1.3  # sMAPE 26 < 30: still valid
    assert valid_prediction_time(true, pred, ts, 0.5) == pytest.approx(5.0)
    with pytest.raises(pn.DataError, match="lyapunov must be > 0"):
        valid_prediction_time(true, pred, ts, 0.0)


def test_attractor_hellinger_is_0_for_the_same_measure_and_1_for_disjoint_ones():
    rng = np.random.default_rng(0)
    orbit = rng.uniform(size=(20000, 2))
    other = rng.uniform(size=(20000, 2))
    assert attractor_hellinger(orbit, orbit) < 1e-7  # rounding of sqrt(1 - sum)
    assert attractor_hellinger(orbit, other) < 0.05  # the same measure, other samples
    assert attractor_hellinger(orbit, orbit + 10.0) == pytest.approx(1.0)
    assert attractor_hellinger(orbit, np.full_like(orbit, np.nan)) == pytest.approx(1.0)


def test_coefficient_error_and_support():
    true = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    est = np.array([[1.1, 0.0], [0.0, 2.0], [0.3, 0.0]])
    assert coefficient_error(true, est) == pytest.approx(np.hypot(0.1, 0.3) / np.sqrt(5.0))
    assert support_recovery(true, est) == {
        "true_terms": 2, "false_terms": 1, "missed_terms": 0, "exact": False
    }  # fmt: skip
    assert support_recovery(true, true)["exact"]


def test_simulate_records_a_diverging_field_instead_of_raising():
    ts = np.linspace(0.0, 2.0, 21)
    out, why = simulate(lambda y: y**2, np.array([1.0]), ts, bound=100.0)  # blows up at t = 1
    assert why == "diverged"
    assert np.isfinite(out[:9]).all() and np.isnan(out[-1]).all()
    out, why = simulate(lambda y: -y, np.array([1.0]), ts, bound=100.0)
    assert why is None
    np.testing.assert_allclose(out[:, 0], np.exp(-ts), rtol=1e-6)
