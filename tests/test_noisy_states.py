"""Noise-robust losses: the weak form (quadrature order, exactness, gradient), latent starting
states (errors in variables) and the trajectory loss on ragged, non-uniform data."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn
from physnet.interpret import read_hamiltonian
from physnet.training import (
    LatentShootingLoss,
    TrajectoryLoss,
    WeakFormLoss,
    bump_test_functions,
    trapezoid_weights,
)


class DuffingField(nnx.Module):
    """q̇ = p, ṗ = -a q - b q³ - g p with learnable (a, b, g)."""

    def __init__(self, a=1.0, b=2.0, g=0.1):
        self.c = nnx.Param(jnp.asarray([a, b, g], dtype=jnp.float64))

    def __call__(self, t, y, args=None):
        a, b, g = self.c[...]
        return jnp.stack([y[1], -a * y[0] - b * y[0] ** 3 - g * y[1]])


SYSTEM = pn.systems.Duffing(1.0, 2.0, 0.1)


def _solution(y0, ts):
    """Accurate states at the times ``ts`` (RK4, 16 substeps per interval)."""
    return pn.integrators.solve(SYSTEM.vector_field, y0, jnp.asarray(ts), substeps=16)


def _data(n_points, t1=2.0, n=3, seed=0):
    y0 = 0.7 * jax.random.normal(jax.random.key(seed), (n, 2), dtype=jnp.float64)
    ts = jnp.linspace(0.0, t1, n_points)
    return pn.Trajectories(ts=ts, states=jax.vmap(lambda y: _solution(y, ts))(y0))


def _weak_residual(data, **options):
    loss = WeakFormLoss(**options)
    return float(jnp.sqrt(loss(DuffingField(), loss.prepare(data))))


def test_trapezoid_weights_integrate_linear_exactly_on_a_nonuniform_grid():
    ts = np.sort(np.random.default_rng(0).uniform(0, 2, 9))
    np.testing.assert_allclose(
        trapezoid_weights(ts) @ (3 * ts + 1), 1.5 * (ts[-1] ** 2 - ts[0] ** 2) + ts[-1] - ts[0]
    )


def test_test_functions_vanish_at_the_ends_and_their_derivative_is_right():
    ts = np.linspace(0.3, 1.7, 201)
    phi, dphi = bump_test_functions(ts, 4, 3)
    np.testing.assert_allclose(phi[:, [0, -1]], 0.0, atol=1e-14)
    np.testing.assert_allclose(np.gradient(phi, ts, axis=1)[:, 5:-5], dphi[:, 5:-5], atol=2e-3)


def test_weak_residual_of_the_exact_field_vanishes_at_the_quadrature_order():
    """Uniform grid, window spanning a fixed time: p = 4 bumps make the trapezoid rule at least
    fourth order; on a jittered (non-uniform) grid it is second order."""
    errors, jittered = [], []
    for n in (21, 41, 81):
        data = _data(n)
        window = (n - 1) // 2 + 1  # one time unit
        errors.append(_weak_residual(data, window=window, stride=window // 2))
        ts = np.asarray(data.ts)
        jitter = np.random.default_rng(1).uniform(-0.3, 0.3, n) * (ts[1] - ts[0])
        jitter[[0, -1]] = 0
        tj = ts + jitter
        states = jax.vmap(_solution, in_axes=(0, None))(data.y0, tj)
        nonuni = pn.Trajectories(ts=jnp.asarray(tj), states=states)
        jittered.append(_weak_residual(nonuni, window=window, stride=window // 2))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 3.5), orders
    assert errors[-1] < 1e-5
    orders_j = np.log2(np.array(jittered[:-1]) / np.array(jittered[1:]))
    assert np.all(orders_j > 1.6), orders_j


def test_weak_loss_gradient_matches_finite_differences():
    data = (
        _data(31).without_derivatives().with_noise(0.02, key=jax.random.key(2), derivatives=False)
    )
    loss = WeakFormLoss(window=11, n_test=3)
    batch = loss.prepare(data)

    @jax.jit
    def value(c):
        def field(t, y):
            return jnp.stack([y[1], -c[0] * y[0] - c[1] * y[0] ** 3 - c[2] * y[1]])

        return loss(field, batch)

    c = jnp.asarray([0.8, 1.5, 0.3])
    grad = jax.grad(value)(c)
    eps = 1e-6
    fd = jnp.stack([(value(c + eps * e) - value(c - eps * e)) / (2 * eps) for e in jnp.eye(3)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_weak_loss_trains_through_fit_on_ragged_nonuniform_data():
    data = _data(41, t1=4.0, n=4)
    ts = np.asarray(data.times) * (1 + 0.05 * np.arange(4))[:, None]  # own times per trial
    states = jax.vmap(_solution)(data.y0, jnp.asarray(ts))
    ragged = pn.Trajectories(ts=jnp.asarray(ts), states=states, lengths=np.array([41, 30, 25, 41]))
    model = DuffingField(0.5, 1.0, 0.5)
    pn.fit(model, ragged, steps=60, optimizer=optax.lbfgs(), loss="weak", progress=False)
    np.testing.assert_allclose(model.c[...], [1.0, 2.0, 0.1], atol=2e-3)


def test_trajectory_loss_on_ragged_nonuniform_data_equals_the_per_trajectory_loss():
    data = _data(21, n=3)
    ts = np.asarray(data.times) + np.random.default_rng(0).uniform(0, 0.02, (3, 21)).cumsum(1)
    states = jax.vmap(_solution)(data.y0, jnp.asarray(ts))
    noisy = pn.Trajectories(ts=jnp.asarray(ts), states=states, lengths=np.array([21, 12, 17]))
    noisy = noisy.with_noise(0.05, key=jax.random.key(0), derivatives=False)
    loss, model = TrajectoryLoss(4), DuffingField(0.7, 1.0, 0.2)
    batch = loss.prepare(noisy)
    sq, count = 0.0, 0
    for b in range(3):
        part = loss.prepare(noisy.trajectory(b))
        assert np.all(np.diff(np.asarray(part["ts"]), axis=1) > 0)
        sq += float(loss(model, part)) * part["ys"][:, 1:].size
        count += part["ys"][:, 1:].size
    assert batch["ys"].shape[0] == sum(
        len(pn.training.window_starts(n, 4, 3)) for n in (21, 12, 17)
    )
    np.testing.assert_allclose(float(loss(model, batch)), sq / count, rtol=1e-12)


def test_latent_starts_recover_the_clean_states_and_the_noise_level():
    """With the exact field, fitting the latent starts alone denoises them: the estimate is
    closer to the clean states than the observations are, and σ̂ is close to σ."""
    sigma = 0.05
    data = _data(31, t1=3.0, n=4, seed=3)
    noisy = data.with_noise(sigma, key=jax.random.key(7), derivatives=False)
    loss = LatentShootingLoss(window=10)
    model = DuffingField()
    model.c = nnx.Variable(model.c[...])  # hold the field fixed: only the starts are trained
    wrapped = loss.wrap(model, noisy)
    pn.fit(wrapped, noisy, steps=25, optimizer=optax.lbfgs(), loss=loss, progress=False)
    clean = loss.prepare(noisy, clean=True)["ys"][:, 0]
    raw = loss.prepare(noisy)["ys"][:, 0]
    est_err = float(jnp.sqrt(jnp.mean((wrapped.starts[...] - clean) ** 2)))
    raw_err = float(jnp.sqrt(jnp.mean((raw - clean) ** 2)))
    assert est_err < 0.5 * raw_err, (est_err, raw_err)
    np.testing.assert_allclose(loss.noise_level(wrapped, noisy), sigma, rtol=0.2)


def test_latent_shooting_refuses_an_unwrapped_model():
    loss = LatentShootingLoss(window=5)
    batch = loss.prepare(_data(11))
    with pytest.raises(pn.ConfigError, match="wrap the model first"):
        loss(DuffingField(), batch)


@pytest.mark.parametrize(
    ("options", "match"),
    [({"window": 2}, "window"), ({"n_test": 0}, "n_test"), ({"quadrature": "gauss"}, "quadrature")],
)
def test_weak_loss_options_are_checked(options, match):
    with pytest.raises(pn.ConfigError, match=match):
        WeakFormLoss(**options)


def test_cli_trains_with_the_weak_loss_and_its_options(tmp_path, capsys):
    import json

    from physnet.cli import main

    path = _data(31, n=6).save(tmp_path / "states.npz")
    run = tmp_path / "run"
    args = ["train", "--data", path, "--model", "dhnn", "--approximator", "polynomial",
            "--degree", "4", "--loss", "weak", "--window", "9", "--n-test", "3", "--power", "3",
            "--steps", "5", "--quiet", "--out", run]  # fmt: skip
    assert main(list(map(str, args))) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["loss"] == "weak"
    assert config["loss_options"] == {"window": 9, "n_test": 3, "power": 3}
    assert config["options"] == {"degree": 4}
    assert pn.load_model(run / "checkpoint").hamiltonian.degree == 4
    bad = [*args[:5], "--approximator", "mlp", "--degree", "4", "--out", tmp_path / "other"]
    assert main(list(map(str, bad))) != 0
    assert "--degree applies to --approximator polynomial" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["node", "hnn", "dhnn", "lnn"])
def test_weak_loss_and_latent_shooting_work_for_every_model(kind):
    data = _data(13, n=2)
    model = pn.build_model(kind, 2, "mlp", width=4, depth=1)
    weak = WeakFormLoss(window=7)
    value, grads = nnx.value_and_grad(lambda m: weak(m, weak.prepare(data)))(model)
    assert np.isfinite(value) and all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    latent = LatentShootingLoss(window=3)
    wrapped = latent.wrap(model, data)
    assert np.isfinite(latent(wrapped, latent.prepare(data)))


# --------------------------------------------------------- Polynomial and least squares
def _duffing_polynomial_h():
    """H = p²/2 + q²/2 + q⁴/2 (α = 1, β = 2) as a degree-4 Polynomial without constant."""
    h = pn.Polynomial(2, 1, degree=4, constant=False, rngs=nnx.Rngs(0))
    exact = {(2, 0): 0.5, (4, 0): 0.5, (0, 2): 0.5}
    h.coefficients[...] = jnp.asarray([[exact.get(e, 0.0)] for e in h.exponents])
    return h


def test_polynomial_represents_a_known_polynomial_exactly_and_reads_back():
    h = _duffing_polynomial_h()
    ys = jax.random.normal(jax.random.key(0), (7, 2))
    expected = ys[:, 1] ** 2 / 2 + ys[:, 0] ** 2 / 2 + ys[:, 0] ** 4 / 2
    np.testing.assert_allclose(jax.vmap(h)(ys)[:, 0], expected, rtol=1e-14)
    model = pn.DissipativeHNN(h, gamma_init=0.1)
    np.testing.assert_allclose(
        jax.vmap(lambda y: model(0.0, y))(ys),
        jax.vmap(lambda y: SYSTEM.vector_field(0.0, y))(ys),
        rtol=1e-12,
    )
    readout = read_hamiltonian(model, ys, method="symbolic")
    assert readout.coefficients == {"p**2": 0.5, "q**2": 0.5, "q**4": 0.5}
    assert readout.r2 == pytest.approx(1.0)


def test_polynomial_options_and_registry():
    h = pn.build_approximator("polynomial", 2, 1, rngs=nnx.Rngs(0), degree=2, constant=False)
    assert h.exponents == ((0, 1), (1, 0), (0, 2), (1, 1), (2, 0))
    assert h.config()["constant"] is False
    h = pn.Polynomial(2, 1, degree=2, exclude=[(0, 0), (1, 1)], rngs=nnx.Rngs(0))
    assert (0, 0) not in h.exponents and (1, 1) not in h.exponents and not h.constant
    with pytest.raises(pn.ConfigError, match="exclude"):
        pn.Polynomial(2, 1, degree=2, exclude=[(3, 0)], rngs=nnx.Rngs(0))
    with pytest.raises(pn.ConfigError, match="degree"):
        pn.Polynomial(2, 1, degree=0, rngs=nnx.Rngs(0))


def test_weak_loss_of_a_linear_model_is_its_closed_form_quadratic_and_least_squares_solves_it():
    """A NeuralODE with a Polynomial field f(y) = Θ(y)ᵀC: the weak residual is G C - R with
    G = Σ_i φ_k(t_i) w_i Θ(y_i)/(b - a), so the loss is quadratic in C; Levenberg-Marquardt
    reaches the closed-form least-squares solution."""
    data = _data(31, t1=3.0, n=4).without_derivatives()
    data = data.with_noise(0.02, key=jax.random.key(3), derivatives=False)
    field = pn.Polynomial(2, 2, degree=3, rngs=nnx.Rngs(1))
    model = pn.NeuralODE(field)
    loss = WeakFormLoss(window=11, n_test=2)
    batch = loss.prepare(data)
    theta = jax.vmap(jax.vmap(field.features))(batch["ys"])  # (S, W, M)
    g = np.einsum("skw,swm->skm", batch["phi"], theta)
    rhs = np.asarray(batch["rhs"])  # (S, K, d)
    coef = np.asarray(field.coefficients[...])
    closed = np.mean((np.einsum("skm,md->skd", g, coef) - rhs) ** 2)
    np.testing.assert_allclose(float(loss(model, batch)), closed, rtol=1e-12)
    a = g.reshape(-1, g.shape[-1])
    best = np.linalg.lstsq(a, rhs.reshape(-1, 2), rcond=None)[0]
    result = pn.training.least_squares(model, data, loss, steps=5)
    np.testing.assert_allclose(field.coefficients[...], best, rtol=1e-6, atol=1e-8)
    assert result.costs[-1] <= result.costs[0]
    np.testing.assert_allclose(result.costs[-1], np.mean((a @ best - rhs.reshape(-1, 2)) ** 2))


def test_latent_least_squares_recovers_clean_states_parameters_and_noise_level():
    sigma = 0.05
    clean = _data(31, t1=3.0, n=6, seed=3)
    noisy = clean.with_noise(sigma, key=jax.random.key(7), derivatives=False)
    model = DuffingField(0.9, 2.2, 0.15)
    loss = LatentShootingLoss(31, substeps=4)
    result = pn.training.latent_least_squares(model, noisy, loss, steps=15)
    true_starts = loss.prepare(noisy, clean=True)["ys"][:, 0]
    raw = loss.prepare(noisy)["ys"][:, 0]
    est_err = float(jnp.sqrt(jnp.mean((result.starts - true_starts) ** 2)))
    raw_err = float(jnp.sqrt(jnp.mean((raw - true_starts) ** 2)))
    assert est_err < 0.5 * raw_err, (est_err, raw_err)
    np.testing.assert_allclose(result.noise_level, sigma, rtol=0.25)
    np.testing.assert_allclose(model.c[...], [1.0, 2.0, 0.1], atol=0.05)


@pytest.mark.slow  # its two stages have their own fast tests above
def test_fit_states_identifies_a_polynomial_dissipative_hnn_from_clean_states():
    """Noise-free states: the exact coefficients to the integration accuracy (RK4, 8 substeps)."""
    data = _data(31, t1=3.0, n=6, seed=4).without_derivatives()
    model = pn.DissipativeHNN(
        pn.Polynomial(2, 1, degree=4, constant=False, rngs=nnx.Rngs(0)), gamma_init=0.01
    )
    result = pn.fit_states(model, data, max_step=1.0)
    c = read_hamiltonian(model, data, method="symbolic").coefficients
    np.testing.assert_allclose([c["q**2"], c["q**4"], c["p**2"]], [0.5, 0.5, 0.5], rtol=1e-5)
    assert float(model.dissipation.gamma) == pytest.approx(0.1, rel=1e-5)
    assert result.noise_level.shape == (2,) and np.all(result.noise_level < 1e-5)


def test_least_squares_refuses_a_loss_without_residuals():
    with pytest.raises(pn.ConfigError, match="residuals"):
        pn.training.least_squares(DuffingField(), _data(11), TrajectoryLoss(3))


def test_cli_fit_states_identifies_duffing_from_noisy_states(tmp_path, capsys):
    import json

    from physnet.cli import main

    clean = _data(41, t1=4.0, n=8, seed=3)
    noisy = clean.with_noise(0.01, key=jax.random.key(4), derivatives=False)
    path = noisy.save(tmp_path / "states.npz")
    run = tmp_path / "run"
    args = ["train", "--data", path, "--model", "dhnn", "--approximator", "polynomial",
            "--degree", "4", "--fit-states", "--max-step", "1", "--weak-steps", "15",
            "--latent-steps", "10", "--scale", "none", "--quiet", "--out", run]  # fmt: skip
    assert main(list(map(str, args))) == 0
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert config["fit_states"] == {"weak_steps": 15, "latent_steps": 10, "max_step": 1.0}
    assert metrics["fit"] == "states"
    # the estimated noise level is the one added, and the field is Duffing's
    np.testing.assert_allclose(metrics["noise_level"], 0.01, rtol=0.3)
    model = pn.load_model(run / "checkpoint")
    ys = clean.states.reshape(-1, 2)
    learned = jax.vmap(lambda y: model(0.0, y))(ys)
    true = jax.vmap(lambda y: SYSTEM.vector_field(0.0, y))(ys)
    assert float(jnp.max(jnp.abs(learned - true))) < 0.05 * float(jnp.max(jnp.abs(true)))
    # the default --scale auto trains this record in canonical scales; σ̂ is reported in the
    # file's units all the same
    scaled = [a for a in args[:-2] if a not in ("--scale", "none")] + ["--out", tmp_path / "sc"]
    assert main(list(map(str, scaled))) == 0
    metrics = json.loads((tmp_path / "sc" / "metrics.json").read_text())
    assert metrics["scales"] != [1.0, 1.0]
    np.testing.assert_allclose(metrics["noise_level"], 0.01, rtol=0.3)
    for extra, message in (
        (["--ensemble", "2"], "drop --ensemble"),
        (["--loss", "trajectory"], "--loss trajectory does not apply"),
        (["--steps", "10"], "does not take Adam --steps"),
        (["--batch-size", "8"], "drop --batch-size"),
    ):
        bad = [*args[:-2], *extra, "--out", tmp_path / f"bad{len(extra)}{extra[0]}"]
        assert main(list(map(str, bad))) != 0
        assert message in capsys.readouterr().err
        assert not (tmp_path / f"bad{len(extra)}{extra[0]}").exists()
    no_flag = [a for a in args[:-2] if a != "--fit-states"] + ["--out", tmp_path / "nf"]
    assert main(list(map(str, no_flag))) != 0
    assert "appl(ies) to --fit-states only" in capsys.readouterr().err


def test_weak_prepare_tabulates_each_subdomain_on_its_own_times():
    """Trajectories on different (non-uniform) grids and shared ones: prepare reuses the test
    functions of equal subdomain times and gives exactly the per-subdomain tabulation."""
    base = np.linspace(0.0, 2.0, 21)
    jitter = np.random.default_rng(2).uniform(-0.3, 0.3, 21) * (base[1] - base[0])
    jitter[[0, -1]] = 0.0
    times = np.stack([base, base + jitter, base])
    states = np.random.default_rng(3).normal(size=(3, 21, 2))
    data = pn.Trajectories(ts=jnp.asarray(times), states=jnp.asarray(states))
    loss = WeakFormLoss(window=9, stride=4, n_test=3)
    batch = loss.prepare(data)
    row = 0
    for b in range(3):
        for s in range(0, 21 - 9 + 1, 4):
            t, y = times[b, s : s + 9], states[b, s : s + 9]
            f, df = bump_test_functions(t, loss.power, loss.n_test)
            w = trapezoid_weights(t) / (t[-1] - t[0])
            np.testing.assert_array_equal(batch["phi"][row], w * f)
            np.testing.assert_array_equal(batch["rhs"][row], -(w * df) @ y)
            row += 1
    assert row == batch["phi"].shape[0]
