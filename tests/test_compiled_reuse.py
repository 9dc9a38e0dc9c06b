"""In-process reuse of compiled training chunks (physnet.training._compiled)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn
from physnet.training import _compiled


def _data(n=6):
    return pn.data.generate(pn.systems.Duffing(1.0, 2.0, 0.0), n, 2.0, 20, key=jax.random.key(0))


def _model(width=8):
    return pn.HNN(pn.MLP(2, 1, width=width, depth=1, rngs=nnx.Rngs(0)))


def _chunk_stats():
    return dict(_compiled.stats["chunk"])


def _fit(model, data, optimizer, steps=10):
    """Fit, and the chunk's reuse counts during it."""
    before = _chunk_stats()
    h = pn.fit(model, data, steps=steps, optimizer=optimizer, chunk_size=5, progress=False)
    return h, {k: _compiled.stats["chunk"][k] - before[k] for k in before}


def test_token_is_a_value_snapshot():
    tok = _compiled.token
    assert tok(optax.adam(1e-3)) == tok(optax.adam(1e-3))
    assert tok(optax.adam(1e-3)) != tok(optax.adam(1e-2))
    assert tok(optax.adam(1e-3)) != tok(optax.sgd(1e-3))
    assert tok(jnp.arange(3.0)) == tok(jnp.arange(3.0))
    assert tok(jnp.arange(3.0)) != tok(jnp.arange(3.0) + 1)
    assert tok(jnp.arange(3.0)) != tok(jnp.arange(3))  # dtype counts
    assert tok(1) != tok(1.0) != tok(True)
    assert tok(pn.training.get_loss("derivative")) == tok(pn.training.get_loss("derivative"))
    assert tok(pn.training.get_loss("derivative")) != tok(pn.training.get_loss("trajectory"))

    class Opaque:
        __slots__ = ()
        __hash__ = None

    with pytest.raises(_compiled.Unkeyable):
        tok([Opaque()])
    with pytest.raises(_compiled.Unkeyable):
        tok(np.zeros(_compiled.MAX_ARRAY_BYTES // 8 + 1))


def test_an_equal_second_fit_reuses_the_executable_and_gives_the_same_numbers(monkeypatch):
    _compiled.clear_compiled()
    data = _data()
    a, b = _model(), _model()
    ha, sa = _fit(a, data, optax.adam(1e-2))
    hb, sb = _fit(b, data, optax.adam(1e-2))  # a new but equal optimizer, loss and model
    assert sa["misses"] == 1 and sb == {"hits": 1, "misses": 0, "unkeyable": 0}
    np.testing.assert_array_equal(ha.train_loss, hb.train_loss)
    monkeypatch.setenv("PHYSNET_REUSE_COMPILED", "0")
    c = _model()
    hc, sc = _fit(c, data, optax.adam(1e-2))
    assert sc == {"hits": 0, "misses": 0, "unkeyable": 0}
    np.testing.assert_array_equal(ha.train_loss, hc.train_loss)
    for x, y in zip(jax.tree.leaves(nnx.state(a)), jax.tree.leaves(nnx.state(c)), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "change",
    ["learning rate", "optimizer", "width", "samples", "steps per chunk"],
)
def test_anything_the_program_depends_on_forces_a_new_compilation(change):
    _compiled.clear_compiled()
    data = _data()
    _fit(_model(), data, optax.adam(1e-2))
    model, opt, steps = _model(), optax.adam(1e-2), 10
    if change == "learning rate":
        opt = optax.adam(2e-2)
    elif change == "optimizer":
        opt = optax.lbfgs()
    elif change == "width":
        model = _model(width=6)
    elif change == "samples":
        data = _data(n=5)
    else:
        steps = 12  # chunks of 4 instead of 5
    h, s = _fit(model, data, opt, steps=steps)
    assert s["misses"] == 1 and s["hits"] == 0
    assert np.all(np.isfinite(h.train_loss))


def test_the_test_loss_evaluation_is_reused_too():
    _compiled.clear_compiled()
    data, test = _data(), _data(n=3)
    runs = []
    for _ in range(2):
        before = dict(_compiled.stats["test-loss"])
        h = pn.fit(
            _model(),
            data,
            steps=6,
            optimizer=optax.adam(1e-2),
            test_data=test,
            chunk_size=3,
            progress=False,
        )
        runs.append(({k: _compiled.stats["test-loss"][k] - before[k] for k in before}, h.test_loss))
    assert runs[0][0]["misses"] == 1 and runs[1][0] == {"hits": 1, "misses": 0, "unkeyable": 0}
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_an_optimizer_init_that_cannot_be_traced_runs_as_it_is():
    base = optax.adam(1e-2)

    def init(params):
        np.asarray(jax.tree.leaves(params)[0])  # a host conversion: not traceable
        return base.init(params)

    h, _ = _fit(_model(), _data(), optax.GradientTransformation(init, base.update))
    ref, _ = _fit(_model(), _data(), optax.adam(1e-2))
    np.testing.assert_array_equal(h.train_loss, ref.train_loss)


def _user_penalty(model, batch):
    return 0.0 * jnp.sum(batch["y"][0])


def test_user_code_and_ambiguous_values_are_never_served_a_cached_program():
    """Review findings: a user's function, class or module can read state no snapshot sees
    (globals of the functions it calls, class attributes, slots), so it makes the key
    unkeyable; values that compare equal but act differently get different tokens."""
    tok = _compiled.token
    with pytest.raises(_compiled.Unkeyable):
        tok(_user_penalty)  # defined in a test module, not in a library

    class Config:
        scale = 1.0

    with pytest.raises(_compiled.Unkeyable):
        tok(Config())
    with pytest.raises(_compiled.Unkeyable):
        tok({"get": {"w": 1.0}.get, "x": object()})
    assert tok(0.0) != tok(-0.0)
    assert tok(jnp.asarray(1.0)) != tok(np.asarray(1.0))  # weak type and kind
    assert tok({"w": 1.0}.get) != tok({"w": 2.0}.get)  # a bound builtin by its owner's value

    h1, s1 = _fit(_model(), _data(), optax.adam(1e-2))
    loss = pn.training.Regularized(pn.training.get_loss("derivative"), _user_penalty)
    before = _chunk_stats()
    pn.fit(_model(), _data(), steps=10, optimizer=optax.adam(1e-2), loss=loss, progress=False)
    after = _chunk_stats()
    assert after["unkeyable"] == before["unkeyable"] + 1 and after["hits"] == before["hits"]


def test_stored_line_search_values_are_forgotten_when_parameters_or_data_change():
    """A hook that moves the parameters between chunks, or an optimizer state carried to new
    data, must not hand the next L-BFGS step the old loss and gradient."""
    data = pn.data.generate(pn.systems.Duffing(1.0, 2.0, 0.0), 3, 1.0, 10, key=jax.random.key(0))
    loss = pn.training.get_loss("derivative")
    batch = loss.prepare(data)
    seen = {}

    def shrink(step, model, history):
        if step == 3:
            _, p, _ = nnx.split(model, nnx.Param, ...)
            nnx.update(model, jax.tree.map(lambda x: 0.5 * x, p))
            seen["loss"] = float(loss(model, batch))

    model = pn.HNN(pn.MLP(2, 1, width=4, depth=1, rngs=nnx.Rngs(0)))
    h = pn.fit(
        model,
        data,
        steps=6,
        chunk_size=3,
        optimizer=pn.training.adam_then_lbfgs(2),
        hooks=[shrink],
        progress=False,
    )
    np.testing.assert_allclose(h.train_loss[3], seen["loss"], rtol=1e-12)

    x = jnp.linspace(-1.0, 1.0, 16)[:, None]
    mlp = pn.MLP(1, 1, width=4, depth=1, rngs=nnx.Rngs(0))
    opt = pn.training.adam_then_lbfgs(2)
    _, state = pn.training.fit_function(
        mlp, x, jnp.sin(3 * x), steps=4, optimizer=opt, return_opt_state=True
    )
    y2 = jnp.cos(3 * x)
    true = float(jnp.mean((jax.vmap(mlp)(x) - y2) ** 2))
    h = pn.training.fit_function(mlp, x, y2, steps=2, optimizer=opt, opt_state=state)
    np.testing.assert_allclose(h.train_loss[0], true, rtol=1e-12)
