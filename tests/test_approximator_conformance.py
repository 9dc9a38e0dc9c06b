"""Conformance suite: every approximator must pass these. Add new ones to APPROXIMATORS."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn


def _mlp_tanh(n_in, n_out, rngs):
    return pn.MLP(n_in, n_out, width=8, depth=2, rngs=rngs)


def _mlp_softexp(n_in, n_out, rngs):
    mlp = pn.MLP(n_in, n_out, width=8, depth=2, activation="soft_exponential", rngs=rngs)
    # move α off 0 so every soft-exponential branch is exercised
    for act, alpha in zip(mlp.activations, (0.3, -0.2), strict=True):
        act.alpha[...] = jnp.full(act.alpha.shape, alpha)
    return mlp


def _kan(n_in, n_out, rngs):
    return pn.KAN([n_in, 4, n_out], grid=5, order=3, rngs=rngs)


def _kan_mult(n_in, n_out, rngs):
    return pn.KAN([n_in, [2, 2], n_out], grid=4, order=3, rngs=rngs)


def _polynomial(n_in, n_out, rngs):
    exclude = [(1,) + (0,) * (n_in - 1)]  # one excluded monomial: x_1
    return pn.Polynomial(n_in, n_out, degree=3, exclude=exclude, init_scale=0.3, rngs=rngs)


APPROXIMATORS = [
    pytest.param(_mlp_tanh, id="mlp-tanh"),
    pytest.param(_mlp_softexp, id="mlp-softexp"),
    pytest.param(_kan, id="kan"),
    pytest.param(_kan_mult, id="kan-mult"),
    pytest.param(_polynomial, id="polynomial"),
]

N_IN, N_OUT = 3, 2


def _inputs(n=5, seed=1):
    # inside (-1, 1), where KAN grids start, and away from knots for finite differences
    return jax.random.uniform(jax.random.key(seed), (n, N_IN), minval=-0.9, maxval=0.9)


@pytest.fixture(params=APPROXIMATORS)
def factory(request):
    return request.param


def test_output_shape_and_attributes(factory):
    approx = factory(N_IN, N_OUT, nnx.Rngs(0))
    assert isinstance(approx, pn.AbstractApproximator)
    assert (approx.in_features, approx.out_features) == (N_IN, N_OUT)
    assert approx(_inputs()[0]).shape == (N_OUT,)
    with pytest.raises(ValueError):
        approx(_inputs())  # one sample in: batches go through jax.vmap


def test_jit_vmap_grad_hessian(factory):
    approx = factory(N_IN, N_OUT, nnx.Rngs(0))
    xs = _inputs()
    eager = jax.vmap(approx)(xs)
    jitted = jax.jit(jax.vmap(lambda x: approx(x)))(xs)
    np.testing.assert_allclose(jitted, eager, rtol=1e-13, atol=1e-14)
    assert eager.shape == (5, N_OUT)

    def scalar(x):
        return jnp.sum(approx(x) ** 2)

    grads = jax.jit(jax.vmap(jax.grad(scalar)))(xs)
    hessians = jax.jit(jax.vmap(jax.hessian(scalar)))(xs)
    assert grads.shape == (5, N_IN) and hessians.shape == (5, N_IN, N_IN)
    assert np.all(np.isfinite(grads)) and np.all(np.isfinite(hessians))
    np.testing.assert_allclose(hessians, np.swapaxes(hessians, 1, 2), atol=1e-12)


def test_float64_kept(factory):
    approx = factory(N_IN, N_OUT, nnx.Rngs(0))
    for leaf in jax.tree.leaves(nnx.state(approx)):
        assert leaf.dtype == jnp.float64
    assert approx(_inputs()[0]).dtype == jnp.float64
    hess = jax.hessian(lambda x: approx(x)[0])(_inputs()[0])
    assert hess.dtype == jnp.float64


def test_deterministic_init(factory):
    def params(seed):
        return jax.tree.leaves(nnx.state(factory(N_IN, N_OUT, nnx.Rngs(seed)), nnx.Param))

    for x, y in zip(params(7), params(7), strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(params(7), params(8), strict=True))


def test_input_derivatives_match_finite_differences(factory):
    approx = factory(N_IN, N_OUT, nnx.Rngs(0))
    f = jax.jit(lambda x: approx(x))
    jac = jax.jit(jax.jacrev(lambda x: approx(x)))
    hess = jax.jit(jax.hessian(lambda x: approx(x)[0]))
    grad0 = jax.jit(jax.grad(lambda x: approx(x)[0]))
    eps = 1e-6
    eye = jnp.eye(N_IN)
    for x in _inputs(4, seed=3):
        fd_jac = jnp.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in eye], axis=1)
        np.testing.assert_allclose(jac(x), fd_jac, rtol=1e-6, atol=1e-8)
        fd_hess = jnp.stack(
            [(grad0(x + eps * e) - grad0(x - eps * e)) / (2 * eps) for e in eye], axis=1
        )
        np.testing.assert_allclose(hess(x), fd_hess, rtol=1e-5, atol=1e-7)


def test_optax_step_changes_only_params(factory):
    approx = factory(N_IN, N_OUT, nnx.Rngs(0))
    xs = _inputs(16)
    target = jnp.sin(xs[:, :N_OUT])
    graphdef, params, rest = nnx.split(approx, nnx.Param, ...)
    rest_before = jax.tree.map(np.asarray, rest)

    def loss(params):
        model = nnx.merge(graphdef, params, rest)
        return jnp.mean((jax.vmap(model)(xs) - target) ** 2)

    opt = optax.adam(1e-2)
    opt_state = opt.init(params)
    grads = jax.grad(loss)(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(new_params), strict=True)
    )
    assert loss(new_params) < loss(params)
    nnx.update(approx, new_params)
    _, _, rest_after = nnx.split(approx, nnx.Param, ...)
    for a, b in zip(jax.tree.leaves(rest_before), jax.tree.leaves(rest_after), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_roundtrip_inside_hnn(factory, tmp_path):
    approx = factory(2, 1, nnx.Rngs(3))
    if isinstance(approx, pn.KAN):
        # non-default grids must come back from the checkpoint, not from the constructor
        approx.update_grid(2.0 * jax.random.normal(jax.random.key(0), (64, 2)))
    model = pn.HNN(approx)
    ys = 1.5 * jax.random.normal(jax.random.key(1), (6, 2))
    expected = jax.vmap(lambda y: model(0.0, y))(ys)
    pn.save_model(model, tmp_path / "ckpt")
    loaded = pn.load_model(tmp_path / "ckpt")
    assert type(loaded.hamiltonian) is type(approx)
    np.testing.assert_array_equal(jax.vmap(lambda y: loaded(0.0, y))(ys), expected)
    for a, b in zip(
        jax.tree.leaves(nnx.state(model)), jax.tree.leaves(nnx.state(loaded)), strict=True
    ):
        np.testing.assert_array_equal(a, b)
