"""Neural symplectic form, port-Hamiltonian model, forced Duffing: the physics they carry."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn
from physnet._build import build_model
from physnet._errors import ConfigError
from physnet.approximators import AbstractApproximator
from physnet.data import generate
from physnet.models import (
    HNN,
    FourierForce,
    Friction,
    LearnedDissipation,
    LearnedForce,
    NeuralSymplecticForm,
    PortHNN,
)
from physnet.systems import DoublePendulum, ForcedDuffing
from physnet.training import DerivativeLoss, load_model, save_model


class Fixed(AbstractApproximator):
    """A fixed function as an approximator (one dummy parameter)."""

    def __init__(self, fn, in_features, out_features):
        self.fn, self.in_features, self.out_features = fn, in_features, out_features
        self.dummy = nnx.Param(jnp.zeros(()))

    def __call__(self, x):
        return self.fn(x) + 0.0 * self.dummy[...]

    def config(self):
        return {}


def mlp(i, o, seed, width=16):
    return pn.MLP(i, o, width=width, activation="tanh", rngs=nnx.Rngs(seed))


def states(seed, d=2, n=50, scale=1.5):
    return scale * jax.random.normal(jax.random.key(seed), (n, d))


def field(model, ys, t=0.0):
    return jax.vmap(lambda y: model(t, y))(ys)


# ------------------------------------------------------------------ neural symplectic form
def test_nsf_analytic_form_gives_the_known_field():
    # 1 DOF with position-dependent mass m(q) = 2 + cos q on u = (q, v):
    # θ = m(q) v dq, H = m v²/2 + 1 - cos q, so v̇ = -(m' v²/2 + V')/m.
    m = lambda q: 2.0 + jnp.cos(q)  # noqa: E731
    theta = Fixed(lambda u: jnp.stack([m(u[0]) * u[1], 0.0 * u[0]]), 2, 2)
    ham = Fixed(lambda u: jnp.stack([0.5 * m(u[0]) * u[1] ** 2 + 1 - jnp.cos(u[0])]), 2, 1)
    model = NeuralSymplecticForm(theta, ham)
    ys = states(0)
    q, v = ys[:, 0], ys[:, 1]
    expected = jnp.stack([v, -(-jnp.sin(q) * v**2 / 2 + jnp.sin(q)) / m(q)], axis=-1)
    np.testing.assert_allclose(field(model, ys), expected, rtol=1e-12, atol=1e-13)


def test_nsf_double_pendulum_in_velocity_coordinates():
    # θ = M(q) q̇ · dq and H = the energy in (q, q̇) give the true (q̇, q̈)
    system = DoublePendulum()
    velocity = system.in_velocity_coordinates()

    def one_form(u):
        q, qdot = u[:2], u[2:]
        return jnp.concatenate([system.mass_matrix(q) @ qdot, jnp.zeros(2)])

    model = NeuralSymplecticForm(
        Fixed(one_form, 4, 4), Fixed(lambda u: velocity.energy(u)[None], 4, 1)
    )
    ys = states(1, d=4, n=20, scale=0.8)
    expected = jax.vmap(lambda y: velocity.vector_field(0.0, y))(ys)
    np.testing.assert_allclose(field(model, ys), expected, rtol=1e-10, atol=1e-11)


def test_nsf_lagrangian_chart_double_pendulum_and_equivalence():
    # lagrangian=True learns only a(q, q̇) of θ = a·dq: a = M(q)q̇ gives the true field, and the
    # model equals the general form with θ = (a, 0) for any a (here a random MLP)
    system = DoublePendulum()
    velocity = system.in_velocity_coordinates()
    a = Fixed(lambda u: system.mass_matrix(u[:2]) @ u[2:], 4, 2)
    model = NeuralSymplecticForm(
        a, Fixed(lambda u: velocity.energy(u)[None], 4, 1), lagrangian=True
    )
    ys = states(1, d=4, n=20, scale=0.8)
    expected = jax.vmap(lambda y: velocity.vector_field(0.0, y))(ys)
    np.testing.assert_allclose(field(model, ys), expected, rtol=1e-10, atol=1e-11)
    net, h = mlp(4, 2, 5), mlp(4, 1, 6)
    chart = NeuralSymplecticForm(net, h, canonical=1.0, lagrangian=True)
    full = Fixed(lambda u: jnp.concatenate([net(u) + u[2:], jnp.zeros(2)]), 4, 4)
    np.testing.assert_allclose(
        field(chart, ys), field(NeuralSymplecticForm(full, h), ys), rtol=1e-12, atol=1e-12
    )
    w = jax.vmap(chart.form)(ys)
    np.testing.assert_array_equal(w[:, 2:, 2:], 0.0)  # no dq̇ ∧ dq̇ part
    with pytest.raises(ConfigError, match=r"dq components of a 1-form \(4 -> 2\)"):
        NeuralSymplecticForm(mlp(4, 4, 0), h, lagrangian=True)
    with pytest.raises(ConfigError, match="lagrangian must be True or False"):
        NeuralSymplecticForm(net, h, lagrangian=1)
    built = build_model("nsf", 4, "mlp", seed=0, width=8, lagrangian=True)
    assert built.lagrangian and built.one_form.out_features == 2


@pytest.mark.parametrize("theta", ["p dq", "-q dp"])
def test_nsf_with_the_canonical_form_is_the_hnn(theta):
    h = mlp(2, 1, 3)
    fn = {
        "p dq": lambda u: jnp.stack([u[1], 0.0 * u[0]]),
        "-q dp": lambda u: jnp.stack([0.0 * u[0], -u[0]]),
    }[theta]
    nsf = NeuralSymplecticForm(Fixed(fn, 2, 2), h)
    ys = states(2)
    np.testing.assert_allclose(field(nsf, ys), field(HNN(h), ys), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("canonical", [0.0, 1.0])
def test_nsf_conserves_its_energy_for_random_parameters(canonical):
    model = NeuralSymplecticForm(mlp(4, 4, 7), mlp(4, 1, 8), canonical=canonical)
    ys = states(3, d=4)
    rate = jax.vmap(lambda y: jnp.dot(jax.grad(model.energy)(y), model(0.0, y)))(ys)
    scale = jnp.max(jnp.abs(field(model, ys)))
    assert np.max(np.abs(rate)) < 1e-12 * max(1.0, float(scale))
    w = jax.vmap(model.form)(ys)
    np.testing.assert_allclose(w, -jnp.swapaxes(w, 1, 2), atol=1e-15)


def test_nsf_singular_form_is_nan_and_reported():
    zero = Fixed(lambda u: 0.0 * u, 2, 2)
    model = NeuralSymplecticForm(zero, mlp(2, 1, 0))
    assert bool(jnp.all(jnp.isnan(model(0.0, jnp.ones(2)))))
    with pytest.raises(ConfigError, match="singular"):
        model.check_form(states(0))
    # W₁₂ changing sign inside the data: θ = (q p, 0) gives W₁₂ = -q
    flip = NeuralSymplecticForm(
        Fixed(lambda u: jnp.stack([u[0] * u[1], 0.0 * u[0]]), 2, 2), mlp(2, 1, 0)
    )
    with pytest.raises(ConfigError, match="sign|singular"):
        flip.check_form(jnp.array([[1.0, 0.5], [-1.0, 0.5]]))
    with pytest.raises(ConfigError, match="one_form"):
        NeuralSymplecticForm(mlp(2, 3, 0), mlp(2, 1, 0))
    with pytest.raises(ConfigError, match="canonical"):
        NeuralSymplecticForm(mlp(2, 2, 0), mlp(2, 1, 0), canonical=-1.0)


def loss_of(model, batch):
    return DerivativeLoss()(model, batch)


def grads_match_fd(model, batch, n_directions=3):
    """Reverse-mode gradient against central differences along random directions."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    flat, unravel = jax.flatten_util.ravel_pytree(params)

    @jax.jit
    def f(x):
        return loss_of(nnx.merge(graphdef, unravel(x), rest), batch)

    grad = jax.grad(f)(flat)
    eps = 1e-5
    for k in range(n_directions):
        v = jax.random.normal(jax.random.key(k), flat.shape)
        fd = (f(flat + eps * v) - f(flat - eps * v)) / (2 * eps)
        np.testing.assert_allclose(jnp.dot(grad, v), fd, rtol=1e-6, atol=1e-9)


