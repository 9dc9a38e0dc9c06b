"""What a model can read out: declared parts and constants (models), read as formulas
(physnet.interpret.read_model), without enumerating model classes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn
from physnet.interpret import (
    READERS,
    ApproximatorReader,
    check_readable,
    read_damping,
    read_model,
    unreadable,
)
from physnet.models import (
    AbstractVectorField,
    Friction,
    LearnedDissipation,
    LearnedForce,
    Part,
    check_scalar_energy,
)

ALPHA, BETA, GAMMA = 1.0, 2.0, 0.1


def _set_polynomial(poly, terms: dict[tuple[int, ...], float], scale: float = 1.0) -> None:
    """Set a one-output Polynomial to sum(scale * c * monomial) exactly."""
    coef = np.zeros((poly.n_terms, 1))
    for exponent, c in terms.items():
        coef[poly.exponents.index(exponent), 0] = scale * c
    poly.coefficients[...] = jnp.asarray(coef)


def _duffing_h(rngs) -> pn.Polynomial:
    h = pn.Polynomial(2, 1, degree=4, rngs=rngs)
    _set_polynomial(h, {(2, 0): ALPHA / 2, (4, 0): BETA / 4, (0, 2): 0.5})
    return h


def _states(n=200, seed=0):
    return np.asarray(jax.random.normal(jax.random.key(seed), (n, 2)))


def test_parts_are_declared_by_every_model():
    rngs = nnx.Rngs(0)
    kan = pn.KAN([2, 1], rngs=rngs)
    cases = {
        pn.HNN(kan): [("H", "hamiltonian")],
        pn.DissipativeHNN(kan): [("H", "hamiltonian")],
        pn.DissipativeHNN(kan, pn.KAN([2, 4], rngs=rngs)): [
            ("H", "hamiltonian"),
            ("A", "dissipation"),
        ],
        pn.LNN(kan): [("L", "lagrangian")],
        pn.NeuralODE(pn.KAN([2, 2], rngs=rngs)): [("f", "vector_field")],
        pn.NeuralSymplecticForm(pn.KAN([2, 2], rngs=rngs), kan): [
            ("H", "hamiltonian"),
            ("theta", "one_form"),
        ],
        pn.PortHNN(kan, force=pn.KAN([1, 1], rngs=rngs)): [("H", "hamiltonian"), ("F", "force")],
    }
    for model, expected in cases.items():
        assert [(p.name, p.kind) for p in model.parts()] == expected, type(model).__name__
    assert pn.PortHNN(kan, force=pn.KAN([1, 1], rngs=rngs)).parts()[1].inputs == "time"


def test_readout_replaces_the_friction_type_checks():
    rngs = nnx.Rngs(0)
    h = pn.KAN([2, 1], rngs=rngs)
    assert pn.DissipativeHNN(h, gamma_init=0.3).readout() == {"gamma_hat": pytest.approx(0.3)}
    assert pn.DissipativeHNN(h, "none").readout() == {"gamma_hat": 0.0}
    assert pn.DissipativeHNN(h, pn.KAN([2, 2], rngs=rngs)).readout() == {}
    assert pn.HNN(h).readout() == {}
    port = pn.PortHNN(h, gamma_init=0.2).readout()
    assert port["gamma_hat"] == pytest.approx(0.2)
    assert port["force_frequency_1"] == pytest.approx(1.0)
    assert port["force_amplitude_1"] == pytest.approx(0.01)
    assert pn.LNN(h, dissipation=Friction(0.05)).readout() == {"gamma_hat": pytest.approx(0.05)}
    assert read_damping(pn.LNN(h, dissipation=Friction(0.05))) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="DissipativeHNN"):
        read_damping(pn.DissipativeHNN(h, pn.KAN([2, 2], rngs=rngs)))


def test_read_model_gives_the_exact_polynomial_hamiltonian_and_gamma():
    model = pn.DissipativeHNN(_duffing_h(nnx.Rngs(0)), Friction(GAMMA))
    readout = read_model(model, _states())
    assert readout.coefficients == pytest.approx({"q**2": 0.5, "q**4": 0.5, "p**2": 0.5})
    assert readout.constants == {"gamma_hat": pytest.approx(GAMMA)}
    assert readout.formula.startswith("H = ")
    assert readout.r2 == pytest.approx(1.0)


def test_friction_lnn_is_the_damped_duffing_oscillator_and_reads_its_damping():
    """L = c(q̇²/2 - αq²/2 - βq⁴/4) with a friction cγ: the same equations as the damped
    Duffing oscillator for every c, and the read-out normalises both back to c = 1."""
    c = 2.5
    lag = pn.Polynomial(2, 1, degree=4, rngs=nnx.Rngs(0))
    _set_polynomial(lag, {(0, 2): 0.5, (2, 0): -ALPHA / 2, (4, 0): -BETA / 4}, scale=c)
    model = pn.LNN(lag, dissipation=Friction(c * GAMMA))
    system = pn.systems.Duffing(alpha=ALPHA, beta=BETA, gamma=GAMMA)
    ys = jnp.asarray(_states(50, seed=1))
    field = jax.vmap(lambda y: model(0.0, y))(ys)
    truth = jax.vmap(lambda y: system.vector_field(0.0, y, None))(ys)
    np.testing.assert_allclose(field, truth, rtol=1e-10, atol=1e-10)
    # the energy decays at the friction's power, dE/dt = -cγ q̇²
    rate = jax.vmap(lambda y: jax.grad(model.energy)(y) @ model(0.0, y))(ys)
    np.testing.assert_allclose(rate, -c * GAMMA * ys[:, 1] ** 2, rtol=1e-9, atol=1e-12)
    readout = read_model(model, np.asarray(ys))
    assert readout.coefficients == pytest.approx(
        {"q**2": -ALPHA / 2, "q**4": -BETA / 4, "qdot**2": 0.5}, rel=1e-6
    )
    assert readout.constants["gamma_hat"] == pytest.approx(GAMMA, rel=1e-6)


def test_friction_lnn_with_an_input_reads_its_gain_on_the_normalised_scale():
    """The same L = c(...) with friction cγ and a constant input gain cB: q̈ = ... + Bu for
    every c (the generalised force Q = cBu scales with L), and the read-out reports B, not
    cB, beside γ."""
    from physnet.models import LearnedInputPort

    c, gain = 2.5, 0.7
    lag = pn.Polynomial(2, 1, degree=4, rngs=nnx.Rngs(0))
    _set_polynomial(lag, {(0, 2): 0.5, (2, 0): -ALPHA / 2, (4, 0): -BETA / 4}, scale=c)
    port = LearnedInputPort(1, 1, gain_init=c * gain)
    model = pn.LNN(lag, dissipation=Friction(c * GAMMA), input_port=port)
    system = pn.systems.Duffing(alpha=ALPHA, beta=BETA, gamma=GAMMA)
    ys = jnp.asarray(_states(50, seed=2))
    u = jnp.array([0.3])
    field = jax.vmap(lambda y: model(0.0, y, u))(ys)
    truth = jax.vmap(lambda y: system.vector_field(0.0, y, None))(ys)
    np.testing.assert_allclose(field[:, 1], truth[:, 1] + gain * u[0], rtol=1e-10, atol=1e-10)
    readout = read_model(model, np.asarray(ys))
    assert readout.constants["gamma_hat"] == pytest.approx(GAMMA, rel=1e-6)
    assert readout.constants["input_gain_1_1"] == pytest.approx(gain, rel=1e-6)


def test_lnn_without_dissipation_keeps_its_checkpoint_format(tmp_path):
    model = pn.LNN(pn.KAN([2, 1], rngs=nnx.Rngs(0)), kinetic=1.0)
    assert set(model.submodules()) == {"lagrangian"}
    with_friction = pn.LNN(pn.KAN([2, 1], rngs=nnx.Rngs(0)), dissipation=Friction(0.2))
    pn.save_model(with_friction, tmp_path / "m")
    loaded = pn.load_model(tmp_path / "m")
    assert loaded.readout() == {"gamma_hat": pytest.approx(0.2)}
    y = jnp.array([0.3, -0.7])
    np.testing.assert_array_equal(loaded(0.0, y), with_friction(0.0, y))


def test_every_learned_part_is_read():
    rngs = nnx.Rngs(0)
    xs = _states()
    general = pn.DissipativeHNN(
        _duffing_h(rngs), LearnedDissipation(pn.Polynomial(2, 2, degree=1, rngs=rngs))
    )
    r = read_model(general, xs)
    assert set(r.parts) == {"H", "A"} and "A1 = " in r.formula and r.constants == {}
    nsf = pn.NeuralSymplecticForm(
        pn.KAN([2, 2], rngs=rngs), pn.KAN([2, 1], rngs=rngs), canonical=1.0
    )
    r = read_model(nsf, xs)
    assert set(r.parts) == {"H", "theta"} and r.formula.startswith("H = ")
    node = pn.NeuralODE(pn.Polynomial(2, 2, degree=1, rngs=rngs))
    r = read_model(node, xs)
    assert r.formula.startswith("dy1_dt = ") and "dy2_dt = " in r.formula
    data = pn.data.generate(
        pn.systems.Duffing(), n_trajectories=2, t1=1.0, n_points=5, key=jax.random.key(0)
    )
    port = pn.PortHNN(
        _duffing_h(rngs), force=LearnedForce(pn.Polynomial(1, 1, degree=2, rngs=rngs))
    )
    r = read_model(port, data)
    assert "F = " in r.formula and "t" in r.parts["F"]["formula"]
    assert r.constants["gamma_hat"] == pytest.approx(0.01)


def test_an_unreadable_part_is_named_in_one_line():
    rngs = nnx.Rngs(0)
    reason = unreadable(pn.DissipativeHNN(pn.MLP(2, 1, rngs=rngs)))
    assert "\n" not in reason
    assert reason.startswith("the H network of the DissipativeHNN is an MLP")
    assert "--approximator kan or polynomial" in reason
    reason = unreadable(pn.DissipativeHNN(pn.KAN([2, 1], rngs=rngs), pn.MLP(2, 2, rngs=rngs)))
    assert reason.startswith("the dissipation network A of the DissipativeHNN is an MLP")
    assert unreadable(pn.DissipativeHNN(pn.KAN([2, 1], rngs=rngs))) is None  # Friction reads
    with pytest.raises(ValueError, match="the L network of the LNN is an MLP"):
        check_readable(pn.LNN(pn.MLP(2, 1, activation="softplus", rngs=rngs)))


def test_a_users_model_and_approximator_become_readable_by_declaring_it():
    class Quadratic(pn.Polynomial):  # a subclass reads through its parent's reader
        pass

    class Wrapped(pn.MLP):
        pass

    class MyModel(AbstractVectorField):
        def __init__(self, h):
            self.h, self.state_size = h, h.in_features

        def __call__(self, t, y, args=None):
            return jax.grad(lambda y: self.h(y)[0])(y)

        def config(self):
            return {}

        def submodules(self):
            return {"h": self.h}

    rngs = nnx.Rngs(0)
    model = MyModel(Quadratic(2, 1, degree=2, rngs=rngs))
    assert [(p.name, p.label) for p in model.parts()] == [("h", "the h network")]
    assert unreadable(model) is None
    assert unreadable(MyModel(Wrapped(2, 1, rngs=rngs))).startswith("the h network of the MyModel")
    READERS[Wrapped] = ApproximatorReader(lambda a, xs, names, outs: ((0,), 1.0), exact=True)
    try:
        assert unreadable(MyModel(Wrapped(2, 1, rngs=rngs))) is None
    finally:
        del READERS[Wrapped]
    assert isinstance(model.parts()[0], Part)


def test_check_scalar_energy_lives_beside_the_base_class():
    from physnet.models import _base, _hnn

    assert check_scalar_energy is _base.check_scalar_energy is _hnn.check_scalar_energy
    with pytest.raises(ValueError, match="scalar output"):
        check_scalar_energy("HNN", "hamiltonian", pn.KAN([2, 2], rngs=nnx.Rngs(0)))


def test_friction_lnn_builds_from_options():
    from physnet._build import build_model

    model = build_model("lnn", 2, "mlp", seed=0, width=4, dissipation="friction", gamma_init=0.2)
    assert model.readout() == {"gamma_hat": pytest.approx(0.2)} and model.kinetic == 1.0
    assert build_model("lnn", 2, "mlp", seed=0, width=4).dissipation is None
    with pytest.raises(ValueError, match="dissipation must be"):
        build_model("lnn", 2, "mlp", dissipation="bogus")
    with pytest.raises(ValueError, match="gamma_init applies to dissipation='friction'"):
        build_model("lnn", 2, "mlp", gamma_init=0.2)
