import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physnet as pn


@pytest.fixture(scope="module")
def duffing_data():
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    return system, pn.data.generate(system, 100, 5.0, 50, key=jax.random.key(0))


def test_generate_shapes_and_times(duffing_data):
    _, data = duffing_data
    assert data.states.shape == (100, 50, 2) and data.derivatives.shape == (100, 50, 2)
    np.testing.assert_allclose(data.ts, np.linspace(0, 5, 50))
    assert data.states.dtype == jnp.float64
    # initial conditions are standard normal
    assert abs(float(jnp.std(data.y0)) - 1.0) < 0.15


def test_generated_states_match_high_accuracy_solution(duffing_data):
    system, data = duffing_data
    solver = diffrax.Dopri8()

    def solve(y0):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(system.vector_field),
            solver,
            t0=0.0,
            t1=5.0,
            dt0=None,
            y0=y0,
            saveat=diffrax.SaveAt(ts=data.ts),
            stepsize_controller=diffrax.PIDController(rtol=1e-12, atol=1e-12),
            max_steps=200_000,
        )
        return sol.ys

    ref = jax.jit(jax.vmap(solve))(data.y0)
    assert float(jnp.max(jnp.abs(ref - data.states))) <= 1e-6


def test_derivatives_are_the_exact_vector_field(duffing_data):
    system, data = duffing_data
    y, dy = data.flat()
    exact = jax.vmap(lambda s: system.vector_field(0.0, s))(y)
    np.testing.assert_array_equal(np.asarray(dy), np.asarray(exact))
    # Duffing: dq/dt = p, dp/dt = -αq - βq³
    np.testing.assert_allclose(dy[:, 0], y[:, 1], rtol=0, atol=0)
    np.testing.assert_allclose(dy[:, 1], -y[:, 0] - 2 * y[:, 0] ** 3, rtol=1e-14, atol=1e-12)


def test_split_is_by_trajectory(duffing_data):
    _, data = duffing_data
    train, test = data.split(0.8, key=jax.random.key(1))
    assert train.n_trajectories == 80 and test.n_trajectories == 20
    all_y0 = {tuple(np.round(np.asarray(y), 12)) for y in data.y0}
    tr = {tuple(np.round(np.asarray(y), 12)) for y in train.y0}
    te = {tuple(np.round(np.asarray(y), 12)) for y in test.y0}
    assert tr.isdisjoint(te) and tr | te == all_y0
    with pytest.raises(pn.DataError):
        data.split(1.0, key=jax.random.key(1))


def test_noise_statistics_and_clean_copy(duffing_data):
    _, data = duffing_data
    noisy = data.with_noise(0.05, key=jax.random.key(2))
    d = np.asarray(noisy.states - data.states)
    assert abs(d.std() - 0.05) < 0.003 and abs(d.mean()) < 0.003
    assert np.asarray(noisy.derivatives - data.derivatives).std() == pytest.approx(0.05, abs=0.003)
    np.testing.assert_array_equal(noisy.clean_states, data.states)
    assert noisy.metadata["noise"] == pytest.approx(0.05)
    same = data.with_noise(0.05, key=jax.random.key(2))
    np.testing.assert_array_equal(same.states, noisy.states)


def test_save_load_roundtrip(tmp_path, duffing_data):
    _, data = duffing_data
    noisy = data.with_noise(0.05, key=jax.random.key(3))
    path = noisy.save(tmp_path / "d.npz")
    loaded = pn.data.load(path)
    for name in ("ts", "states", "derivatives", "clean_states", "clean_derivatives"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(noisy, name))
    assert loaded.metadata["system"] == "duffing"
    assert loaded.metadata["parameters"] == {"alpha": 1.0, "beta": 2.0, "gamma": 0.0}
    states_only = pn.data.load(data.without_derivatives().save(tmp_path / "s.npz"))
    assert not states_only.has_derivatives
    with pytest.raises(pn.DataError, match="no derivatives"):
        states_only.flat()


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"states": np.zeros((2, 5, 2))}, "missing array"),
        ({"ts": np.linspace(0, 1, 5), "states": np.zeros((2, 4, 2))}, "shape"),
        ({"ts": np.linspace(0, 1, 5), "states": np.full((2, 5, 2), np.nan)}, "NaN"),
        (
            {
                "ts": np.linspace(0, 1, 5),
                "states": np.zeros((2, 5, 2)),
                "derivatives": np.zeros((2, 5, 3)),
            },
            "derivatives must have",
        ),
        ({"ts": np.linspace(0, 1, 5)[::-1], "states": np.zeros((2, 5, 2))}, "increasing"),
        (
            {"ts": np.linspace(0, 1, 5), "states": np.zeros((2, 5, 2)), "extra": np.zeros(1)},
            "unexpected",
        ),
    ],
)
def test_load_rejects_malformed_files(tmp_path, arrays, message):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(pn.DataError, match=message):
        pn.data.load(path)


def test_load_rejects_missing_non_npz_and_pickled(tmp_path):
    with pytest.raises(pn.DataError, match="not found"):
        pn.data.load(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(pn.DataError, match="not a readable"):
        pn.data.load(tmp_path / "text.npz")
    obj = np.empty(1, dtype=object)
    obj[0] = {"a": 1}
    np.savez(tmp_path / "pickled.npz", ts=np.linspace(0, 1, 3), states=obj)
    with pytest.raises(pn.DataError):
        pn.data.load(tmp_path / "pickled.npz")
