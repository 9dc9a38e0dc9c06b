"""Trajectory loss (multiple shooting), finite-difference derivative targets, and training on
states-only data from the command line."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.signal
from flax import nnx

import physnet as pn
from physnet.cli import main
from physnet.training import TrajectoryLoss, window_starts


class OscillatorField(nnx.Module):
    """q̈ = -ω² q with ω learnable: the true harmonic field at ω = 1."""

    def __init__(self, omega=1.0):
        self.omega = nnx.Param(jnp.asarray(omega, dtype=jnp.float64))

    def __call__(self, t, y, args=None):
        return jnp.stack([y[1], -(self.omega[...] ** 2) * y[0]])


@pytest.fixture(scope="module")
def harmonic_data():
    system = pn.systems.HarmonicOscillator(1.0)
    ts = jnp.linspace(0.0, 3.0, 16)
    y0 = jax.random.normal(jax.random.key(3), (4, 2), dtype=jnp.float64)
    states = jax.vmap(lambda y: system.solution(y, ts))(y0)
    return system, pn.Trajectories(ts=ts, states=states)


@pytest.fixture(scope="module")
def duffing_states():
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 4, 2.0, 11, key=jax.random.key(5), y0_std=0.6)
    return system, data.without_derivatives()


def _small_hnn(seed=0):
    return pn.HNN(pn.MLP(2, 1, width=6, depth=1, rngs=nnx.Rngs(seed)))


# ----------------------------------------------------------------------------- windows
@pytest.mark.parametrize(
    ("n", "window", "stride", "expected"),
    [
        (10, 4, 3, [0, 3, 6]),  # shared end points, exactly covering
        (10, 4, 1, list(range(7))),  # every window
        (11, 4, 3, [0, 3, 6, 7]),  # one more window ends at the last observation
        (5, 5, 4, [0]),
    ],
)
def test_window_starts(n, window, stride, expected):
    np.testing.assert_array_equal(window_starts(n, window, stride), expected)


def test_windows_are_cut_from_each_trajectory():
    ts = jnp.array([0.0, 0.1, 0.3, 0.4, 0.7, 0.8, 1.0])  # non-uniform
    states = jnp.arange(3 * 7 * 2, dtype=jnp.float64).reshape(3, 7, 2)
    data = pn.Trajectories(ts=ts, states=states)
    loss = TrajectoryLoss(3)  # stride 2: starts 0, 2, 4
    batch = loss.prepare(data)
    assert batch["ts"].shape == (9, 3) and batch["ys"].shape == (9, 3, 2)
    for b in range(3):
        for k, s in enumerate([0, 2, 4]):
            np.testing.assert_array_equal(batch["ys"][3 * b + k], states[b, s : s + 3])
            np.testing.assert_array_equal(batch["ts"][3 * b + k], ts[s : s + 3])
    # every observation interval lies in exactly one window
    assert loss.stride == 2
    with pytest.raises(pn.DataError, match="window=8"):
        TrajectoryLoss(8).prepare(data)


def test_prepare_uses_clean_states_on_request(harmonic_data):
    _, data = harmonic_data
    noisy = data.with_noise(0.1, key=jax.random.key(0))
    loss = TrajectoryLoss(4)
    np.testing.assert_array_equal(loss.prepare(noisy, clean=True)["ys"], loss.prepare(data)["ys"])
    assert not np.allclose(loss.prepare(noisy)["ys"], loss.prepare(data)["ys"])


def test_invalid_options_are_named():
    with pytest.raises(pn.ConfigError, match="window"):
        TrajectoryLoss(1)
    with pytest.raises(pn.ConfigError, match="implicit-midpoint"):
        TrajectoryLoss(solver="implicit-midpoint")
    with pytest.raises(pn.ConfigError, match="unknown solver"):
        TrajectoryLoss(solver="rk5")
    with pytest.raises(pn.ConfigError, match="diffrax solvers only"):
        TrajectoryLoss(solver="rk4", adjoint="backsolve")
    with pytest.raises(pn.ConfigError, match="unknown adjoint"):
        TrajectoryLoss(solver="tsit5", adjoint="forward")
    with pytest.raises(pn.ConfigError, match="observe"):
        TrajectoryLoss(observe="momenta")
    with pytest.raises(pn.ConfigError, match="substeps"):
        TrajectoryLoss(substeps=0)
    assert pn.training.get_loss("trajectory").window == 2


# ------------------------------------------------------------------- the true system
@pytest.mark.parametrize(
    ("options", "tol"),
    [
        ({"solver": "rk4", "substeps": 8}, 1e-14),
        ({"solver": "leapfrog", "substeps": 50}, 1e-7),
        ({"solver": "tsit5", "rtol": 1e-12, "atol": 1e-12}, 1e-20),
        ({"solver": "tsit5", "adjoint": "backsolve"}, 1e-15),
    ],
)
def test_loss_vanishes_for_the_true_vector_field(harmonic_data, options, tol):
    system, data = harmonic_data
    loss = TrajectoryLoss(5, **options)
    batch = loss.prepare(data)
    assert float(loss(system.vector_field, batch)) <= tol  # a plain callable
    assert float(loss(OscillatorField(1.0), batch)) <= tol  # an nnx module
    assert float(loss(OscillatorField(1.1), batch)) > 1e-4


def test_loss_on_positions_only(harmonic_data):
    system, data = harmonic_data
    loss = TrajectoryLoss(4, observe="positions", substeps=8)
    batch = loss.prepare(data)
    pred = loss.predict(OscillatorField(1.2), batch)
    expected = jnp.mean((pred[:, 1:, :1] - batch["ys"][:, 1:, :1]) ** 2)
    np.testing.assert_allclose(loss(OscillatorField(1.2), batch), expected, rtol=1e-14)


# ------------------------------------------------------------------------ gradients
def _directional_check(loss, model, batch, *, eps, rtol, seed=0):
    """Directional derivative of the loss along a random parameter direction: autodiff vs
    a central finite difference."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    @jax.jit
    def f(params):
        return loss(nnx.merge(graphdef, params, rest), batch)

    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    direction = jax.tree.unflatten(
        treedef,
        [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves, strict=True)],
    )
    grad = jax.jit(jax.grad(f))(params)
    pairs = zip(jax.tree.leaves(grad), jax.tree.leaves(direction), strict=True)
    ad = sum(jnp.vdot(g, v) for g, v in pairs)

    def shifted(sign):
        return jax.tree.map(lambda p, v: p + sign * eps * v, params, direction)

    fd = (f(shifted(1.0)) - f(shifted(-1.0))) / (2 * eps)
    np.testing.assert_allclose(float(ad), float(fd), rtol=rtol)


