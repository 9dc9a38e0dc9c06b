"""Systems driven by measured inputs: signals, data with inputs, driven systems, models with an
input port, rollouts and losses under inputs, and the one-line refusals of mismatches."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn
from physnet.data import Trajectories
from physnet.signals import Chirp, Expression, Interpolated, Multisine, Step, Zero
from physnet.training import DerivativeLoss, TrajectoryLoss, WeakFormLoss


def _uneven_times(n=12, t1=3.0):
    ts = np.sort(np.random.default_rng(0).uniform(0.0, t1, n))
    ts[0], ts[-1] = 0.0, t1
    return ts


# ------------------------------------------------------------------ interpolation
@pytest.mark.parametrize(
    "method, poly",
    [
        ("zoh", lambda t: 0.7 + 0.0 * t),
        ("linear", lambda t: 0.3 - 1.2 * t),
        ("cubic", lambda t: 0.3 - 1.2 * t + 0.5 * t**2 - 0.2 * t**3),
    ],
)
def test_interpolation_reproduces_a_polynomial_of_its_order(method, poly):
    ts = _uneven_times()
    signal = Interpolated.from_samples(ts, np.stack([poly(ts), 2 * poly(ts)], axis=1), method)
    tt = np.linspace(0.0, 3.0, 301)
    got = np.asarray(jax.vmap(signal)(tt))
    np.testing.assert_allclose(got[:, 0], poly(tt), atol=1e-12)
    np.testing.assert_allclose(got[:, 1], 2 * poly(tt), atol=1e-12)


@pytest.mark.parametrize("method, order", [("zoh", 1), ("linear", 2), ("cubic", 4)])
def test_interpolation_misses_the_next_order(method, order):
    """The test above can fail: one order higher is not reproduced."""
    ts = _uneven_times()
    signal = Interpolated.from_samples(ts, ts**order, method)
    tt = np.linspace(0.0, 3.0, 301)
    assert np.max(np.abs(np.asarray(jax.vmap(signal)(tt))[:, 0] - tt**order)) > 1e-3


def test_zero_order_hold_switches_at_the_samples():
    ts = np.array([0.0, 1.0, 2.5, 4.0])
    us = np.array([1.0, -2.0, 3.0, 5.0])
    signal = Interpolated.from_samples(ts, us, "zoh")
    for t, want in [(0.0, 1.0), (0.99, 1.0), (1.0, -2.0), (2.49, -2.0), (2.5, 3.0), (3.9, 3.0)]:
        assert float(signal(t)[0]) == want


def test_batched_signals_and_jit():
    ts = np.stack([_uneven_times(), _uneven_times() + 1.0])
    us = np.stack([ts[0], 2 * ts[1]])[..., None]  # u_b(t) = (b + 1) t on its own times
    batch = Interpolated.from_samples(ts, us, "cubic")
    assert pn.signals.is_batch(batch) and not pn.signals.is_batch(Chirp())
    got = jax.jit(jax.vmap(lambda s, t: s(t)))(batch, jnp.array([1.5, 2.5]))
    np.testing.assert_allclose(np.asarray(got)[:, 0], [1.5, 5.0], atol=1e-12)


def test_excitations():
    multisine = Multisine.random(jax.random.key(3), 2, rms=0.5, max_frequency=2.0, n_terms=8)
    tt = jnp.linspace(0.0, 2 * np.pi / (2.0 / 8) * 4, 8001)  # whole periods of the grid
    u = jax.vmap(multisine)(tt)
    np.testing.assert_allclose(np.sqrt(np.mean(np.asarray(u) ** 2, axis=0)), 0.5, rtol=2e-2)
    other = Multisine.random(jax.random.key(4), 2, rms=0.5, max_frequency=2.0, n_terms=8)
    assert not np.allclose(multisine.phases, other.phases)
    np.testing.assert_allclose(Expression("0.5*sin(1.3*t)")(0.7), [0.5 * np.sin(0.91)])
    np.testing.assert_allclose(Expression(["t", "2*t**2"])(2.0), [2.0, 8.0])
    np.testing.assert_allclose(Step(2.0, 1.0)(0.5), [0.0])
    np.testing.assert_allclose(Step(2.0, 1.0)(1.5), [2.0])
    chirp = Chirp(1.0, 0.5, 2.5, 10.0)
    # instantaneous angular frequency d(phase)/dt sweeps from ω0 to ω1
    phase = lambda t: 0.5 * t + 2.0 * t**2 / 20.0  # noqa: E731
    np.testing.assert_allclose(jax.grad(phase)(10.0), 2.5)
    np.testing.assert_allclose(chirp(3.0), [np.sin(phase(3.0))])
    with pytest.raises(pn.ConfigError, match="unknown name 'x'"):
        Expression("sin(x)")


# ---------------------------------------------------------------------- systems
@pytest.mark.parametrize(
    "system",
    [
        pn.systems.DrivenPendulum(mass=0.7, length=1.3, friction=0.2),
        pn.systems.MassSpringDamper(mass=2.0, stiffness=3.0, damping=0.4),
        pn.systems.DrivenDuffing(),
    ],
)
def test_driven_system_energy_balance(system, key):
    """dH/dt = ∇H·f(y, u) = -c q̇² + q̇ u for every state and input."""
    ys = jax.random.normal(key, (20, 2))
    us = jax.random.normal(jax.random.key(1), (20, 1))
    for y, u in zip(ys, us, strict=True):
        dh = jnp.dot(jax.grad(system.energy)(y), system.vector_field(0.0, y, u))
        qdot = y[1] / system.inertia
        np.testing.assert_allclose(dh, -system.damping * qdot**2 + qdot * u[0], atol=1e-12)
        f0 = system.vector_field(0.0, y)
        np.testing.assert_allclose(system.vector_field(0.0, y, u), f0 + system.input_matrix(y) @ u)
    assert system.input_size == 1
    assert pn.systems.Duffing().input_matrix(jnp.zeros(2)).shape == (2, 0)


def test_generator_input_is_exact():
    """q̈ + q = a sin(wt), q(0) = q̇(0) = 0: q = a (sin wt - w sin t) / (1 - w²)."""
    a, w = 0.5, 1.3
    system = pn.systems.MassSpringDamper(damping=0.0)
    for inputs in (f"{a}*sin({w}*t)", lambda t: a * jnp.sin(w * t)):
        data = pn.data.generate(
            system, 2, t1=10.0, n_points=101, key=jax.random.key(0),
            initial_states=jnp.zeros((2, 2)), inputs=inputs,
        )  # fmt: skip
        t = np.asarray(data.ts)
        q = a * (np.sin(w * t) - w * np.sin(t)) / (1 - w**2)
        qdot = a * w * (np.cos(w * t) - np.cos(t)) / (1 - w**2)
        np.testing.assert_allclose(data.states[0, :, 0], q, atol=1e-10)
        np.testing.assert_allclose(data.states[1, :, 1], qdot, atol=1e-10)
        np.testing.assert_allclose(data.inputs[0, :, 0], a * np.sin(w * t), atol=1e-14)
        # derivatives: the exact field at the recorded states and inputs
        np.testing.assert_allclose(data.derivatives[0, :, 1], -q + a * np.sin(w * t), atol=1e-10)


def test_rollout_of_the_true_system_under_interpolated_inputs(key):
    """The generator's states are what a rollout of the system under the recorded inputs
    (cubic, from the samples) gives, to the interpolation's accuracy."""
    system = pn.systems.DrivenPendulum(friction=0.1)
    keys = jax.random.split(key, 3)
    data = pn.data.generate(
        system, 3, t1=5.0, n_points=201, key=key,
        inputs=[Multisine.random(k, max_frequency=2.0) for k in keys],
    )  # fmt: skip
    ys = pn.rollout(
        system.vector_field, data.y0, data.ts, substeps=10, inputs=data.input_signals("cubic")
    )
    np.testing.assert_allclose(ys, data.states, atol=1e-5)
    held = pn.rollout(
        system.vector_field, data.y0, data.ts, substeps=10, inputs=data.input_signals("zoh")
    )
    assert np.max(np.abs(held - data.states)) > 1e-3  # the hold is a worse model of it