def test_nsf_and_port_gradients_match_finite_differences():
    data = generate(ForcedDuffing(), 2, 1.0, 6, key=jax.random.key(0))
    batch = DerivativeLoss().prepare(data)
    grads_match_fd(NeuralSymplecticForm(mlp(2, 2, 0, 6), mlp(2, 1, 1, 6), canonical=1.0), batch)
    grads_match_fd(PortHNN(mlp(2, 1, 2, 6), Friction(0.2), FourierForce(1, 2)), batch)


# ----------------------------------------------------------------------------- port-HNN
def test_port_energy_balance_and_positive_dissipation():
    model = PortHNN(mlp(2, 1, 0), LearnedDissipation(mlp(2, 4, 1)), FourierForce(1, 2))
    ys = states(4)
    ts = jnp.linspace(0.0, 7.0, ys.shape[0])
    r = jax.vmap(model.dissipation_matrix)(ys)
    assert float(jnp.min(jnp.linalg.eigvalsh(r))) > -1e-12
    g = model.input_matrix()

    def balance(t, y):
        grad_h = jax.grad(model.energy)(y)
        rate = jnp.dot(grad_h, model(t, y))
        expected = -grad_h @ model.dissipation_matrix(y) @ grad_h + grad_h @ g @ model.force(t)
        return rate - expected

    assert float(jnp.max(jnp.abs(jax.vmap(balance)(ts, ys)))) < 1e-12


