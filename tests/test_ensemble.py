import json
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


@pytest.mark.parametrize("member_batch_size", [1, 2])
def test_members_in_sequence_equal_members_vmapped(small_data, member_batch_size):
    """lax.map over (groups of) members gives the all-vmapped result to round-off."""
    train, _ = small_data
    ens_v = pn.Ensemble.from_factory(_factory, 3, seed=2)
    ens_s = pn.Ensemble.from_factory(_factory, 3, seed=2)
    hv = pn.fit_ensemble(ens_v, train, optimizer="source", steps=30, chunk_size=15)
    hs = pn.fit_ensemble(
        ens_s,
        train,
        optimizer="source",
        steps=30,
        chunk_size=15,
        member_batch_size=member_batch_size,
    )
    np.testing.assert_allclose(hs.train_loss, hv.train_loss, rtol=1e-10)
    for a, b in zip(jax.tree.leaves(ens_v.state), jax.tree.leaves(ens_s.state), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    with pytest.raises(pn.ConfigError, match="member_batch_size"):
        pn.fit_ensemble(ens_s, train, optimizer="source", steps=1, member_batch_size=0)


def test_ensemble_members_differ_and_rollout_has_member_axis(small_data):
    train, _ = small_data
    ens = pn.Ensemble.from_factory(_factory, 4)
    pn.fit_ensemble(ens, train, optimizer="source", steps=20)
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


# ----------------------------------------------------------------------------- uncertainty API
def test_ensemble_spread_is_mean_and_population_std_over_members():
    ys = jnp.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    mean, std = pn.ensemble_spread(ys)
    np.testing.assert_allclose(mean, [3.0, 2.0])
    np.testing.assert_allclose(std, [np.sqrt(8 / 3), 0.0])
    with pytest.raises(pn.ConfigError, match="member axis"):
        pn.ensemble_spread(jnp.zeros((0, 3)))


def test_ensemble_readout_summarises_any_callable():
    ens = pn.Ensemble.from_factory(
        lambda r: pn.DissipativeHNN(pn.MLP(2, 1, width=4, rngs=r), gamma_init=0.1), 3
    )
    # give each member its own damping, then read it out
    raw = jnp.log(jnp.expm1(jnp.array([0.1, 0.2, 0.6])))
    ens.state["dissipation"]["raw_gamma"].set_value(raw)
    out = pn.ensemble_readout(ens, lambda m: {"gamma_hat": float(m.gamma), "form": m.form})
    g = out["gamma_hat"]
    np.testing.assert_allclose(g["members"], [0.1, 0.2, 0.6], rtol=1e-12)
    np.testing.assert_allclose(g["median"], 0.2, rtol=1e-12)
    np.testing.assert_allclose(g["std"], np.std([0.1, 0.2, 0.6]), rtol=1e-12)
    assert g["n_finite"] == 3 and out["form"] == {"members": ["friction"] * 3}
    # NaN members are left out of the statistics but kept in the list
    out = pn.ensemble_readout(range(3), lambda i: {"c": [1.0, float("nan"), 3.0][i]})
    assert out["c"]["median"] == 2.0 and out["c"]["n_finite"] == 2
    with pytest.raises(pn.ConfigError, match="keys"):
        pn.ensemble_readout(range(2), lambda i: {"a": 1.0} if i == 0 else {"b": 1.0})
    with pytest.raises(pn.ConfigError, match="dict"):
        pn.ensemble_readout(ens, lambda m: 1.0)


def test_ensemble_checkpoint_round_trip(tmp_path):
    ens = pn.Ensemble.from_factory(lambda r: pn.HNN(pn.KAN([2, 3, 1], grid=4, rngs=r)), 2, seed=5)
    pn.save_model(ens, tmp_path / "ckpt")
    loaded = pn.load_model(tmp_path / "ckpt")
    assert isinstance(loaded, pn.Ensemble) and len(loaded) == 2
    for a, b in zip(jax.tree.leaves(ens.state), jax.tree.leaves(loaded.state), strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    y = jnp.array([0.4, -0.2])
    np.testing.assert_array_equal(loaded.member(1)(0.0, y), ens.member(1)(0.0, y))


# ----------------------------------------------------------------------------- command line
def _cli(*args):
    from physnet.cli import main

    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "duffing.npz"
    assert _cli("simulate", "--n-trajectories", 10, "--n-points", 20, "--gamma", 0.1, "--noise", 0.01,
                "--out", path) == 0  # fmt: skip
    return path


def test_cli_train_and_evaluate_an_ensemble(tmp_path, data_file, capsys):
    run = tmp_path / "run"
    code = _cli("train", "--data", data_file, "--model", "dhnn", "--ensemble", 3, "--seed", 7,
                "--steps", 40, "--width", 8, "--quiet", "--out", run)  # fmt: skip
    assert code == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["ensemble"] == 3 and metrics["seeds"] == [7, 8, 9]
    for key in ("train_mse", "test_mse", "test_mse_clean", "gamma_hat", "train_loss"):
        members = metrics[f"{key}_members"]
        assert len(members) == 3 and len(set(members)) == 3  # the members differ
        assert metrics[key] == pytest.approx(np.median(members))
        assert metrics[f"{key}_std"] == pytest.approx(np.std(members))
    ens = pn.load_model(run / "checkpoint")
    assert isinstance(ens, pn.Ensemble) and len(ens) == 3
    np.testing.assert_allclose(float(ens.member(2).gamma), metrics["gamma_hat_members"][2])

    capsys.readouterr()
    assert _cli("evaluate", "--run", run, "--t1", 2.0, "--dt", 0.05) == 0
    ev = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert ev["ensemble"] == 3
    for key in ("energy_drift", "rollout_rmse", "learned_energy_drift"):
        assert len(ev[f"{key}_members"]) == 3
        assert ev[key] == pytest.approx(np.median(ev[f"{key}_members"]))
    assert ev["rollout_spread"] > 0 and ev["rollout_spread_t1"] > 0
    assert np.isfinite(ev["rollout_rmse_ensemble_mean"])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "rollout_spread" in printed and "energy_drift_members" not in printed


def test_cli_ensemble_member_equals_single_run(tmp_path, data_file):
    """Member 0 of `--ensemble N --seed S` is the model of a plain run with seed S (same data
    split, same initialisation); member 1 starts from seed S+1."""
    common = ("--data", data_file, "--steps", 30, "--width", 8, "--quiet", "--seed", 3)
    assert (
        _cli("train", *common, "--ensemble", 2, "--ensemble-batch", 1, "--out", tmp_path / "e") == 0
    )
    assert _cli("train", *common, "--out", tmp_path / "s") == 0
    ens = pn.load_model(tmp_path / "e" / "checkpoint")
    single = pn.load_model(tmp_path / "s" / "checkpoint")
    y = jnp.array([0.5, 0.3])
    np.testing.assert_allclose(ens.member(0)(0.0, y), single(0.0, y), rtol=1e-9)
    assert not np.allclose(ens.member(1)(0.0, y), single(0.0, y))
    m_ens = json.loads((tmp_path / "e" / "metrics.json").read_text())
    m_single = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert m_ens["test_mse_members"][0] == pytest.approx(m_single["test_mse"], rel=1e-9)


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_cli_rejects_bad_ensemble_size(tmp_path, data_file, value, capsys):
    out = tmp_path / "run"
    assert _cli("train", "--data", data_file, "--ensemble", value, "--out", out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--ensemble" in err[0] and "positive integer" in err[0]
    assert not out.exists()


def test_cli_rejects_ensemble_batch_without_ensemble(tmp_path, data_file, capsys):
    out = tmp_path / "run"
    assert _cli("train", "--data", data_file, "--ensemble-batch", 2, "--out", out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--ensemble-batch applies to --ensemble" in err[0]
    assert not out.exists()