@pytest.mark.parametrize(
    ("options", "eps", "rtol"),
    [
        ({"solver": "rk4", "substeps": 2}, 1e-5, 1e-7),
        ({"solver": "leapfrog"}, 1e-5, 1e-7),
        ({"solver": "tsit5", "rtol": 1e-12, "atol": 1e-12}, 1e-4, 1e-6),
        ({"solver": "tsit5", "rtol": 1e-12, "atol": 1e-12, "adjoint": "recursive"}, 1e-4, 1e-6),
        ({"solver": "tsit5", "rtol": 1e-12, "atol": 1e-12, "adjoint": "backsolve"}, 1e-4, 1e-6),
    ],
)
def test_gradient_matches_finite_differences(duffing_states, options, eps, rtol):
    _, data = duffing_states
    loss = TrajectoryLoss(4, **options)
    batch = loss.prepare(data)
    _directional_check(loss, _small_hnn(1), batch, eps=eps, rtol=rtol)


def test_gradient_of_a_physical_parameter(harmonic_data):
    """d loss / d ω vanishes at the truth and has the right sign away from it."""
    _, data = harmonic_data
    loss = TrajectoryLoss(5, substeps=8)
    batch = loss.prepare(data)

    def grad_omega(omega):
        model = OscillatorField(omega)
        graphdef, params = nnx.split(model)
        g = jax.grad(lambda p: loss(nnx.merge(graphdef, p), batch))(params)
        return float(g["omega"][...])

    assert abs(grad_omega(1.0)) < 1e-8  # RK4's own error at h = 0.025
    assert grad_omega(1.2) > 0 > grad_omega(0.8)


# ------------------------------------------------------------------ every model kind
@pytest.mark.parametrize("kind", ["node", "hnn", "dhnn", "lnn"])
def test_loss_and_gradient_for_every_model(duffing_states, kind):
    from physnet._build import build_model

    _, data = duffing_states
    model = build_model(kind, 2, "mlp", seed=0, width=6, depth=1)
    loss = TrajectoryLoss(3)
    batch = loss.prepare(data)
    _directional_check(loss, model, batch, eps=1e-5, rtol=1e-6)


