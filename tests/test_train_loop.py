"""The one training loop: TrainState, the chunk driver, optax extra args (L-BFGS), hooks,
regularised losses, and fit/fit_function results pinned to the previous implementation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn
from physnet.training import (
    AbstractLoss,
    GridUpdate,
    Hook,
    Regularized,
    StopBelow,
    TrainState,
    fit_function,
    make_optimizer,
    make_train_chunk,
)


class Linear(nnx.Module):
    """w ∈ R^d, for a least-squares problem with a known minimiser."""

    def __init__(self, d: int):
        self.w = nnx.Param(jnp.zeros(d))


class LeastSquares(AbstractLoss):
    """mean((A w - b)²) on the rows of (A, b); ``prepare`` takes the pair (A, b)."""

    name = "lstsq"

    def prepare(self, data, *, clean=False):
        a, b = data
        return {"a": jnp.asarray(a), "b": jnp.asarray(b)}

    def __call__(self, model, batch):
        return jnp.mean((batch["a"] @ model.w[...] - batch["b"]) ** 2)


class Scalar(nnx.Module):
    def __init__(self):
        self.w = nnx.Param(jnp.asarray(0.0))


class BlowsUpAbove(AbstractLoss):
    """(w - 10)², NaN once w > 8: with SGD at lr 0.25 from w = 0 the iterates are
    w_k = 10 (1 - 2^-k) = 0, 5, 7.5, 8.75, ..., so step 3 is the first non-finite one."""

    name = "blows-up"

    def prepare(self, data, *, clean=False):
        return {"dummy": jnp.zeros((1,))}

    def __call__(self, model, batch):
        w = model.w[...]
        return jnp.where(w > 8.0, jnp.nan, (w - 10.0) ** 2) + 0.0 * batch["dummy"][0]


def _lstsq_problem():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 5))
    b = a @ np.array([1.0, -2.0, 0.5, 3.0, -1.0]) + 0.1 * rng.normal(size=40)
    return a, b


def test_lbfgs_through_fit_reaches_the_least_squares_minimum():
    a, b = _lstsq_problem()
    exact = np.linalg.lstsq(a, b, rcond=None)[0]
    model = Linear(5)
    h = pn.fit(
        model, (a, b), steps=30, optimizer=optax.lbfgs(), loss=LeastSquares(), progress=False
    )
    np.testing.assert_allclose(np.asarray(model.w[...]), exact, rtol=1e-8, atol=1e-10)
    best = float(np.mean((a @ exact - b) ** 2))
    assert h.train_loss[-1] == pytest.approx(best, rel=1e-10)
    # a line search (value_fn as an extra argument) with a plain transformation in front
    model = Linear(5)
    solver = optax.chain(optax.sgd(1.0), optax.scale_by_backtracking_linesearch(30))
    pn.fit(model, (a, b), steps=300, optimizer=solver, loss=LeastSquares(), progress=False)
    np.testing.assert_allclose(np.asarray(model.w[...]), exact, rtol=1e-5, atol=1e-6)


def test_lbfgs_works_for_every_member_of_an_ensemble():
    a, b = _lstsq_problem()
    exact = np.linalg.lstsq(a, b, rcond=None)[0]
    ensemble = pn.models.Ensemble([Linear(5), Linear(5)])
    h = pn.fit_ensemble(
        ensemble, (a, b), steps=30, optimizer=optax.lbfgs(), loss=LeastSquares(), progress=False
    )
    assert h.train_loss.shape == (2, 30)
    w = np.asarray(nnx.merge(ensemble.graphdef, ensemble.state).w[...])
    np.testing.assert_allclose(w, np.stack([exact, exact]), rtol=1e-8, atol=1e-10)


def test_train_state_rolls_back_to_the_last_finite_step_and_names_it():
    model = Scalar()
    loss = BlowsUpAbove()
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt = optax.sgd(0.25)
    chunk = jax.jit(make_train_chunk(loss, graphdef, opt, batch_size=None, max_length=10))
    state = TrainState.create(params, opt)
    batch = loss.prepare(None)
    state, losses = chunk(state, rest, batch, jax.random.key(0), jnp.asarray(0), jnp.asarray(8))
    assert bool(state.stopped) and int(state.step) == 3 and int(state.diverged_at) == 3
    # restored to w_2 = 7.5, the parameters of the last step whose loss was finite
    assert float(state.params["w"][...]) == pytest.approx(7.5)
    np.testing.assert_allclose(np.asarray(losses)[:3], [100.0, 25.0, 6.25])
    assert np.isnan(np.asarray(losses)[3:]).all()
    # the same through fit: the error names the step and the last finite loss
    model = Scalar()
    with pytest.raises(pn.TrainingDivergedError) as info:
        pn.fit(model, None, steps=8, optimizer=opt, loss=loss, chunk_size=2, progress=False)
    assert info.value.step == 3 and info.value.last_loss == pytest.approx(6.25)
    assert info.value.history.steps == 3
    assert float(model.w[...]) == pytest.approx(7.5)


def test_diverged_error_takes_a_message_and_keeps_its_attributes():
    err = pn.TrainingDivergedError(4, 0.5, "history", message="all members diverged")
    assert str(err) == "all members diverged"
    assert (err.step, err.last_loss, err.history) == (4, 0.5, "history")
    assert "step 4" in str(pn.TrainingDivergedError(4, 0.5))


class Recorder(Hook):
    def __init__(self, boundary=None, stop_at=None):
        self.calls = []
        self.boundary = boundary
        self.stop_at = stop_at

    def boundaries(self, steps):
        return [] if self.boundary is None else [self.boundary]

    def __call__(self, step, model, history):
        self.calls.append((step, history.train_loss.shape[-1], history.test_steps.tolist()))
        return step == self.stop_at


def test_hooks_run_between_chunks_see_the_history_and_can_stop():
    a, b = _lstsq_problem()
    rec = Recorder(boundary=30)
    plain_calls = []
    h = pn.fit(
        Linear(5),
        (a, b),
        steps=250,
        optimizer=optax.adam(1e-2),
        loss=LeastSquares(),
        test_data=(a, b),
        chunk_size=100,
        progress=False,
        hooks=[rec, lambda step, model, history: plain_calls.append(step)],
    )
    # cut at the hook's boundary 30, then chunks of at most 100 steps
    steps = [0, 30, 104, 178, 250]
    assert [c[0] for c in rec.calls] == steps and plain_calls == steps
    assert [c[1] for c in rec.calls] == steps  # train_loss up to the step
    assert rec.calls[-1][2] == steps[1:]  # the test loss ran before the user's hooks
    np.testing.assert_array_equal(h.test_steps, steps[1:])
    stop = Recorder(stop_at=100)
    h = pn.fit(
        Linear(5),
        (a, b),
        optimizer="source",
        steps=300,
        loss=LeastSquares(),
        chunk_size=100,
        progress=False,
        hooks=[stop],
    )
    assert h.steps == 100 and [c[0] for c in stop.calls] == [0, 100]


def test_stop_below_ends_training_after_the_first_chunk_below_the_threshold():
    a, b = _lstsq_problem()
    options = dict(
        steps=60, optimizer=optax.adam(0.05), loss=LeastSquares(), chunk_size=10, progress=False
    )
    full = pn.fit(Linear(5), (a, b), **options)
    threshold = float(full.train_loss[14])
    assert full.train_loss[9] > threshold > full.train_loss[19]
    h = pn.fit(Linear(5), (a, b), hooks=[StopBelow(threshold)], **options)
    assert h.steps == 20
    np.testing.assert_allclose(h.train_loss, full.train_loss[:20], rtol=1e-12)


def test_a_hook_may_not_change_parameter_shapes():
    kan = pn.KAN([2, 2, 1], grid=3, rngs=nnx.Rngs(0))
    model = pn.HNN(kan)
    data = pn.data.generate(pn.systems.Duffing(1.0, 2.0, 0.0), 4, 1.0, 10, key=jax.random.key(0))

    def refine(step, model, history):
        if step == 5:
            kan.refine(6)

    with pytest.raises(pn.ConfigError, match="shapes"):
        pn.fit(
            model, data, optimizer="source", steps=10, chunk_size=5, progress=False, hooks=[refine]
        )


def test_grid_update_hook_in_fit_equals_updating_between_separate_fits():
    """KAN grid updates as a hook of pn.fit: with a stateless optimizer (SGD) this must equal
    moving the grids by hand between separate fits of the same steps."""
    data = pn.data.generate(pn.systems.Duffing(1.0, 2.0, 0.0), 6, 2.0, 20, key=jax.random.key(0))
    states = data.flat()[0]

    def model():
        return pn.HNN(pn.KAN([2, 3, 1], grid=4, rngs=nnx.Rngs(0)))

    opt = optax.sgd(1e-2)
    hooked = model()
    h = pn.fit(
        hooked,
        data,
        steps=30,
        optimizer=opt,
        chunk_size=100,
        progress=False,
        hooks=[GridUpdate(states, every=5, until=15)],
    )
    manual = model()
    losses = []
    for _ in range(3):
        pn.approximators.update_grids(manual, states)
        losses.append(pn.fit(manual, data, steps=5, optimizer=opt, progress=False).train_loss)
    losses.append(pn.fit(manual, data, steps=15, optimizer=opt, progress=False).train_loss)
    np.testing.assert_allclose(h.train_loss, np.concatenate(losses), rtol=1e-10)
    for x, y in zip(
        jax.tree.leaves(nnx.state(hooked)), jax.tree.leaves(nnx.state(manual)), strict=True
    ):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-9, atol=1e-12)
    with pytest.raises(pn.ConfigError, match="KAN"):
        pn.fit(
            pn.HNN(pn.MLP(2, 1, width=4, depth=1, rngs=nnx.Rngs(0))),
            data,
            optimizer="source",
            steps=2,
            progress=False,
            hooks=[GridUpdate(states, every=1, until=2)],
        )


def test_regularized_loss_is_loss_plus_penalty_and_prepares_like_its_loss():
    data = pn.data.generate(pn.systems.Duffing(1.0, 2.0, 0.0), 4, 1.0, 10, key=jax.random.key(0))
    model = pn.HNN(pn.MLP(2, 1, width=4, depth=1, rngs=nnx.Rngs(0)))

    def penalty(m, batch):
        return 1e-2 * sum(jnp.sum(p**2) for p in jax.tree.leaves(nnx.state(m, nnx.Param)))

    plain = pn.training.DerivativeLoss()
    reg = Regularized("derivative", penalty)
    batch = reg.prepare(data)
    jax.tree.map(np.testing.assert_array_equal, batch, plain.prepare(data))
    assert float(reg(model, batch)) == pytest.approx(
        float(plain(model, batch)) + float(penalty(model, batch)), rel=1e-14
    )
    h = pn.fit(
        model, data, optimizer="source", steps=3, loss=reg, progress=False
    )  # usable with fit
    assert h.train_loss[0] == pytest.approx(
        float(reg(pn.HNN(pn.MLP(2, 1, width=4, depth=1, rngs=nnx.Rngs(0))), batch)), rel=1e-12
    )
    with pytest.raises(pn.ConfigError, match="penalty"):
        Regularized(plain, 0.1)


def test_make_optimizer_lives_in_training():
    from physnet.reproduce import make_optimizer as from_reproduce

    assert from_reproduce is make_optimizer
    with pytest.raises(pn.ConfigError, match="schedule"):
        make_optimizer(1e-3, 10, "linear")


def test_fit_gives_the_same_numbers_as_before():
    """Pinned from the implementation before the one-loop refactor (commit f589013)."""
    data = pn.data.generate(pn.systems.Duffing(1.0, 2.0, 0.0), 8, 2.0, 20, key=jax.random.key(0))
    m = pn.HNN(pn.MLP(2, 1, width=8, depth=1, rngs=nnx.Rngs(0)))
    h = pn.fit(
        m,
        data,
        steps=130,
        optimizer=optax.adam(1e-2),
        test_data=data,
        chunk_size=50,
        batch_size=40,
        key=jax.random.key(2),
        progress=False,
    )
    total = sum(float(np.sum(np.abs(x))) for x in jax.tree.leaves(nnx.state(m, nnx.Param)))
    np.testing.assert_array_equal(h.test_steps, [44, 88, 130])
    assert h.train_loss[-1] == pytest.approx(3.4182708376150224, rel=1e-10)
    assert h.train_loss.sum() == pytest.approx(709.5162789953058, rel=1e-10)
    assert h.test_loss[-1] == pytest.approx(2.9286158216539184, rel=1e-10)
    assert total == pytest.approx(29.19473745973653, rel=1e-10)


def test_fit_function_with_grid_updates_keeps_the_trained_coefficients():
    """fit_function's grid updates now refit the *trained* splines. Before the one-loop
    refactor they refit the stale coefficients of the model as passed in, discarding the steps
    since the last update; the numbers below equal that old code with the model synced before
    each update (and differ from its unsynced result: train loss 0.008494, sum 8.289)."""
    x = jax.random.uniform(jax.random.key(3), (64, 2), minval=-1.0, maxval=1.0)
    y = (jnp.sin(2 * x[:, 0]) * x[:, 1])[:, None]
    kan = pn.KAN([2, 3, 1], grid=4, rngs=nnx.Rngs(1))
    h = fit_function(
        kan,
        x * 1.3,
        y,
        steps=60,
        optimizer=optax.adam(1e-2),
        chunk_size=25,
        update_grid_every=5,
        update_grid_until=20,
        test=(x, y),
        batch_size=32,
        key=jax.random.key(7),
    )
    total = sum(float(np.sum(np.abs(v))) for v in jax.tree.leaves(nnx.state(kan)))
    # grid updates run inside the compiled chunks (no chunk boundaries at update steps since
    # issue 19); the numbers are those of the updates between chunks, to 1e-6: since the grid
    # ends are moved 1e-9 of the range beyond the samples (END_GUARD) they differ by ~2e-8
    np.testing.assert_array_equal(h.test_steps, [20, 40, 60])
    assert h.train_loss[-1] == pytest.approx(0.007496638647460737, rel=1e-6)
    assert h.train_loss.sum() == pytest.approx(5.067355644564814, rel=1e-6)
    assert h.test_loss[-1] == pytest.approx(0.018966673105966298, rel=1e-6)
    assert total == pytest.approx(96.49681135585736, rel=1e-6)