# ------------------------------------------------------------------------- data
def _driven_data(n=6, t1=4.0, n_points=41, seed=0):
    keys = jax.random.split(jax.random.key(seed + 1), n)
    return pn.data.generate(
        pn.systems.DrivenDuffing(), n, t1=t1, n_points=n_points, key=jax.random.key(seed),
        inputs=[Multisine.random(k) for k in keys],
    )  # fmt: skip


def test_inputs_round_trip_and_selections(tmp_path):
    data = _driven_data()
    path = data.save(tmp_path / "d.npz")
    back = Trajectories.load(path)
    np.testing.assert_array_equal(back.inputs, data.inputs)
    assert back.input_interpolation == "cubic" and back.input_size == 1
    train, test = data.split(0.5, key=jax.random.key(0))
    assert train.inputs.shape == (3, 41, 1) and test.inputs.shape == (3, 41, 1)
    first, rest = data.segments(0, 20), data.segments(20, 41)
    np.testing.assert_array_equal(rest.inputs, data.inputs[:, 20:])
    assert first.inputs.shape[1] == 20
    # units: states rescaled, inputs not
    scaled = data.rescaled("std")
    np.testing.assert_array_equal(scaled.inputs, data.inputs)
    np.testing.assert_allclose(scaled.unscaled().states, data.states, atol=1e-12)
    assert data.with_noise(0.1, key=jax.random.key(0)).inputs is data.inputs
    # flat rows keep the order of flat()
    np.testing.assert_array_equal(data.flat_inputs(), np.reshape(data.inputs, (-1, 1)))


