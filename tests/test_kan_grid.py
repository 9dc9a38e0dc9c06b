"""remap_optimizer_state finds the coefficient moments by structure, for any optax state."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn
from physnet.approximators import remap_optimizer_state


def squares_and_trace() -> optax.GradientTransformation:
    """A toy optimizer whose state names are neither ``mu`` nor ``nu``: a dict holding the
    running gradient and the running squared gradient."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return {"first": zeros, "square": zeros}

    def update(grads, state, params=None):
        first = jax.tree.map(lambda a, g: 0.9 * a + g, state["first"], grads)
        square = jax.tree.map(lambda a, g: 0.9 * a + g * g, state["square"], grads)
        return jax.tree.map(lambda g: -1e-3 * g, grads), {"first": first, "square": square}

    return optax.GradientTransformation(init, update)


def trained_state(model, optimizer, steps=5):
    """Optimizer state after a few steps of fitting the HNN's H to a quadratic."""
    xs = jax.random.normal(jax.random.key(0), (32, 2))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(params):
        m = nnx.merge(graphdef, params, rest)
        h = jax.vmap(m.energy)(xs)
        return jnp.mean((h - 0.5 * jnp.sum(xs**2, axis=1)) ** 2)

    state = optimizer.init(params)
    for _ in range(steps):
        grads = jax.grad(loss)(params)
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    nnx.update(model, params)
    return state


def coef_leaves(state):
    """{path: leaf} of the coefficient-shaped leaves of an optimizer state."""
    flat = jax.tree_util.tree_flatten_with_path(state)[0]
    return {jax.tree_util.keystr(p): v for p, v in flat if "coef" in jax.tree_util.keystr(p)}


@pytest.mark.parametrize(
    "optimizer, second",
    [
        (optax.adam(1e-2), ("nu",)),
        (optax.sgd(1e-2, momentum=0.9), ()),
        (squares_and_trace(), ("square",)),
    ],
    ids=["adam", "sgd-momentum", "custom-names"],
)
def test_refine_keeps_the_optimizer_state_consistent(optimizer, second):
    model = pn.HNN(pn.KAN([2, 2, 1], grid=3, rngs=nnx.Rngs(0)))
    state = trained_state(model, optimizer)
    before = coef_leaves(state)
    assert before, "the optimizer state holds coefficient moments"
    change = model.hamiltonian.refine(5)  # not a multiple: M has negative entries
    assert min(float(jnp.min(m)) for m in change.coefficient_maps) < 0
    mapped = remap_optimizer_state(state, change, prefix=("hamiltonian",))
    params = nnx.state(model, nnx.Param)
    fresh = optimizer.init(params)
    # same structure and shapes as a state made for the refined parameters
    assert jax.tree.structure(mapped) == jax.tree.structure(fresh)
    for m, f in zip(jax.tree.leaves(mapped), jax.tree.leaves(fresh), strict=True):
        assert jnp.shape(m) == jnp.shape(f)
    # non-coefficient leaves are untouched
    flat_old = jax.tree_util.tree_flatten_with_path(state)[0]
    flat_new = jax.tree.leaves(mapped)
    for (path, leaf), new in zip(flat_old, flat_new, strict=True):
        if "coef" not in jax.tree_util.keystr(path):
            np.testing.assert_array_equal(np.asarray(new), np.asarray(leaf))
    # first moments go through r·M; second moments stay non-negative
    after = coef_leaves(mapped)
    ratio = change.previous_grid / change.grid
    for key, old in before.items():
        layer = int(re.search(r"layers\W*(\d+)", key).group(1))
        m = change.coefficient_maps[layer]
        if any(name in key for name in second):
            assert float(jnp.min(after[key])) >= 0.0
            assert float(jnp.max(old)) > 0.0
        else:
            np.testing.assert_allclose(
                after[key], ratio * jnp.einsum("inm,imo->ino", m, old), rtol=1e-12, atol=1e-15
            )
            assert float(jnp.max(jnp.abs(old))) > 0.0
    # and training goes on: one update with the mapped state and the refined parameters
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = optimizer.update(grads, mapped, params)
    assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))


def test_remap_leaves_a_state_without_the_kan_alone():
    kan = pn.KAN([2, 1], grid=3, rngs=nnx.Rngs(1))
    state = optax.adam(1e-2).init(nnx.state(kan, nnx.Param))
    change = kan.refine(6)
    # wrong prefix: nothing matches, nothing changes
    mapped = remap_optimizer_state(state, change, prefix=("hamiltonian",))
    for a, b in zip(jax.tree.leaves(mapped), jax.tree.leaves(state), strict=True):
        assert a is b