class DuffingLagrangianFamily(pn.AbstractApproximator):
    """L(q, q̇) = q̇²/2 - k q²/2 - c q⁴/4 with learnable k, c (true Duffing: k = 1, c = 2)."""

    in_features, out_features = 2, 1

    def __init__(self, k=0.5, c=1.0):
        self.k = nnx.Param(jnp.asarray(k, dtype=jnp.float64))
        self.c = nnx.Param(jnp.asarray(c, dtype=jnp.float64))

    def __call__(self, x):
        q, qdot = x[0], x[1]
        return jnp.stack([0.5 * qdot**2 - 0.5 * self.k[...] * q**2 - 0.25 * self.c[...] * q**4])

    def config(self):
        return {}


def test_lnn_learns_from_positions_only():
    """q observed only: q̇ estimated by central differences for the window starts, the loss
    compares positions; the Lagrangian's parameters go to the truth."""
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 6, 3.0, 31, key=jax.random.key(2), y0_std=0.6)
    states = pn.data.from_positions(data.ts, data.states[..., :1], method="central")
    # the estimated velocities are close to p = q̇ (second order, h = 0.1)
    assert float(jnp.max(jnp.abs(states.states[..., 1] - data.states[..., 1]))) < 0.02
    assert "central" in states.metadata["velocities"] and not states.has_derivatives
    model = pn.LNN(DuffingLagrangianFamily())
    loss = TrajectoryLoss(4, observe="positions")
    history = pn.fit(model, states, steps=200, optimizer=optax.adam(0.05), loss=loss)
    assert history.train_loss[-1] < 1e-2 * history.train_loss[0]
    assert abs(float(model.lagrangian.k[...]) - 1.0) < 0.03
    assert abs(float(model.lagrangian.c[...]) - 2.0) < 0.06


# -------------------------------------------------------------- finite differences
def _errors_on_grid(method, n, *, nonuniform=False, **options):
    system = pn.systems.HarmonicOscillator(1.3)
    s = np.linspace(0.0, 1.0, n)
    ts = 4.0 * (s + 0.08 * np.sin(2 * np.pi * s)) if nonuniform else 4.0 * s
    ts = jnp.asarray(ts)
    y0 = jnp.array([0.7, -0.4])
    states = system.solution(y0, ts)
    exact = jax.vmap(lambda y: system.vector_field(0.0, y))(states)
    est = pn.data.finite_difference(ts, states, method=method, **options)
    return float(jnp.max(jnp.abs(est - exact)))


@pytest.mark.parametrize("nonuniform", [False, True])
def test_central_differences_converge_at_second_order(nonuniform):
    errors = [_errors_on_grid("central", n, nonuniform=nonuniform) for n in (41, 81, 161)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.9) and np.all(orders < 2.2), orders


def test_savgol_converges_and_matches_scipy():
    errors = [_errors_on_grid("savgol", n, window_length=7, polyorder=3) for n in (41, 81, 161)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 2.8), orders  # cubic fit: third order at the ends, fourth inside
    ts = jnp.linspace(0.0, 2.0, 30)
    values = jax.random.normal(jax.random.key(1), (3, 30, 2), dtype=jnp.float64)
    est = pn.data.finite_difference(ts, values, method="savgol", window_length=9, polyorder=2)
    ref = scipy.signal.savgol_filter(
        np.asarray(values), 9, 2, deriv=1, delta=float(ts[1] - ts[0]), axis=1, mode="interp"
    )
    np.testing.assert_allclose(est, ref, rtol=1e-9, atol=1e-10)


def test_central_matches_numpy_gradient_on_nonuniform_times():
    ts = np.cumsum(np.random.default_rng(0).uniform(0.05, 0.2, 25))
    values = np.random.default_rng(1).normal(size=(2, 25, 3))
    est = pn.data.finite_difference(ts, values)
    np.testing.assert_allclose(est, np.gradient(values, ts, axis=1, edge_order=2), rtol=1e-10)