def test_from_arrays_with_inputs_ragged():
    t = np.array([0.0, 0.1, 0.2, 0.3, 0.0, 0.2, 0.4])
    y = np.arange(14.0).reshape(7, 2)
    u = np.linspace(-1, 1, 7)
    data = Trajectories.from_arrays(t, y, trajectory_ids=[0, 0, 0, 0, 1, 1, 1], inputs=u)
    assert data.inputs.shape == (2, 4, 1) and data.is_ragged
    np.testing.assert_array_equal(data.flat_inputs()[:, 0], u)
    np.testing.assert_array_equal(data.trajectory(1).inputs[0, :, 0], u[4:])


def test_bad_inputs_one_line():
    data = _driven_data(n=2)
    with pytest.raises(pn.DataError, match=r"inputs must have shape .* got \(2, 40, 1\)"):
        Trajectories(data.ts, data.states, inputs=data.inputs[:, :40])
    bad = np.array(data.inputs)
    bad[0, 3, 0] = np.nan
    with pytest.raises(pn.DataError, match="inputs contains 1 NaN or inf"):
        Trajectories(data.ts, data.states, inputs=bad)
    with pytest.raises(pn.DataError, match="from_arrays: inputs must have shape"):
        Trajectories.from_arrays(np.arange(5.0), np.ones((5, 2)), inputs=np.ones(4))
    with pytest.raises(pn.ConfigError, match="has no input port"):
        pn.data.generate(pn.systems.Duffing(), 2, key=jax.random.key(0), inputs="sin(t)")
    with pytest.raises(pn.ConfigError, match="takes 1 input"):
        pn.data.generate(
            pn.systems.DrivenDuffing(), 2, key=jax.random.key(0), inputs=Expression(["t", "t"])
        )


# ----------------------------------------------------------------------- models
def _port_model(seed=0, learned_q=False):
    rngs = nnx.Rngs(seed)
    h = pn.MLP(2, 1, width=16, depth=2, activation="tanh", rngs=rngs)
    b = pn.MLP(1, 1, width=8, depth=1, activation="tanh", rngs=rngs) if learned_q else None
    port = pn.models.LearnedInputPort(1, 1, approximator=b, gain_init=0.8)
    return pn.PortHNN(h, "friction", "none", gamma_init=0.3, input_port=port)


@pytest.mark.parametrize("learned_q", [False, True])
def test_port_model_passivity(learned_q, key):
    """dH/dt = -∇HᵀR∇H + ∇HᵀG(y)u exactly, for random parameters, states and inputs; so
    dH/dt <= (∇HᵀG) u (passive: no energy is created with zero input)."""
    for seed in range(3):
        model = _port_model(seed, learned_q)
        ys = jax.random.normal(jax.random.key(seed), (16, 2))
        us = jax.random.normal(jax.random.key(seed + 10), (16, 1))

        @jax.jit
        @jax.vmap
        def balance(y, u, model=model):
            grad = jax.grad(model.energy)(y)
            r = model.dissipation_matrix(y)
            g = model.input_port.matrix(y)
            free = grad @ model(0.0, y, jnp.zeros(1))
            return grad @ model(0.0, y, u), -grad @ r @ grad + grad @ g @ u, free

        dh, want, free = balance(ys, us)
        np.testing.assert_allclose(dh, want, atol=1e-12)
        assert np.all(free <= 1e-14) and np.any(free < -1e-6)


def test_known_port_and_checkpoint(tmp_path):
    port = pn.models.KnownInputPort.on_momenta(1)
    np.testing.assert_array_equal(port.matrix(jnp.zeros(2)), [[0.0], [1.0]])
    for kind, options in [("node", {}), ("port-hnn", {"input_form": "known"})]:
        model = pn.build_model(kind, 2, "mlp", input_size=1, width=8, depth=1, **options)
        pn.save_model(model, tmp_path / kind)
        back = pn.load_model(tmp_path / kind)
        y, u = jnp.array([0.3, -0.2]), jnp.array([0.7])
        np.testing.assert_array_equal(back(0.0, y, u), model(0.0, y, u))
        assert back.input_size == 1


def test_node_input_port_reads_the_input():
    model = pn.NeuralODE(pn.MLP(3, 2, width=8, depth=1, rngs=nnx.Rngs(0)), input_size=1)
    y = jnp.array([0.1, 0.2])
    assert not np.allclose(model(0.0, y, jnp.ones(1)), model(0.0, y, -jnp.ones(1)))
    np.testing.assert_array_equal(model(0.0, y, None), model(0.0, y, jnp.zeros(1)))
    with pytest.raises(pn.ConfigError, match="out_features \\+ input_size = 3"):
        pn.NeuralODE(pn.MLP(2, 2, rngs=nnx.Rngs(0)), input_size=1)