def test_port_recovers_the_forced_duffing_field_exactly():
    system = ForcedDuffing()
    h = Fixed(lambda u: system.energy(u)[None], 2, 1)
    force = FourierForce(1, 1, omega_init=system.omega, amplitude_init=system.gamma)
    model = PortHNN(h, Friction(system.delta), force)
    ys, ts = states(5), jnp.linspace(0.0, 10.0, 50)
    expected = jax.vmap(system.vector_field)(ts, ys)
    np.testing.assert_allclose(jax.vmap(model)(ts, ys), expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(force.amplitudes[0, 0], system.gamma, rtol=1e-14)
    np.testing.assert_allclose(force.frequencies[0], system.omega, rtol=1e-14)


def test_port_and_nsf_build_and_round_trip(tmp_path):
    for kind, options in (
        ("port-hnn", {"force": "learned"}),
        ("port-hnn", {}),
        ("nsf", {}),
        ("nsf", {"lagrangian": True}),
    ):
        model = build_model(kind, 2, "mlp", seed=1, width=8, activation="tanh", **options)
        path = save_model(model, tmp_path / f"{kind}-{len(options)}")
        back = load_model(path)
        y, t = jnp.array([0.3, -0.2]), 1.7
        np.testing.assert_array_equal(model(t, y), back(t, y))
    with pytest.raises(ConfigError, match="force"):
        build_model("port-hnn", 2, "mlp", force="bogus")
    with pytest.raises(ConfigError, match="approximator of time"):
        LearnedForce(mlp(2, 1, 0))


# ------------------------------------------------------------------------ forced Duffing
def test_forced_duffing_data_carry_time():
    system = ForcedDuffing()
    data = generate(system, 3, 10.0, 101, key=jax.random.key(0))
    assert float(jnp.max(jnp.abs(data.states[:, 0]))) <= 2.5
    t = data.flat_times()
    y, dy = data.flat()
    np.testing.assert_allclose(dy, jax.vmap(system.vector_field)(t, y), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(t[:101], data.ts)
    # the energy of the unforced part obeys dH/dt = -δp² + γ cos(ωt) p
    p = y[:, 1]
    rate = jax.vmap(lambda y_, d_: jnp.dot(jax.grad(system.energy)(y_), d_))(y, dy)
    np.testing.assert_allclose(rate, -system.delta * p**2 + system.force(t) * p, atol=1e-12)
    # the derivative loss sees each sample at its time: the true field has zero loss
    h = Fixed(lambda u: system.energy(u)[None], 2, 1)
    true = PortHNN(
        h, Friction(system.delta), FourierForce(1, 1, omega_init=1.2, amplitude_init=0.2)
    )
    assert float(DerivativeLoss()(true, DerivativeLoss().prepare(data))) < 1e-24
    chaotic = ForcedDuffing.chaotic()
    assert chaotic.parameters() == {
        "alpha": -1.0,
        "beta": 1.0,
        "delta": 0.1,
        "gamma": 0.39,
        "omega": 1.4,
    }
    with pytest.raises(ConfigError, match="omega"):
        ForcedDuffing(omega=0.0)
    with pytest.raises(ConfigError, match="autonomous"):
        generate(system, 2, 1.0, 5, key=jax.random.key(0), coordinates="velocity")


def test_cli_simulate_train_evaluate_nsf_and_port(tmp_path):
    import json

    from physnet.cli import main

    data = tmp_path / "forced.npz"
    assert main(["simulate", "--system", "forced-duffing", "--gamma", "0.5", "--n-trajectories",
                 "5", "--n-points", "11", "--t1", "2", "--out", str(data)]) == 0  # fmt: skip
    assert pn.Trajectories.load(data).metadata["parameters"]["gamma"] == 0.5
    for model in ("port-hnn", "nsf"):
        run = tmp_path / model
        assert main(["train", "--data", str(data), "--model", model, "--width", "4", "--depth",
                     "1", "--steps", "5", "--quiet", "--out", str(run)]) == 0  # fmt: skip
        assert main(["evaluate", "--run", str(run), "--t1", "2"]) == 0
        metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
        assert np.isfinite(metrics["rollout_rmse"])


def test_lyapunov_exponent_and_stroboscopic_section_of_known_flows():
    from physnet.analysis import largest_lyapunov_exponent, stroboscopic_section
    from physnet.plotting import poincare_section

    def linear(t, y, args=None):  # λ₁ = 0.3 exactly
        return jnp.array([0.3 * y[0], -1.0 * y[1]])

    lam = largest_lyapunov_exponent(
        linear, jnp.array([1e-3, 1.0]), t1=20.0, transient=20.0, substeps=20
    )
    assert abs(lam - 0.3) < 1e-6
    # damped, periodically forced linear oscillator: the section converges to one point
    system = ForcedDuffing(alpha=1.0, beta=0.0, delta=0.5, gamma=0.3, omega=1.0)
    points = stroboscopic_section(
        system.vector_field, jnp.array([1.0, 0.0]), period=system.period, n_periods=3,
        transient=30, substeps=50,
    )  # fmt: skip
    assert points.shape == (3, 2)
    np.testing.assert_allclose(points[0], points[2], atol=1e-8)
    fig = poincare_section({"true": points, "other": points + 10.0})
    assert "3 of 3 points outside" in fig.axes[1].get_title()


def test_fourier_force_frequency_bound():
    force = FourierForce(1, 2, omega_init=(1.0, 2.0), min_frequency=0.6)
    np.testing.assert_allclose(force.frequencies, [1.0, 2.0], rtol=1e-12)
    force.raw_omega[...] = jnp.asarray([-50.0, 0.0])  # far down the softplus: at the bound
    assert float(force.frequencies[0]) >= 0.6 and abs(float(force.frequencies[0]) - 0.6) < 1e-12
    assert FourierForce(**force.config()).min_frequency == 0.6
    with pytest.raises(ConfigError, match="min_frequency must be"):
        FourierForce(1, 1, min_frequency=-1.0)
    with pytest.raises(ConfigError, match="> min_frequency"):
        FourierForce(1, 1, omega_init=0.5, min_frequency=0.6)


# ------------------------------------------------------------- one port-Hamiltonian core
def test_dissipative_hnn_is_the_port_hamiltonian_core_without_a_force():
    """DissipativeHNN and PortHNN share one core (H, dissipation, (J + D)∇H): with no force
    the port-HNN's field is the dissipative HNN's, bit for bit, for every dissipation form."""
    from physnet.models._dissipative import HamiltonianWithDissipation

    assert issubclass(pn.DissipativeHNN, HamiltonianWithDissipation)
    assert issubclass(pn.PortHNN, HamiltonianWithDissipation)
    assert not issubclass(pn.PortHNN, pn.DissipativeHNN)  # isinstance checks keep their meaning
    ys = jax.random.normal(jax.random.key(0), (8, 2))
    for dissipation in ("friction", "none", "general"):
        h = pn.MLP(2, 1, width=8, rngs=nnx.Rngs(1))
        d = pn.MLP(2, 4, width=8, rngs=nnx.Rngs(2)) if dissipation == "general" else dissipation
        dhnn = pn.DissipativeHNN(h, d)
        port = pn.PortHNN(h, dhnn.dissipation, force="none")
        a = jax.vmap(lambda y, m=dhnn: m(0.3, y))(ys)
        b = jax.vmap(lambda y, m=port: m(0.3, y))(ys)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(
            port.dissipation_matrix(ys[0]), -dhnn.dissipation_matrix(ys[0])
        )
        if dissipation != "general":
            assert float(port.gamma) == float(dhnn.gamma)
    with pytest.raises(ConfigError, match="PortHNN: gamma is defined for the friction form only"):
        _ = port.gamma
