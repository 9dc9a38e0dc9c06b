import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn
from physnet.approximators import soft_exponential


def test_mlp_shapes_dtype_and_layer_sizes():
    mlp = pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0))
    params = nnx.state(mlp, nnx.Param)
    leaves = jax.tree.leaves(params)
    assert all(x.dtype == jnp.float64 for x in leaves)
    assert sum(x.size for x in leaves) == 2 * 32 + 32 + 32 * 32 + 32 + 32 + 1  # 1185
    assert mlp(jnp.ones(2)).shape == (1,)
    with pytest.raises(ValueError, match="one input"):
        mlp(jnp.ones((5, 2)))


def test_mlp_rejects_bad_options():
    with pytest.raises(pn.ConfigError, match="activation"):
        pn.MLP(2, 1, activation="swish2", rngs=nnx.Rngs(0))
    with pytest.raises(pn.ConfigError, match="depth"):
        pn.MLP(2, 1, depth=0, rngs=nnx.Rngs(0))
    with pytest.raises(pn.ConfigError, match="init"):
        pn.MLP(2, 1, init="xavier", rngs=nnx.Rngs(0))


def test_lnn_init_scales():
    mlp = pn.MLP(2, 1, width=128, depth=2, activation="softplus", init="lnn", rngs=nnx.Rngs(0))
    w0 = mlp.layers[0].kernel[...]
    assert float(jnp.std(w0)) == pytest.approx(2.2 / np.sqrt(2), rel=0.2)


@pytest.mark.parametrize("alpha", [-0.7, -0.2, 0.0, 0.3, 0.9])
def test_soft_exponential_branches(alpha):
    x = jnp.linspace(-0.5, 1.0, 11)  # inside the log branch's domain 1 - α(x + α) > 0
    got = soft_exponential(jnp.asarray(alpha), x)
    if alpha < 0:
        want = -jnp.log(1 - alpha * (x + alpha)) / alpha
    elif alpha == 0:
        want = x
    else:
        want = (jnp.exp(alpha * x) - 1) / alpha + alpha
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_soft_exponential_continuous_and_finite_gradients_at_zero():
    x = jnp.linspace(-2, 2, 9)
    for a in (-1e-7, 1e-7):
        np.testing.assert_allclose(
            soft_exponential(jnp.asarray(a), x), x + a * (1 + x**2 / 2), atol=1e-13
        )
    for a in (-2e-6, 2e-6):  # just outside the series region: the exact branches, no jump
        np.testing.assert_allclose(
            soft_exponential(jnp.asarray(a), x), x + a * (1 + x**2 / 2), atol=1e-10
        )
    g = jax.grad(lambda a: jnp.sum(soft_exponential(a, x)))(0.0)
    assert np.isfinite(g) and g == pytest.approx(float(jnp.sum(1 + x**2 / 2)), rel=1e-12)
    # the derivative in α is continuous across 0: compare with finite differences on each side
    for a in (-1e-3, 1e-3):
        ga = jax.grad(lambda a: jnp.sum(soft_exponential(a, x)))(a)
        assert ga == pytest.approx(float(jnp.sum(1 + x**2 / 2)), rel=5e-3)


def test_soft_exponential_stays_finite_outside_log_domain():
    x = jnp.array([50.0, -50.0])
    for a in (-1.0, -5.0, 5.0):  # |alpha| is clipped to 1
        y = soft_exponential(jnp.asarray(a), x)
        g = jax.grad(lambda a: jnp.sum(soft_exponential(a, x)))(a)
        assert np.all(np.isfinite(y)) and np.isfinite(g)


def test_soft_exponential_mlp_starts_linear_in_activation():
    mlp = pn.MLP(2, 1, width=8, depth=2, activation="soft_exponential", rngs=nnx.Rngs(0))
    assert all(float(jnp.max(jnp.abs(a.alpha[...]))) == 0.0 for a in mlp.activations)
    # with α = 0 the network is affine in x
    f = jax.vmap(mlp)
    x = jax.random.normal(jax.random.key(0), (4, 2))
    np.testing.assert_allclose(
        f(x[:1] + x[1:2]) - f(x[1:2]), f(x[:1]) - f(jnp.zeros((1, 2))), atol=1e-12
    )
