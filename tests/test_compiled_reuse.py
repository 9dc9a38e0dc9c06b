"""Reuse of compiled training programs through JAX's own cache: the chunk is one module-level
``jax.jit`` (physnet.training.run_chunk) whose static argument is a ChunkSpec value (graph
definition, loss, optimizer spec, sizes). Compilations are counted with JAX's own monitoring
events, not a private counter."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import physnet as pn
from physnet.training import Adam, AdamThenLBFGS, FitConfig

TRACE = "/jax/core/compile/jaxpr_trace_duration"
COMPILE = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def count_compilations():
    """``{"trace": {fun: n}, "compile": {fun: n}}`` of the jitted functions JAX traced and
    compiled inside the block (JAX's monitoring events)."""
    seen = {"trace": {}, "compile": {}}

    def listener(event, duration, **kwargs):
        kind = {TRACE: "trace", COMPILE: "compile"}.get(event)
        if kind is not None:
            name = kwargs.get("fun_name", "?")
            seen[kind][name] = seen[kind].get(name, 0) + 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield seen
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def _chunks(seen, kind="compile") -> int:
    return sum(n for name, n in seen[kind].items() if "_chunk_program" in name)


def _data(n=6):
    return pn.data.generate(pn.systems.Duffing(1.0, 2.0, 0.0), n, 2.0, 20, key=jax.random.key(0))


def _model(width=8, seed=0):
    return pn.HNN(pn.MLP(2, 1, width=width, depth=1, rngs=nnx.Rngs(seed)))


def _fit(model, data, optimizer, steps=10, **kw):
    """Fit, and the compilations during it."""
    with count_compilations() as seen:
        h = pn.fit(
            model, data, steps=steps, optimizer=optimizer, chunk_size=5, progress=False, **kw
        )
    return h, seen


def test_a_loop_over_seeds_compiles_the_chunk_once_and_nothing_else():
    data, test = _data(), _data(n=3)
    config = FitConfig(steps=10, optimizer=Adam(1e-2), chunk_size=5)
    pn.fit(_model(seed=0), data, config, test_data=test, progress=False)  # warm
    losses = []
    with count_compilations() as seen:
        for seed in range(1, 5):
            h = pn.fit(_model(seed=seed), data, config, test_data=test, progress=False)
            losses.append(h.train_loss)
    assert seen == {"trace": {}, "compile": {}}, seen  # no tracing, no compilation at all
    assert not np.array_equal(losses[0], losses[1])  # different seeds, different runs


def test_a_fresh_but_equal_config_reuses_the_program_and_gives_the_same_numbers():
    data = _data()
    a, b = _model(), _model()
    ha, sa = _fit(a, data, Adam(1e-2))
    hb, sb = _fit(b, data, Adam(1e-2))  # a new but equal optimizer spec, loss and model
    assert _chunks(sb) == 0 and _chunks(sb, "trace") == 0
    np.testing.assert_array_equal(ha.train_loss, hb.train_loss)
    for x, y in zip(jax.tree.leaves(nnx.state(a)), jax.tree.leaves(nnx.state(b)), strict=True):
        np.testing.assert_array_equal(x, y)
    # the spec builds exactly the optax optimizer it names
    hc, _ = _fit(_model(), data, optax.adam(1e-2))
    np.testing.assert_array_equal(ha.train_loss, hc.train_loss)


def test_anything_the_program_depends_on_forces_a_new_compilation():
    data = _data()
    _fit(_model(), data, Adam(1e-2))
    changes = {
        "learning rate": dict(optimizer=Adam(2e-2)),
        "optimizer": dict(optimizer=AdamThenLBFGS(adam_steps=2)),
        "schedule": dict(optimizer=Adam(1e-2, "warmup-cosine")),
        "width": dict(model=_model(width=6)),
        "samples": dict(data=_data(n=5)),
        "steps per chunk": dict(steps=12),  # chunks of 4 instead of 5
        "loss": dict(loss=pn.TrajectoryLoss(3)),
        "max_param_norm": dict(max_param_norm=1e3),
    }
    for name, change in changes.items():
        kw = {"model": _model(), "data": data, "optimizer": Adam(1e-2), "steps": 10, **change}
        h, seen = _fit(kw.pop("model"), kw.pop("data"), kw.pop("optimizer"), **kw)
        assert _chunks(seen) == 1, name
        assert np.all(np.isfinite(h.train_loss)), name


def test_losses_and_optimizer_specs_are_values():
    assert pn.TrajectoryLoss(3) == pn.TrajectoryLoss(3)
    assert hash(pn.TrajectoryLoss(3, solver="tsit5")) == hash(pn.TrajectoryLoss(3, solver="tsit5"))
    assert pn.TrajectoryLoss(3) != pn.TrajectoryLoss(4)
    assert pn.training.get_loss("derivative") == pn.training.get_loss("derivative")
    assert Adam(1e-3) == Adam(1e-3) != Adam(1e-2)
    assert AdamThenLBFGS().resolve(1000) == AdamThenLBFGS(adam_steps=50)
    data = _data()
    _fit(_model(), data, Adam(1e-2), loss=pn.TrajectoryLoss(3))
    _, seen = _fit(_model(), data, Adam(1e-2), loss=pn.TrajectoryLoss(3))
    assert _chunks(seen) == 0


def test_optax_objects_and_user_code_follow_jax_identity_rule():
    """An optax object or a user's penalty is a static argument compared by identity: the same
    object reuses the program, an equal one built afresh compiles again (documented)."""
    data = _data()
    opt = optax.adam(1e-2)
    _fit(_model(), data, opt)
    _, same = _fit(_model(), data, opt)
    _, fresh = _fit(_model(), data, optax.adam(1e-2))
    assert _chunks(same) == 0 and _chunks(fresh) == 1

    def penalty(model, batch):
        return 0.0 * jnp.sum(batch["y"][0])

    loss = pn.training.Regularized("derivative", penalty)
    _fit(_model(), data, Adam(1e-2), loss=loss)
    _, same = _fit(_model(), data, Adam(1e-2), loss=pn.training.Regularized("derivative", penalty))
    _, other = _fit(
        _model(), data, Adam(1e-2), loss=pn.training.Regularized("derivative", lambda m, b: 0.0)
    )
    assert _chunks(same) == 0 and _chunks(other) == 1


def test_a_grid_update_hook_is_a_pytree_so_equal_hooks_share_the_program():
    """The in-chunk KAN grid update passes its samples as an argument: a fresh hook with the
    same options and sample shapes reuses the program; other samples change the numbers."""
    data = _data()
    xs = data.flat()[0]

    def run(samples):
        model = pn.HNN(pn.KAN([2, 3, 1], grid=4, rngs=nnx.Rngs(0)))
        hook = pn.training.GridUpdate(samples, every=3, until=9)
        return _fit(model, data, Adam(1e-2), hooks=[hook])

    h1, _ = run(xs)
    h2, seen = run(xs)
    h3, seen3 = run(0.5 * xs)
    assert _chunks(seen) == 0 and _chunks(seen3) == 0
    np.testing.assert_array_equal(h1.train_loss, h2.train_loss)
    assert not np.array_equal(h1.train_loss, h3.train_loss)


def test_an_optimizer_init_that_cannot_be_traced_runs_as_it_is():
    base = optax.adam(1e-2)

    def init(params):
        np.asarray(jax.tree.leaves(params)[0])  # a host conversion: not traceable
        return base.init(params)

    h, _ = _fit(_model(), _data(), optax.GradientTransformation(init, base.update))
    ref, _ = _fit(_model(), _data(), optax.adam(1e-2))
    np.testing.assert_array_equal(h.train_loss, ref.train_loss)


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
