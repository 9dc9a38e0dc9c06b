import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn
from physnet.approximators import AbstractApproximator


class DuffingHamiltonian(AbstractApproximator):
    """An 'approximator' that computes the exact Duffing H with learnable α, β."""

    def __init__(self, alpha=1.0, beta=2.0, *, rngs=None):
        self.in_features, self.out_features = 2, 1
        self.alpha = nnx.Param(jnp.asarray(alpha))
        self.beta = nnx.Param(jnp.asarray(beta))

    def __call__(self, x):
        q, p = x
        return jnp.stack([0.5 * self.alpha[...] * q**2 + 0.25 * self.beta[...] * q**4 + 0.5 * p**2])

    def config(self):
        return {}


def test_hnn_with_analytic_h_reproduces_hamiltons_equations():
    system = pn.systems.Duffing(0.7, 1.3, 0.0)
    model = pn.HNN(DuffingHamiltonian(0.7, 1.3))
    ys = jax.random.normal(jax.random.key(0), (200, 2)) * 2
    got = jax.vmap(lambda y: model(0.0, y))(ys)
    exact = jax.vmap(lambda y: system.vector_field(0.0, y))(ys)
    np.testing.assert_allclose(got, exact, rtol=1e-14, atol=1e-13)
    np.testing.assert_allclose(jax.vmap(model.energy)(ys), jax.vmap(system.energy)(ys), rtol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_hnn_energy_is_conserved_along_its_field(seed):
    """dH/dt = ∇H · J∇H = 0 to round-off for random parameters and states."""
    model = pn.HNN(pn.MLP(4, 1, width=16, depth=2, rngs=nnx.Rngs(seed)))
    ys = jax.random.normal(jax.random.key(seed), (100, 4))

    def dHdt(y):
        return jnp.dot(jax.grad(model.energy)(y), model(0.0, y))

    grads = jax.vmap(jax.grad(model.energy))(ys)
    rates = jax.vmap(dHdt)(ys)
    assert float(jnp.max(jnp.abs(rates))) <= 1e-14 * float(jnp.max(jnp.sum(grads**2, -1)))


def test_hnn_rollout_conserves_learned_energy_with_symplectic_stepper():
    model = pn.HNN(pn.MLP(2, 1, width=16, depth=2, rngs=nnx.Rngs(1)))
    ts = jnp.linspace(0, 50, 501)
    ys = pn.rollout(model, jnp.array([0.5, 0.2]), ts, solver="implicit-midpoint", substeps=2)
    assert float(jnp.max(pn.energy_error(model.energy, ys))) < 1e-3


def test_hnn_with_p_symmetric_h_is_time_reversible():
    """For H(q, -p) = H(q, p) the flow is reversible: flipping p and integrating returns."""
    model = pn.HNN(DuffingHamiltonian(1.0, 2.0))
    y0 = jnp.array([0.4, -0.3])
    ts = jnp.linspace(0, 3, 31)
    fwd = pn.rollout(model, y0, ts, solver="leapfrog", substeps=20)
    back = pn.rollout(model, fwd[-1] * jnp.array([1.0, -1.0]), ts, solver="leapfrog", substeps=20)
    np.testing.assert_allclose(back[-1] * jnp.array([1.0, -1.0]), y0, atol=1e-12)


def test_model_validation_errors():
    rngs = nnx.Rngs(0)
    with pytest.raises(pn.ConfigError, match="scalar output"):
        pn.HNN(pn.MLP(2, 2, rngs=rngs))
    with pytest.raises(pn.ConfigError, match="even-sized"):
        pn.HNN(pn.MLP(3, 1, rngs=rngs))
    with pytest.raises(pn.ConfigError, match="non-smooth"):
        pn.HNN(pn.MLP(2, 1, activation="relu", rngs=rngs))
    with pytest.raises(pn.ConfigError, match="approximator"):
        pn.HNN(lambda x: x)
    with pytest.raises(pn.ConfigError, match="in_features == out_features"):
        pn.NeuralODE(pn.MLP(2, 1, rngs=rngs))


def test_neural_ode_is_the_approximator():
    mlp = pn.MLP(2, 2, rngs=nnx.Rngs(0))
    model = pn.NeuralODE(mlp)
    y = jnp.array([0.3, 0.1])
    np.testing.assert_array_equal(model(0.0, y), mlp(y))
