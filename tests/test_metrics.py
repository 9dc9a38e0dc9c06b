"""Metrics of the evaluation layer: derivative/acceleration MSE and rollout metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn
from physnet.evaluation import (
    acceleration_mse,
    derivative_mse,
    rollout_metrics,
    trajectory_metrics,
)

SYSTEM = pn.systems.HarmonicOscillator(1.0)


@pytest.fixture
def data():
    ts = jnp.linspace(0.0, 2.0, 9)
    y0 = jnp.array([[1.0, 0.0], [0.2, -0.6], [-0.5, 0.3]])
    states = jax.vmap(lambda y: SYSTEM.solution(y, ts))(y0)
    derivatives = jax.vmap(jax.vmap(lambda y: SYSTEM.vector_field(0.0, y)))(states)
    noisy = states + 0.01 * jnp.sin(7.0 * states)
    return pn.Trajectories(
        ts=ts,
        states=noisy,
        derivatives=derivatives + 0.02,
        clean_states=states,
        clean_derivatives=derivatives,
    )


@pytest.fixture
def model():
    return pn.HNN(pn.MLP(2, 1, width=8, rngs=nnx.Rngs(0)))


def _field_errors(model, states, derivatives):
    y = np.asarray(states).reshape(-1, 2)
    dy = np.asarray(derivatives).reshape(-1, 2)
    pred = np.stack([np.asarray(model(0.0, jnp.asarray(s))) for s in y])
    return pred - dy


def test_derivative_mse_equals_a_hand_computation(data, model):
    err = _field_errors(model, data.states, data.derivatives)
    np.testing.assert_allclose(derivative_mse(model, data), np.mean(err**2), rtol=1e-12)
    err = _field_errors(model, data.clean_states, data.clean_derivatives)
    np.testing.assert_allclose(derivative_mse(model, data, clean=True), np.mean(err**2), rtol=1e-12)
    assert derivative_mse(model, data) != derivative_mse(model, data, clean=True)


def test_acceleration_mse_is_the_error_of_the_second_half(data, model):
    err = _field_errors(model, data.states, data.derivatives)[:, 1:]
    np.testing.assert_allclose(acceleration_mse(model, data), np.mean(err**2), rtol=1e-12)
    err = _field_errors(model, data.clean_states, data.clean_derivatives)[:, 1:]
    np.testing.assert_allclose(
        acceleration_mse(model, data, clean=True), np.mean(err**2), rtol=1e-12
    )


def test_trajectory_metrics_on_a_hand_made_trajectory():
    energy = lambda y: 0.5 * (y[0] ** 2 + y[1] ** 2)  # noqa: E731
    true = jnp.array([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], [[2.0, 0.0], [2.0, 0.0], [2.0, 0.0]]])
    # trajectory 0: E = 0.5, 0.605, 0.405 -> max |E - E0| / E0 = 0.21
    # trajectory 1: E = 2, 2, 2.08 -> 0.04; the drift is the median over trajectories
    learned = jnp.array(
        [
            [[1.0, 0.0], [1.1, 0.0], [0.9, 0.0]],
            [[2.0, 0.0], [2.0, 0.0], [2.0, 0.4]],
        ]
    )
    drift_1 = (0.5 * (4.0 + 0.16) - 2.0) / 2.0
    metrics = trajectory_metrics(learned, true, energy=energy)
    assert set(metrics) == {"energy_drift", "rollout_rmse"}
    np.testing.assert_allclose(metrics["energy_drift"], np.median([0.21, drift_1]), rtol=1e-12)
    rmse = np.sqrt(np.mean((np.asarray(learned) - np.asarray(true)) ** 2))
    np.testing.assert_allclose(metrics["rollout_rmse"], rmse, rtol=1e-12)
    assert list(trajectory_metrics(learned, true)) == ["rollout_rmse"]


def test_learned_energy_drift_is_measured_from_the_origin():
    """An additive constant in the learned energy changes nothing: the scale is
    E(y0) - E(0), not E(y0)."""
    learned = jnp.array([[[1.0, 0.0], [1.1, 0.0], [0.9, 0.0]]])
    energy = lambda y: y[0] ** 2 + y[1] ** 2  # noqa: E731
    shifted = lambda y: energy(y) + 100.0  # noqa: E731
    metrics = trajectory_metrics(learned, learned, energy=energy, learned_energy=shifted)
    assert list(metrics) == ["energy_drift", "rollout_rmse", "learned_energy_drift"]
    np.testing.assert_allclose(metrics["learned_energy_drift"], 0.21, rtol=1e-12)
    np.testing.assert_allclose(metrics["energy_drift"], 0.21, rtol=1e-12)
    assert metrics["rollout_rmse"] == 0.0


def test_rollout_metrics_rolls_out_model_and_system(model):
    y0 = jnp.array([[1.0, 0.0], [0.0, 0.5]])
    metrics = rollout_metrics(model, SYSTEM, y0, t1=2.0, dt=0.01)
    ts = jnp.linspace(0.0, 2.0, 21)
    learned = pn.rollout(model, y0, ts, substeps=10)
    true = pn.rollout(SYSTEM.vector_field, y0, ts, substeps=10)
    assert metrics == trajectory_metrics(learned, true, energy=SYSTEM.energy)
    with_learned = rollout_metrics(model, SYSTEM, y0, t1=2.0, dt=0.01, learned_energy=True)
    expected = trajectory_metrics(learned, true, energy=SYSTEM.energy, learned_energy=model.energy)
    assert with_learned == expected
    # the true system rolled out against itself: no error, energy drift of RK4 only
    exact = rollout_metrics(SYSTEM.vector_field, SYSTEM, y0, t1=2.0, dt=0.01)
    assert exact["rollout_rmse"] == 0.0 and exact["energy_drift"] < 1e-9
    with pytest.raises(pn.ConfigError, match="learned_energy"):
        rollout_metrics(SYSTEM.vector_field, SYSTEM, y0, t1=2.0, dt=0.01, learned_energy=True)


def test_energy_function_and_energy_mse_by_hand():
    from physnet.evaluation import energy_function, energy_mse

    energy = energy_function("2.4*(1 - cos(theta)) + omega**2", ["theta", "omega"])
    y = jnp.array([0.3, -0.7])
    assert float(energy(y)) == pytest.approx(2.4 * (1 - np.cos(0.3)) + 0.49, rel=1e-15)
    a = jnp.array([[[0.1, 0.2], [0.3, 0.4]]])
    b = jnp.array([[[0.1, 0.0], [0.0, 0.4]]])
    e = lambda s: s[0] ** 2 + s[1] ** 2  # noqa: E731
    expected = np.mean([(0.05 - 0.01) ** 2, (0.25 - 0.16) ** 2])
    assert float(energy_mse(e, a, b)) == pytest.approx(expected, rel=1e-14)
    mask = jnp.array([[True, False]])
    assert float(energy_mse(e, a, b, mask)) == pytest.approx((0.05 - 0.01) ** 2, rel=1e-14)
    with pytest.raises(pn.ConfigError, match="cannot read"):
        energy_function("2 *", ["q", "p"])


def test_bad_rollout_times_are_clear_errors():
    system = pn.systems.HarmonicOscillator()
    y0 = jnp.array([1.0, 0.0])
    for ts in (jnp.array([0.0, jnp.nan, 1.0]), jnp.array([0.0, 1.0, 0.5])):
        with pytest.raises(pn.ConfigError, match="ts must"):
            pn.rollout(system.vector_field, y0, ts)
