import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn


@pytest.fixture(scope="module")
def small_data():
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 20, 5.0, 25, key=jax.random.key(0), y0_std=0.7)
    return data.split(0.8, key=jax.random.key(1))


def _model(seed=0):
    return pn.HNN(pn.MLP(2, 1, width=16, depth=2, rngs=nnx.Rngs(seed)))


def _params(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


def test_fit_reduces_loss_and_records_history(small_data):
    train, test = small_data
    model = _model()
    h = pn.fit(model, train, steps=300, optimizer=optax.adam(3e-3), test_data=test, chunk_size=100)
    assert h.train_loss.shape == (300,)
    assert h.train_loss[-1] < 0.2 * h.train_loss[0]
    np.testing.assert_array_equal(h.test_steps, [100, 200, 300])
    assert h.test_loss[-1] < h.test_loss[0]
    # the model holds the trained parameters: its loss matches the history
    loss = pn.training.DerivativeLoss()
    final = float(loss(model, loss.prepare(train)))
    assert final <= h.train_loss[-1] * 1.05


def test_fit_matches_a_hand_written_loop(small_data):
    """physnet's chunked scan computes exactly the plain optax loop."""
    train, _ = small_data
    model = _model(3)
    reference = _model(3)
    pn.fit(model, train, steps=37, optimizer=optax.adam(1e-3), chunk_size=10)
    y, dy = train.flat()
    graphdef, params = nnx.split(reference)
    opt = optax.adam(1e-3)
    state = opt.init(params)

    def loss_fn(params):
        m = nnx.merge(graphdef, params)
        return jnp.mean((jax.vmap(lambda s: m(0.0, s))(y) - dy) ** 2)

    for _ in range(37):
        g = jax.grad(loss_fn)(params)
        upd, state = opt.update(g, state, params)
        params = optax.apply_updates(params, upd)
    for a, b in zip(_params(model), jax.tree.leaves(params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_same_seed_same_result(small_data):
    train, _ = small_data
    a, b = _model(5), _model(5)
    pn.fit(a, train, optimizer="source", steps=50, batch_size=64, key=jax.random.key(9))
    pn.fit(b, train, optimizer="source", steps=50, batch_size=64, key=jax.random.key(9))
    for x, y in zip(_params(a), _params(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_minibatch_requires_key_and_valid_size(small_data):
    train, _ = small_data
    with pytest.raises(pn.ConfigError, match="key"):
        pn.fit(_model(), train, optimizer="source", steps=5, batch_size=10)
    with pytest.raises(pn.ConfigError, match="batch_size"):
        pn.fit(
            _model(), train, optimizer="source", steps=5, batch_size=10**6, key=jax.random.key(0)
        )


def test_divergence_stops_with_step_and_keeps_last_good_parameters(small_data):
    train, _ = small_data
    model = _model()
    # the update of step 57 is infinite, so the loss of step 58 is the first non-finite one
    blow_up = optax.scale_by_schedule(lambda count: jnp.where(count >= 57, jnp.inf, 1.0))
    opt = optax.chain(optax.adam(1e-3), blow_up)
    with pytest.raises(pn.TrainingDivergedError) as info:
        pn.fit(model, train, steps=200, optimizer=opt, chunk_size=50)
    err = info.value
    assert err.step == 58
    assert f"step {err.step}" in str(err)
    assert np.isfinite(err.last_loss)
    assert err.history.train_loss.shape == (err.step,)
    assert all(np.all(np.isfinite(p)) for p in _params(model))
    # the kept parameters are those of the last finite step: re-evaluating gives its loss
    loss = pn.training.DerivativeLoss()
    assert float(loss(model, loss.prepare(train))) == pytest.approx(err.last_loss, rel=1e-9)


def test_checkpoint_roundtrip(tmp_path, small_data):
    train, _ = small_data
    for model in (
        _model(1),
        pn.NeuralODE(pn.MLP(2, 2, width=8, depth=1, activation="softplus", rngs=nnx.Rngs(0))),
        pn.HNN(pn.MLP(2, 1, width=8, activation="soft_exponential", rngs=nnx.Rngs(0))),
    ):
        pn.fit(model, train, optimizer="source", steps=5)
        pn.save_model(model, tmp_path / "ckpt")
        loaded = pn.load_model(tmp_path / "ckpt")
        assert type(loaded) is type(model)
        y = jnp.array([0.3, -0.2])
        np.testing.assert_array_equal(loaded(0.0, y), model(0.0, y))
    # no pickle anywhere
    with np.load(tmp_path / "ckpt" / "state.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype == np.float64 for k in npz.files)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(pn.DataError, match="not found"):
        pn.load_model(tmp_path / "nothing")
    model = _model()
    pn.save_model(model, tmp_path / "c")
    np.savez(tmp_path / "c" / "state.npz", x=np.zeros(1))
    with pytest.raises(pn.DataError, match="do not match"):
        pn.load_model(tmp_path / "c")
