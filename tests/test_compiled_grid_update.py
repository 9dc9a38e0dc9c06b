"""KAN grid updates inside the compiled training loop (issue 19)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn
from physnet.approximators import update_grids, update_grids_traced
from physnet.training import GridUpdate, fit_function


def test_traced_grid_update_equals_the_numpy_one():
    grid_eps = 0.02  # quantile-mixed knots (the uniform case is covered by test_train_loop)
    xs = jax.random.uniform(jax.random.key(1), (200, 2), minval=-2.0, maxval=1.5)
    xs = xs.at[:, 1].multiply(0.3)

    def kan():
        return pn.KAN([2, [3, 1], 1], grid=5, grid_eps=grid_eps, rngs=nnx.Rngs(0))

    host, traced = kan(), kan()
    update_grids(host, xs, margin=0.1)
    graphdef, state = nnx.split(traced)

    @jax.jit
    def run(state, xs):
        model = nnx.merge(graphdef, state)
        update_grids_traced(model, xs, margin=0.1)
        return nnx.split(model)[1]

    nnx.update(traced, run(state, xs))
    for a, b in zip(
        jax.tree.leaves(nnx.state(host)), jax.tree.leaves(nnx.state(traced)), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize("make_optimizer", [lambda: optax.adam(1e-2), optax.lbfgs])
def test_grid_updates_run_in_one_compiled_chunk(make_optimizer):
    """No chunk boundary at the update steps: one chunk, one compilation, and the numbers of
    updates between chunks (the hook before issue 19) to round-off. With L-BFGS the line
    search's stored loss and gradient are forgotten at each update in both."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-1.5, 1.5, (100, 2)))
    y = x[:, :1] * x[:, 1:]

    def run(chunk_size, every):
        kan = pn.KAN([2, 3, 1], grid=4, grid_eps=0.5, rngs=nnx.Rngs(0))
        h = fit_function(
            kan,
            x,
            y,
            steps=30,
            optimizer=make_optimizer(),
            chunk_size=chunk_size,
            update_grid_every=every,
            update_grid_until=20,
            test=(x, y),
        )
        return kan, h

    one, h1 = run(30, 5)
    np.testing.assert_array_equal(h1.test_steps, [30])
    # the same schedule by hand: a grid update, then fits of 5 steps (Adam state carried)
    manual = pn.KAN([2, 3, 1], grid=4, grid_eps=0.5, rngs=nnx.Rngs(0))
    opt_state, losses = None, []
    for _ in range(4):
        update_grids(manual, x)
        h, opt_state = fit_function(
            manual,
            x,
            y,
            steps=5,
            optimizer=make_optimizer(),
            opt_state=opt_state,
            return_opt_state=True,
        )
        losses.append(h.train_loss)
    h, _ = fit_function(
        manual,
        x,
        y,
        steps=10,
        optimizer=make_optimizer(),
        opt_state=opt_state,
        return_opt_state=True,
    )
    losses.append(h.train_loss)
    np.testing.assert_allclose(h1.train_loss, np.concatenate(losses), rtol=1e-9)
    for a, b in zip(
        jax.tree.leaves(nnx.state(one)), jax.tree.leaves(nnx.state(manual)), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-8, atol=1e-12)


def test_grid_update_checks_its_options():
    with pytest.raises(pn.ConfigError, match="margin"):
        GridUpdate(jnp.zeros((3, 2)), every=1, until=2, margin=-1.0)