# --------------------------------------------------------- losses and rollouts
def test_losses_see_the_true_inputs():
    """The true system with an input port scores zero on every loss (the derivative loss to
    round-off, the trajectory loss to the integrator, the weak form to its quadrature), and
    a wrong input does not."""
    system = pn.systems.DrivenDuffing()
    data = _driven_data(n=3, t1=4.0, n_points=201)

    class Truth(nnx.Module):
        input_size = 1

        def __init__(self, gain):
            self.gain = gain

        def __call__(self, t, y, u=None):
            return system.vector_field(t, y, None if u is None else self.gain * u)

    for loss, tol in [(DerivativeLoss(), 1e-20), (TrajectoryLoss(window=5), 1e-14),
                      (WeakFormLoss(), 1e-5)]:  # fmt: skip
        batch = loss.prepare(data)
        assert float(loss(Truth(1.0), batch)) < tol, loss
        assert float(loss(Truth(0.0), batch)) > 100 * tol, loss


def test_trajectory_windows_follow_the_whole_interpolant():
    data = _driven_data(n=2, n_points=21)
    batch = TrajectoryLoss(window=4).prepare(data)
    whole = data.input_signals()
    ts = batch["ts"][1]
    window = Interpolated(diffrax.CubicInterpolation(ts, tuple(batch["uc"][1])))
    tt = jnp.linspace(ts[0], ts[-1], 17)
    one = jax.tree.map(lambda a: a[0], whole)
    np.testing.assert_allclose(jax.vmap(window)(tt), jax.vmap(one)(tt), atol=1e-12)


@pytest.mark.slow
def test_fit_and_rollout_under_inputs():
    """A short fit of both input models on a multisine; the forecast under a chirp uses the
    chirp (changing the input changes the forecast)."""
    train = _driven_data(n=4, t1=6.0, n_points=61)
    test = pn.data.generate(
        pn.systems.DrivenDuffing(), 2, t1=6.0, n_points=61, key=jax.random.key(9),
        inputs=Chirp(1.0, 0.2, 3.0, 6.0),
    )  # fmt: skip
    for kind in ("node", "port-hnn"):
        model = pn.build_model(kind, 2, "mlp", input_size=1, width=16, depth=2)
        history = pn.fit(model, train, steps=60, optimizer=optax.adam(3e-3), progress=False)
        assert history.train_loss[-1] < history.train_loss[0]
        ys = pn.rollout(model, test.y0, test.ts, inputs=test.input_signals())
        free = pn.rollout(model, test.y0, test.ts, inputs=Zero(1))
        assert np.all(np.isfinite(ys)) and not np.allclose(ys, free)


def test_mismatches_one_line():
    with_inputs = _driven_data(n=2)
    plain = pn.data.generate(pn.systems.Duffing(), 2, key=jax.random.key(0))
    hnn = pn.build_model("hnn", 2, "mlp")
    node_u = pn.build_model("node", 2, "mlp", input_size=1)
    with pytest.raises(pn.ConfigError, match="data have 1 input.*HNN has no input port"):
        pn.fit(hnn, with_inputs, steps=1)
    with pytest.raises(pn.ConfigError, match="input port of 1 channel.*no inputs"):
        pn.fit(node_u, plain, steps=1)
    with pytest.raises(pn.ConfigError, match="input port of 1 channel"):
        pn.rollout(node_u, plain.y0, plain.ts)
    with pytest.raises(pn.ConfigError, match="HNN has no input port"):
        pn.rollout(hnn, plain.y0, plain.ts, inputs=Zero(1))
    with pytest.raises(pn.ConfigError, match="model 'hnn' has no input port"):
        pn.build_model("hnn", 2, "mlp", input_size=1)


def test_autonomous_batches_unchanged():
    """Data without inputs prepare exactly the batches they always did."""
    plain = pn.data.generate(pn.systems.Duffing(), 2, key=jax.random.key(0))
    assert set(DerivativeLoss().prepare(plain)) == {"t", "y", "dy"}
    assert set(TrajectoryLoss().prepare(plain)) == {"ts", "ys"}
    assert "us" not in WeakFormLoss().prepare(plain)
    assert plain.inputs is None and plain.input_size == 0


def test_driven_system_without_inputs_runs_free(key):
    """No inputs: the free system, and data without inputs (any model trains on them)."""
    system = pn.systems.DrivenPendulum()
    data = pn.data.generate(system, 2, t1=2.0, n_points=21, key=key)
    assert data.inputs is None
    free = pn.data.generate(pn.systems.Pendulum(g_over_l=9.81), 2, t1=2.0, n_points=21, key=key)
    np.testing.assert_allclose(data.states, free.states, atol=1e-12)