def test_smoothing_helps_on_noisy_states():
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 20, 5.0, 51, key=jax.random.key(0), y0_std=0.7)
    noisy = data.with_noise(0.05, key=jax.random.key(1), derivatives=False)
    central = noisy.with_estimated_derivatives("central")
    savgol = noisy.with_estimated_derivatives("savgol", window_length=9, polyorder=3)
    err_c = float(jnp.mean((central.derivatives - data.derivatives) ** 2))
    err_s = float(jnp.mean((savgol.derivatives - data.derivatives) ** 2))
    assert err_s < 0.3 * err_c
    # the exact derivatives are kept as the clean targets, the estimator is recorded
    np.testing.assert_array_equal(savgol.clean_derivatives, data.derivatives)
    assert "Savitzky-Golay" in savgol.metadata["derivatives"]
    states_only = noisy.without_derivatives().with_estimated_derivatives()
    assert states_only.clean_derivatives is None and states_only.has_derivatives


def test_finite_difference_errors():
    ts = jnp.linspace(0.0, 1.0, 5)
    with pytest.raises(pn.ConfigError, match="method"):
        pn.data.finite_difference(ts, jnp.zeros((5, 2)), method="spline")
    with pytest.raises(pn.ConfigError, match="window_length must be odd"):
        pn.data.finite_difference(ts, jnp.zeros((5, 2)), method="savgol", window_length=4)
    with pytest.raises(pn.ConfigError, match="polyorder"):
        pn.data.finite_difference(ts, jnp.zeros((5, 2)), method="savgol", polyorder=7)
    with pytest.raises(pn.DataError, match="at least 7"):
        pn.data.finite_difference(ts, jnp.zeros((5, 2)), method="savgol")
    with pytest.raises(pn.DataError, match="4 samples"):
        pn.data.finite_difference(ts, jnp.zeros((4, 2)))


# --------------------------------------------------------------------- command line
def _exact_field_mse(model, system, data):
    y = data.states.reshape(-1, data.state_size)
    pred = jax.vmap(lambda s: model(0.0, s))(y)
    exact = jax.vmap(lambda s: system.vector_field(0.0, s))(y)
    return float(jnp.mean((pred - exact) ** 2))


def test_cli_trains_an_hnn_on_states_only(tmp_path, capsys):
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 30, 5.0, 50, key=jax.random.key(4), y0_std=0.7)
    path = data.without_derivatives().save(tmp_path / "states.npz")
    run = tmp_path / "run"
    args = ["train", "--data", path, "--model", "hnn", "--loss", "trajectory", "--window", "2",
            "--steps", "400", "--lr", "3e-3", "--width", "16", "--quiet", "--out", run]  # fmt: skip
    assert main(list(map(str, args))) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["loss"] == "trajectory" and "test_mse" not in metrics
    config = json.loads((run / "config.json").read_text())
    assert config["loss_options"]["window"] == 2  # one schema: loss options nested
    model = pn.load_model(run / "checkpoint")
    untrained = pn.HNN(pn.MLP(2, 1, width=16, depth=2, rngs=nnx.Rngs(0)))
    k_split, _ = jax.random.split(jax.random.key(0))
    _, test = data.split(0.8, key=k_split)
    learned, initial = (
        _exact_field_mse(model, system, test),
        _exact_field_mse(untrained, system, test),
    )
    assert learned < 0.05 * initial, (learned, initial)
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run), "--t1", "5", "--solver", "implicit-midpoint"]) == 0
    report = json.loads(capsys.readouterr().out)
    # implicit midpoint keeps H_θ (measured from the equilibrium) to O(dt²) = 1e-4 at dt = 0.01
    assert report["energy_drift"] >= 0 and report["learned_energy_drift"] < 5e-5


def test_cli_rejects_misplaced_or_bad_trajectory_options(tmp_path, capsys):
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 5, 1.0, 6, key=jax.random.key(0))
    path = data.save(tmp_path / "d.npz")
    base = ["train", "--data", str(path), "--steps", "2", "--quiet"]
    assert main([*base, "--window", "3", "--out", str(tmp_path / "a")]) == 2
    assert "--window appl(ies) to --loss trajectory or weak only" in capsys.readouterr().err
    bad = [*base, "--loss", "trajectory", "--solver", "implicit-midpoint"]
    assert main([*bad, "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "implicit-midpoint" in err and len(err.strip().splitlines()) == 1
    assert main([*base, "--loss", "trajectory", "--window", "9", "--out", str(tmp_path / "c")]) == 2
    assert "window=9" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "abc")
