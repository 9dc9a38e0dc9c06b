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
