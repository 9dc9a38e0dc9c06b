"""Structured natural-system models (DeLaN, StructuredHNN): M(q) positive definite for random
parameters, the true double pendulum reproduced exactly from its true M and V, energy
conserved along the learned field, and the CLI builds and trains them by name."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn
from physnet.approximators import AbstractApproximator
from physnet.models import DeLaN, StructuredHNN, cholesky_mass_matrix
from physnet.systems import ChainPendulum, DoublePendulum

EPS = 1e-3


class _TrueCholesky(AbstractApproximator):
    """The entries of chol(M(q) - εI) of a system, inverted through the softplus diagonal."""

    def __init__(self, system, inverse=False):
        self.system, self.inverse = system, inverse
        self.in_features, n = system.dof, system.dof
        self.out_features = n * (n + 1) // 2

    def __call__(self, q):
        n = self.in_features
        mass = self.system.mass_matrix(q)
        mass = jnp.linalg.inv(mass) if self.inverse else mass
        lower = jnp.linalg.cholesky(mass - EPS * jnp.eye(n))
        diag = jnp.diagonal(lower)
        raw = diag + jnp.log(-jnp.expm1(-diag))  # softplus⁻¹
        rows, cols = jnp.tril_indices(n, -1)
        return jnp.concatenate([raw, lower[rows, cols]])

    def config(self):
        return {}


class _TruePotential(AbstractApproximator):
    def __init__(self, system):
        self.system = system
        self.in_features, self.out_features = system.dof, 1

    def __call__(self, q):
        return jnp.atleast_1d(self.system.potential(q))

    def config(self):
        return {}


@pytest.mark.parametrize("n", [1, 2, 4])
def test_mass_matrix_is_positive_definite_for_random_parameters(n):
    for seed in range(3):
        model = DeLaN(
            pn.MLP(n, n * (n + 1) // 2, width=8, depth=2, rngs=nnx.Rngs(seed)),
            pn.MLP(n, 1, width=8, depth=2, rngs=nnx.Rngs(seed + 10)),
            epsilon=EPS,
        )
        ys = 3 * jax.random.normal(jax.random.key(seed), (50, 2 * n))
        eig = jax.vmap(lambda y, m=model: jnp.linalg.eigvalsh(m.mass_matrix(y)))(ys)
        assert float(jnp.min(eig)) >= EPS * (1 - 1e-9)
    # wild entries, positive definite still: smallest eigenvalue at least ε
    entries = 30 * jax.random.normal(jax.random.key(1), (100, n * (n + 1) // 2))
    m = jax.vmap(lambda e: cholesky_mass_matrix(e, n, EPS))(entries)
    np.testing.assert_allclose(m, jnp.swapaxes(m, 1, 2), rtol=0, atol=0)
    assert float(jnp.min(jnp.linalg.eigvalsh(m))) > 0


def test_structured_models_with_the_true_m_and_v_are_the_double_pendulum():
    system = DoublePendulum(m1=1.3, m2=0.7, l1=0.9, l2=1.4)
    mass, potential = _TrueCholesky(system), _TruePotential(system)
    lagrangian, hamiltonian, inverse = (
        DeLaN(mass, potential, epsilon=EPS),
        StructuredHNN(mass, potential, epsilon=EPS, inverse_mass=False),
        StructuredHNN(_TrueCholesky(system, inverse=True), potential, epsilon=EPS),
    )
    assert inverse.inverse_mass  # the default: the learned matrix is M⁻¹
    ys = system.sample_initial_states(jax.random.key(0), 20, 1.5)

    @jax.jit
    @jax.vmap
    def fields(y):
        x = system.to_velocity(y)
        q, qdot = x[:2], x[2:]
        return (
            (hamiltonian(0.0, y), system.vector_field(0.0, y)),
            (hamiltonian.energy(y), system.energy(y)),
            (inverse(0.0, y), system.vector_field(0.0, y)),
            (inverse.energy(y), system.energy(y)),
            (inverse.mass_matrix(y), system.mass_matrix(q)),
            (lagrangian(0.0, x), jnp.concatenate([qdot, system.acceleration(q, qdot)])),
            (lagrangian.energy(x), system.energy(y)),
        )

    for got, want in fields(ys):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_energy_is_conserved_along_the_learned_fields():
    n = 3
    rngs = nnx.Rngs(3)
    mass, potential = pn.MLP(n, 6, width=8, rngs=rngs), pn.MLP(n, 1, width=8, rngs=rngs)
    ys = jax.random.normal(jax.random.key(2), (30, 2 * n))
    models = (
        DeLaN(mass, potential),
        StructuredHNN(mass, potential),
        StructuredHNN(mass, potential, inverse_mass=False),
    )
    for model in models:

        def rate(y, model=model):
            return jnp.dot(jax.grad(model.energy)(y), model(0.0, y))

        rates = jax.jit(jax.vmap(rate))(ys)
        scale = jax.vmap(lambda y, model=model: jnp.sum(jax.grad(model.energy)(y) ** 2))(ys)
        assert float(jnp.max(jnp.abs(rates) / (1 + scale))) < 1e-12


def test_bad_parts_are_one_line_errors():
    rngs = nnx.Rngs(0)
    with pytest.raises(pn.ConfigError, match=r"mass must map \(2,\) -> \(3,\)"):
        DeLaN(pn.MLP(2, 2, rngs=rngs), pn.MLP(2, 1, rngs=rngs))
    with pytest.raises(pn.ConfigError, match="non-smooth"):
        StructuredHNN(pn.MLP(2, 3, activation="relu", rngs=rngs), pn.MLP(2, 1, rngs=rngs))
    with pytest.raises(pn.ConfigError, match="epsilon"):
        DeLaN(pn.MLP(2, 3, rngs=rngs), pn.MLP(2, 1, rngs=rngs), epsilon=0.0)


@pytest.mark.parametrize("kind", ["delan", "structured-hnn"])
def test_registered_models_train_and_save(kind, tmp_path):
    system = ChainPendulum(n=1)
    if kind == "delan":
        system = system.in_velocity_coordinates()
    data = pn.data.generate(system, n_trajectories=4, t1=0.5, n_points=6, key=jax.random.key(0))
    model = pn.build_model(kind, 2, "mlp", seed=0, width=16, depth=2)
    assert model.epsilon == EPS
    history = pn.fit(model, data, steps=60)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    pn.save_model(model, tmp_path / "m")
    back = pn.load_model(tmp_path / "m")
    y = data.states[0, 0]
    np.testing.assert_array_equal(back(0.0, y), model(0.0, y))


@pytest.mark.slow  # about a minute on an idle core: two simulate/train/evaluate round trips
def test_cli_simulates_a_chain_and_trains_and_evaluates_the_structured_models(tmp_path):
    import json

    from physnet.cli import main

    for kind, coordinates in (("structured-hnn", "canonical"), ("delan", "velocity")):
        data = tmp_path / f"{coordinates}.npz"
        assert main(["simulate", "--system", "chain-pendulum", "--n", "2", "--coordinates",
                     coordinates, "--n-trajectories", "4", "--n-points", "6", "--t1", "0.5",
                     "--out", str(data)]) == 0  # fmt: skip
        run = tmp_path / kind
        assert main(["train", "--data", str(data), "--model", kind, "--width", "4", "--depth",
                     "1", "--steps", "5", "--epsilon", "0.01", "--quiet", "--out", str(run)]) == 0  # fmt: skip
        assert main(["evaluate", "--run", str(run), "--t1", "0.5"]) == 0
        metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
        assert np.isfinite(metrics["rollout_rmse"]) and np.isfinite(metrics["energy_drift"])


def test_periodic_models_are_2pi_periodic_in_every_angle():
    model = pn.build_model("delan", 4, "mlp", seed=1, width=8, periodic=True)
    assert model.periodic and model.natural.mass.in_features == 4
    y = jnp.array([0.3, -1.2, 0.7, 0.4])
    shifted = y + jnp.array([2 * jnp.pi, -4 * jnp.pi, 0.0, 0.0])
    np.testing.assert_allclose(model(0.0, shifted), model(0.0, y), rtol=1e-12, atol=1e-12)
    with pytest.raises(pn.ConfigError, match="even input size"):
        StructuredHNN(pn.MLP(3, 1, rngs=nnx.Rngs(0)), pn.MLP(3, 1, rngs=nnx.Rngs(0)), periodic=True)


def test_a_structured_hnn_saved_before_inverse_mass_loads_as_the_model_it_was():
    """Checkpoints written before the option learned M (``inverse_mass`` absent from their
    config): they must rebuild with inverse_mass=False, not the new default."""
    from physnet._checkpoint import build_from_spec, model_spec

    rngs = nnx.Rngs(0)
    model = StructuredHNN(pn.MLP(2, 3, rngs=rngs), pn.MLP(2, 1, rngs=rngs), inverse_mass=False)
    spec = model_spec(model)
    assert spec["config"]["inverse_mass"] is False
    del spec["config"]["inverse_mass"]
    assert build_from_spec(spec).inverse_mass is False
    spec["config"]["inverse_mass"] = True
    assert build_from_spec(spec).inverse_mass is True
    with pytest.raises(pn.ConfigError, match="inverse_mass"):
        StructuredHNN(pn.MLP(2, 3, rngs=rngs), pn.MLP(2, 1, rngs=rngs), inverse_mass="yes")


@pytest.mark.parametrize("periodic", [False, True])
def test_mass_and_potential_are_read_as_functions_of_the_coordinates(periodic):
    """--symbolic on DeLaN/StructuredHNN: V and M's factor read exactly (Polynomial parts,
    R² = 1) from q alone, or from (cos q, sin q) when periodic; no momentum or velocity in
    them (before, the reader handed them the whole state and failed)."""
    from physnet.interpret import read_model

    for kind in ("delan", "structured-hnn"):
        model = pn.build_model(kind, 4, "polynomial", degree=2, periodic=periodic)
        states = np.asarray(jax.random.normal(jax.random.key(1), (50, 4)))
        read = read_model(model, states)
        assert set(read.parts) == {"V", "Lm"}
        for part in read.parts.values():
            assert part["r2"] > 1 - 1e-10
            names = " ".join(part["coefficients"])
            assert "p" not in names.replace("cos_", "").replace("sin_", "") or not names
            assert "dot" not in names
            assert ("cos_q1" in names or "sin_q1" in names) == periodic
