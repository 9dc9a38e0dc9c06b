import os
import subprocess
import sys
import textwrap

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


def _factory(rngs):
    return pn.HNN(pn.MLP(2, 1, width=16, depth=2, rngs=rngs))


def test_ensemble_training_equals_training_members_one_by_one(small_data):
    train, test = small_data
    ens = pn.Ensemble.from_factory(_factory, 3, seed=10)
    h = pn.fit_ensemble(
        ens, train, steps=60, optimizer=optax.adam(3e-3), test_data=test, chunk_size=30
    )
    assert h.train_loss.shape == (3, 60) and h.test_loss.shape == (2, 3)
    np.testing.assert_array_equal(h.diverged_at, [-1, -1, -1])
    for i in range(3):
        single = _factory(nnx.Rngs(10 + i))
        hs = pn.fit(single, train, steps=60, optimizer=optax.adam(3e-3), chunk_size=30)
        np.testing.assert_allclose(h.train_loss[i], hs.train_loss, rtol=1e-9)
        y = jnp.array([0.3, -0.1])
        np.testing.assert_allclose(ens.member(i)(0.0, y), single(0.0, y), rtol=1e-9)


def test_ensemble_members_differ_and_rollout_has_member_axis(small_data):
    train, _ = small_data
    ens = pn.Ensemble.from_factory(_factory, 4)
    pn.fit_ensemble(ens, train, steps=20)
    ts = jnp.linspace(0, 2, 21)
    ys = pn.rollout(ens, train.y0[:5], ts)
    assert ys.shape == (4, 5, 21, 2)
    spread = jnp.std(ys, axis=0)
    assert float(spread[:, -1].mean()) > 0  # members disagree: an uncertainty estimate
    np.testing.assert_allclose(ys[2], pn.rollout(ens.member(2), train.y0[:5], ts), rtol=1e-12)
    single = pn.rollout(ens, train.y0[0], ts)
    assert single.shape == (4, 21, 2)
    energies = ens.apply(lambda m: jax.vmap(m.energy)(train.y0[:5]))
    assert energies.shape == (4, 5)


def test_ensemble_rejects_mixed_structures():
    with pytest.raises(pn.ConfigError, match="differs"):
        pn.Ensemble([_factory(nnx.Rngs(0)), pn.HNN(pn.MLP(2, 1, width=8, rngs=nnx.Rngs(0)))])


def test_ensemble_member_divergence_is_isolated(small_data):
    train, _ = small_data
    ens = pn.Ensemble.from_factory(lambda r: pn.NeuralODE(pn.MLP(2, 2, width=8, rngs=r)), 2)
    # an optimizer that blows up from step 5 on, for every member: both stop, nothing raises
    opt = optax.chain(
        optax.adam(1e-3), optax.scale_by_schedule(lambda c: jnp.where(c >= 5, jnp.inf, 1.0))
    )
    h = pn.fit_ensemble(ens, train, steps=20, optimizer=opt)
    np.testing.assert_array_equal(h.diverged_at, [6, 6])
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(ens.state))


DATA_PARALLEL_SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np, optax
    from flax import nnx
    import physnet as pn
    from jax.sharding import Mesh
    assert jax.device_count() == 4, jax.devices()
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 16, 5.0, 25, key=jax.random.key(0), y0_std=0.7)
    def model():
        return pn.HNN(pn.MLP(2, 1, width=16, depth=2, rngs=nnx.Rngs(0)))
    one, four = model(), model()
    h1 = pn.fit(one, data, steps=50, optimizer=optax.adam(1e-3))
    mesh = Mesh(np.array(jax.devices()), ("data",))
    h4 = pn.fit(four, data, steps=50, optimizer=optax.adam(1e-3), mesh=mesh)
    np.testing.assert_allclose(h4.train_loss, h1.train_loss, rtol=1e-12)
    for a, b in zip(jax.tree.leaves(nnx.state(one)), jax.tree.leaves(nnx.state(four))):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    ens = pn.Ensemble.from_factory(lambda r: pn.HNN(pn.MLP(2, 1, width=8, rngs=r)), 2)
    pn.fit_ensemble(ens, data, steps=10, mesh=mesh)
    try:
        pn.fit(model(), data.split(0.7, key=jax.random.key(0))[0], steps=1, mesh=mesh)
    except pn.ConfigError as err:
        assert "divide evenly" in str(err)
    else:
        raise AssertionError("expected a ConfigError for 275 samples on 4 devices")
    print("DATA-PARALLEL OK")
    """
)


def test_data_parallel_matches_single_device():
    """Data-parallel training over 4 (forced host) devices gives the single-device losses."""
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    r = subprocess.run(
        [sys.executable, "-c", DATA_PARALLEL_SCRIPT], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "DATA-PARALLEL OK" in r.stdout
