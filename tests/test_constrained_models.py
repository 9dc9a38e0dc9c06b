"""Constrained Cartesian models (Finzi et al. 2020): with the true potential and masses they
are the Cartesian chain pendulum; for random parameters the learned flow conserves the
constraints and the energy exactly (to round-off), numerical rollouts drift off the manifold
only at integrator accuracy, and the projection puts a state back to round-off."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn
from physnet.approximators import AbstractApproximator
from physnet.integrators import solve
from physnet.models import ConstrainedHNN, ConstrainedLNN
from physnet.systems import ChainConstraints, ChainPendulum, constraint_drift


class _Gravity(AbstractApproximator):
    def __init__(self, n, mass, g):
        self.in_features, self.out_features = 2 * n, 1
        self.mass, self.g = mass, g

    def __call__(self, x):
        return jnp.atleast_1d(self.mass * self.g * jnp.sum(x[1::2]))

    def config(self):
        return {}


def _true_models(n, mass):
    constraints = ChainConstraints(n, 0.9)
    models = []
    for cls in (ConstrainedHNN, ConstrainedLNN):
        model = cls(_Gravity(n, mass, 9.8), constraints)
        model.log_mass[...] = jnp.full(n, jnp.log(mass))
        models.append(model)
    return models


def test_with_the_true_potential_and_masses_they_are_the_cartesian_chain():
    n, mass = 3, 1.7
    chain = ChainPendulum(n=n, mass=mass, length=0.9)
    cart = chain.cartesian()
    chnn, clnn = _true_models(n, mass)
    zs = jax.vmap(chain.to_cartesian)(chain.sample_initial_states(jax.random.key(0), 5, 1.0))

    @jax.jit
    @jax.vmap
    def fields(z):
        truth = cart.vector_field(0.0, z)
        x_v = jnp.concatenate([z[: 2 * n], z[2 * n :] / mass])
        return (
            (chnn(0.0, z), truth),
            (clnn(0.0, x_v), truth / jnp.concatenate([jnp.ones(2 * n), jnp.full(2 * n, mass)])),
            (chnn.energy(z), cart.energy(z)),
        )

    for got, want in fields(zs):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("cls", [ConstrainedHNN, ConstrainedLNN])
def test_learned_flow_conserves_constraints_and_energy_and_projection_restores(cls):
    n = 2
    chain = ChainPendulum(n=n, length=1.0)
    model = cls(pn.MLP(2 * n, 1, width=16, depth=2, rngs=nnx.Rngs(0)), ChainConstraints(n))
    model.log_mass[...] = jnp.array([0.3, -0.2])
    zs = jax.vmap(chain.to_cartesian)(chain.sample_initial_states(jax.random.key(1), 3, 1.0))
    zs = jax.vmap(model.project)(zs)  # P = m ẋ with the model's masses (CHNN) or ẋ (CLNN)
    ts = jnp.linspace(0.0, 1.0, 5)

    @jax.jit
    def check(z):
        f = model(0.0, z)
        big_phi = lambda z_: jnp.concatenate(  # noqa: E731
            [
                model.constraint_values(z_),
                jax.jvp(model.constraint_values, (z_,), (model(0.0, z_),))[1],
            ]
        )
        rates = jax.jvp(big_phi, (z,), (f,))[1]  # d/dt of φ and of φ̇: zero along the flow
        energy_rate = jnp.dot(jax.grad(model.energy)(z), f)
        path = solve(model, z, ts, substeps=20)
        drift = constraint_drift(model.constraints, path)
        back = model.project(path[-1])
        return rates, energy_rate, drift, model.constraint_values(back)

    for z in zs:
        rates, energy_rate, drift, after = check(z)
        assert float(jnp.max(jnp.abs(rates))) < 1e-9
        assert abs(float(energy_rate)) < 1e-10
        assert float(drift[0]) < 1e-13 and 0 < float(drift[-1]) < 1e-5  # integrator accuracy
        assert float(jnp.max(jnp.abs(after))) < 1e-14


def test_bad_constrained_arguments_are_one_line_errors(tmp_path):
    rngs = nnx.Rngs(0)
    with pytest.raises(pn.ConfigError, match="in_features=4, got 3"):
        ConstrainedHNN(pn.MLP(3, 1, rngs=rngs), ChainConstraints(2))
    with pytest.raises(pn.ConfigError, match="ChainConstraints"):
        ConstrainedLNN(pn.MLP(4, 1, rngs=rngs), lambda x: x)
    model = ConstrainedHNN(pn.MLP(4, 1, width=4, rngs=rngs), ChainConstraints(2, 1.5))
    pn.save_model(model, tmp_path / "m")
    back = pn.load_model(tmp_path / "m")
    assert back.constraints == model.constraints
    y = jnp.arange(8.0) / 10
    np.testing.assert_array_equal(back(0.0, y), model(0.0, y))


def test_registered_models_build_from_the_state_size_and_check_the_rods():
    """``build_model("chnn"|"clnn", 4n, ...)`` is a chain of n bodies; a model whose rods do
    not match the data's links (another length, or angle coordinates) is refused before any
    work in one line that says what to pass; noisy positions on the right rods pass."""
    system = pn.systems.CartesianChainPendulum(n=2, length=0.7)
    data = pn.data.generate(system, 6, 1.0, 11, key=jax.random.key(0))
    for kind in ("chnn", "clnn"):
        model = pn.build_model(kind, 8, "mlp", width=8, depth=1, length=0.7)
        assert model.constraints == ChainConstraints(2, 0.7)
        assert model.unsuitable_states(np.asarray(data.states).reshape(-1, 8)) is None
        noisy = data.with_noise(0.02, key=jax.random.key(1))
        assert model.unsuitable_states(np.asarray(noisy.states).reshape(-1, 8)) is None
    wrong = pn.build_model("chnn", 8, "mlp", width=8, depth=1)  # rods of length 1
    with pytest.raises(pn.ConfigError, match=r"rods have length 1.*links are 0\.7 long"):
        pn.fit(wrong, data, steps=1)
    with pytest.raises(pn.ConfigError, match=r"4n components\), not 6"):
        pn.build_model("chnn", 6, "mlp")
    assert pn.models.ConstrainedLNN.unsuitable(8, False) is not None  # (x, P), P != ẋ
    assert pn.models.ConstrainedHNN.unsuitable(8, False) is None


def test_potential_and_masses_are_read_from_the_positions_only():
    """The CHNN's V(x) is read as a function of the positions (its part's inputs are the
    configuration, not the whole state): a Polynomial V reads exactly (R² = 1) with no
    momentum in it, and the learned masses are constants of the read-out."""
    rngs = nnx.Rngs(3)
    potential = pn.approximators.Polynomial(4, 1, degree=2, init_scale=1.0, rngs=rngs)
    model = ConstrainedHNN(potential, ChainConstraints(2))
    model.log_mass[...] = jnp.log(jnp.array([1.5, 0.5]))
    states = np.asarray(jax.random.normal(jax.random.key(0), (64, 8)))
    from physnet.interpret import read_model

    read = read_model(model, states)
    assert set(read.parts) == {"V"}
    assert read.parts["V"]["r2"] > 1 - 1e-10
    assert read.coefficients and not any("p" in k for k in read.coefficients)
    np.testing.assert_allclose([read.constants["mass_1"], read.constants["mass_2"]], [1.5, 0.5])


def test_cli_trains_and_evaluates_a_constrained_model(tmp_path, capsys):
    """simulate (Cartesian chain) -> train --model chnn -> evaluate: finite rollouts,
    equilibria not searched (with the reason); a wrong rod
    length and data of another shape are one line each, with no run directory left."""
    from _cli import one_line, run_cli

    data = tmp_path / "chain.npz"
    code, _, err = run_cli(
        capsys, "simulate", "--system", "chain-pendulum-cartesian", "--n", 2,
        "--n-trajectories", 8, "--t1", 1.0, "--n-points", 11, "--out", data,
    )  # fmt: skip
    assert code == 0, err
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys, "train", "--data", data, "--model", "chnn", "--steps", 20, "--width", 8,
        "--depth", 1, "--quiet", "--out", run,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(capsys, "evaluate", "--run", run, "--t1", 1.0)
    assert code == 0, err
    import json

    metrics = json.loads(out.strip().splitlines()[-1])
    assert np.isfinite(metrics["rollout_rmse"])
    assert "constrained" in metrics["equilibria_note"]
    for extra, words in (
        (("--model", "chnn", "--length", 2), ("rods have length 2", "--length")),
        (("--model", "clnn", "--length", 1.5), ("rods have length 1.5",)),
    ):
        bad = tmp_path / f"bad{extra[1]}"
        code, _, err = run_cli(capsys, "train", "--data", data, *extra, "--steps", 2, "--out", bad)
        assert code != 0
        one_line(err, *words)
        assert not bad.exists()


def test_lnn_paper_states_in_cartesian_coordinates_are_the_constrained_motion():
    """The LNN protocol's random double-pendulum states (q, q̇) with exact q̈, mapped to the
    bobs' Cartesian (x, ẋ) and (ẋ, ẍ) for the constrained models: the positions lie on the
    rods, the velocities are tangent to them, and ẍ is the constrained Euler-Lagrange
    acceleration of the Cartesian Lagrangian ½|ẋ|² - g Σ y_k (an independent road to the
    same motion), to round-off."""
    from physnet.reproduce._papers_lnn import cartesian_state_pool, random_state_pool
    from physnet.systems import DoublePendulum, constrained_acceleration

    chain = ChainPendulum(2)
    pool = random_state_pool(DoublePendulum(), 64, 10.0, jax.random.key(3))
    cart = cartesian_state_pool(pool, chain)
    z, dz = cart.states.reshape(-1, 8), cart.derivatives.reshape(-1, 8)
    constraints = ChainConstraints(2, 1.0)
    np.testing.assert_allclose(jax.vmap(constraints)(z[:, :4]), 0.0, atol=1e-12)
    tangent = jax.vmap(lambda s: jax.jvp(constraints, (s[:4],), (s[4:],))[1])(z)
    np.testing.assert_allclose(tangent, 0.0, atol=1e-11)
    np.testing.assert_array_equal(dz[:, :4], z[:, 4:])

    def lagrangian(x, v):
        return 0.5 * jnp.sum(v**2) - 9.8 * jnp.sum(x[1::2])

    acc = jax.vmap(lambda s: constrained_acceleration(lagrangian, constraints, s[:4], s[4:]))(z)
    np.testing.assert_allclose(dz[:, 4:], acc, rtol=1e-9, atol=1e-9 * float(jnp.max(abs(acc))))
    assert cart.metadata["system"] == "chain-pendulum-cartesian"


class _TiltedGravity(_Gravity):
    """Gravity plus a wrong term 0.4·x_1²: a learned potential that is off the true one."""

    def __call__(self, x):
        return super().__call__(x) + 0.4 * x[0] ** 2


def test_the_energy_shell_estimate_is_zero_for_the_true_model_and_bounds_a_wrong_one():
    """The learned flow stays on its own energy's level set, so the true energy error of a
    rollout is bounded by the true energy's spread on that set: with the true V and masses
    the set is the true shell (estimate 0 to round-off); with a wrong V every state of a
    rollout has |E - E0| below the sampled maximum over the set."""
    from physnet.reproduce._papers_lnn import shell_energy_errors

    chain = ChainPendulum(2)
    z0s = jax.vmap(lambda y: jnp.concatenate([y[:4], y[4:] / chain.mass]))(
        jax.vmap(chain.to_cartesian)(chain.sample_initial_states(jax.random.key(1), 3, 1.0))
    )
    true = ConstrainedLNN(_Gravity(2, 1.0, 9.8), ChainConstraints(2, 1.0))
    med, top = shell_energy_errors(true, chain, z0s, jax.random.key(2), samples=4000)
    assert np.all(top < 1e-12)
    wrong = ConstrainedLNN(_TiltedGravity(2, 1.0, 9.8), ChainConstraints(2, 1.0))
    med, top = shell_energy_errors(wrong, chain, z0s, jax.random.key(2), samples=20000)
    assert np.all(med > 1e-4) and np.all(med <= top)
    ts = jnp.linspace(0.0, 5.0, 51)
    paths = pn.rollout(wrong, z0s, ts, solver="dopri8", rtol=1e-10, atol=1e-10)
    cart = chain.cartesian()
    e = jax.vmap(jax.vmap(cart.energy))(paths)  # unit masses: momenta = velocities
    along = np.max(np.abs(e - e[:, :1]), axis=1) / chain.max_potential_energy
    assert np.all(along > 1e-4)  # the wrong model does change the true energy
    assert np.all(along <= 1.02 * top)
