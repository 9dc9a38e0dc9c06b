import dataclasses

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


def test_the_methods_are_the_data_functions(tmp_path, duffing_data):
    """Noise, I/O and derivative estimation are functions of pn.data; the methods call them."""
    _, data = duffing_data
    key = jax.random.key(4)
    by_method = data.with_noise(0.05, key=key, derivatives=False)
    by_function = pn.data.add_noise(data, 0.05, key=key, derivatives=False)
    for name in ("states", "derivatives", "clean_states", "clean_derivatives"):
        np.testing.assert_array_equal(getattr(by_function, name), getattr(by_method, name))
    assert by_function.metadata == by_method.metadata
    a = by_method.save(tmp_path / "a.npz")
    b = pn.data.save(by_function, tmp_path / "b")
    assert b == tmp_path / "b.npz" and a.read_bytes() == b.read_bytes()
    assert pn.data.is_data_file(b)
    estimated = pn.data.estimate_derivatives(data.without_derivatives())
    np.testing.assert_array_equal(
        estimated.derivatives, data.without_derivatives().with_estimated_derivatives().derivatives
    )


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


# ----------------------------------------------------- per-trajectory and ragged times
def _ragged(key=0):
    data = pn.data.generate(pn.systems.Duffing(1.0, 1.0, 0.1), 3, 3.0, 31, key=jax.random.key(key))
    rng = np.random.default_rng(key)
    keep = rng.random((3, 31)) > 0.25
    keep[:, :3] = True
    keep[2, 20:] = False  # trajectory 2 ends early
    rows = [(b, i) for b in range(3) for i in np.flatnonzero(keep[b])]
    b, i = np.array(rows).T
    ragged = pn.Trajectories.from_arrays(
        np.asarray(data.ts)[i],
        np.asarray(data.states)[b, i],
        np.asarray(data.derivatives)[b, i],
        trajectory_ids=b,
    )
    return data, keep, ragged


@pytest.mark.parametrize("method, order", [("central", 2), ("forward", 1), ("savgol", 3)])
def test_derivatives_converge_at_their_order_on_a_perturbed_grid(method, order):
    rng = np.random.default_rng(1)
    errors, steps = [], []
    for n in (40, 80, 160, 320):
        h = 2.0 / n
        ts = np.arange(n + 1) * h + rng.uniform(-0.3, 0.3, n + 1) * h
        dy = pn.data.finite_difference(
            ts, np.sin(3 * ts)[:, None], method=method, polyorder=3, window_length=5
        )
        inner = slice(3, -3)  # the one-sided ends converge at their own (lower) order
        errors.append(np.abs(np.asarray(dy)[inner, 0] - 3 * np.cos(3 * ts[inner])).max())
        steps.append(h)
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert slope == pytest.approx(order, abs=0.35), (errors, slope)
    # the weights are exact for polynomials of the stencil's degree on the actual grid
    ts = np.cumsum(rng.uniform(0.05, 0.2, 30))
    poly = 1 + 2 * ts - 0.5 * ts**2 if order >= 2 else 3 - 2 * ts
    exact = 2 - ts if order >= 2 else np.full_like(ts, -2.0)
    got = pn.data.finite_difference(ts, poly[:, None], method=method, polyorder=3, window_length=5)[
        :, 0
    ]
    np.testing.assert_allclose(got, exact, atol=1e-10)


def test_per_trajectory_times_give_the_shared_result_on_a_uniform_grid(duffing_data):
    _, data = duffing_data
    small = data.take(np.arange(4))
    per = dataclasses.replace(small, ts=jnp.broadcast_to(small.ts, (4, small.n_times)))
    assert not per.shared_times and per.is_uniform() and small.is_uniform()
    for method in pn.data.FD_METHODS:
        a = small.with_estimated_derivatives(method).derivatives
        b = per.with_estimated_derivatives(method).derivatives
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)


def test_ragged_flat_take_noise_and_save_load(tmp_path):
    data, keep, ragged = _ragged()
    assert ragged.is_ragged and not ragged.shared_times
    np.testing.assert_array_equal(ragged.trajectory_lengths, keep.sum(axis=1))
    assert np.all(np.isfinite(np.asarray(ragged.states)))  # padding is finite
    y, dy = ragged.flat()
    np.testing.assert_array_equal(y, np.asarray(data.states)[keep])
    np.testing.assert_array_equal(dy, np.asarray(data.derivatives)[keep])
    np.testing.assert_array_equal(ragged.y0, data.y0)
    # take: trajectory 2 (shortest) alone trims the padding
    two = ragged.take(np.array([2]))
    assert two.n_times == keep[2].sum() and not two.is_ragged
    np.testing.assert_array_equal(two.times_of(0), np.asarray(data.ts)[keep[2]])
    np.testing.assert_array_equal(
        ragged.take(np.array([2, 0])).flat()[0],
        np.concatenate([y[-keep[2].sum() :], y[: keep[0].sum()]]),
    )
    first = ragged.take_times(np.arange(3))
    assert first.n_times == 3 and not first.is_ragged
    with pytest.raises(pn.DataError, match="past the end"):
        ragged.take_times(np.arange(ragged.n_times))
    # noise leaves padding untouched and is reported on the valid part only
    noisy = ragged.with_noise(0.1, key=jax.random.key(0))
    pad = ~ragged.mask
    np.testing.assert_array_equal(np.asarray(noisy.states)[pad], np.asarray(ragged.states)[pad])
    np.testing.assert_array_equal(noisy.flat(clean=True)[0], y)
    # save/load keeps lengths and per-trajectory times
    loaded = pn.data.load(noisy.save(tmp_path / "ragged.npz"))
    np.testing.assert_array_equal(loaded.lengths, ragged.lengths)
    np.testing.assert_array_equal(loaded.ts, ragged.ts)
    np.testing.assert_array_equal(loaded.flat()[0], noisy.flat()[0])
    # derivatives estimated on each trajectory's own grid match trajectory-by-trajectory ones
    est = ragged.with_estimated_derivatives()
    for b in range(3):
        alone = ragged.trajectory(b).with_estimated_derivatives()
        np.testing.assert_allclose(est.trajectory(b).derivatives, alone.derivatives, atol=1e-12)
    with pytest.raises(pn.DataError, match="common|same times"):
        ragged.common_times("the windowed trajectory loss")


def test_files_of_the_first_version_still_load(tmp_path):
    path = tmp_path / "v1.npz"
    np.savez(
        path,
        ts=np.linspace(0, 1, 5),
        states=np.zeros((2, 5, 2)),
        metadata=np.array('{"format_version": 1, "system": "duffing"}'),
    )
    data = pn.data.load(path)
    assert data.shared_times and data.lengths is None and data.metadata == {"system": "duffing"}
    with pytest.raises(pn.DataError, match="lengths"):
        np.savez(path, ts=np.linspace(0, 1, 5), states=np.zeros((2, 5, 2)), lengths=[1, 5])
        pn.data.load(path)
