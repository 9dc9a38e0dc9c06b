"""Run directories: the split is stored and read back, never re-derived from random keys."""

import json

import jax
import numpy as np
import pytest

import physnet as pn
from physnet.cli import main
from physnet.data import TimeSplit, TrajectorySplit, split_from_json
from physnet.runs import RunDirectory, evaluate_run, train_run


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "duffing.npz"
    data = pn.data.generate(pn.systems.Duffing(), 10, 2.0, 12, key=jax.random.key(4))
    return data.save(path)


def test_trajectory_split_equals_trajectories_split_and_round_trips():
    data = pn.data.generate(pn.systems.Duffing(), 10, 1.0, 5, key=jax.random.key(0))
    key = jax.random.key(7)
    split = TrajectorySplit.random(10, 0.7, key=key)
    train, test = data.split(0.7, key=key)
    a, b = split.apply(data)
    np.testing.assert_array_equal(a.states, train.states)
    np.testing.assert_array_equal(b.states, test.states)
    assert split_from_json(json.loads(json.dumps(split.to_json()))) == split
    assert sorted(split.train + split.test) == list(range(10))
    with pytest.raises(pn.DataError, match="overlap"):
        TrajectorySplit((0, 1), (1, 2), 3)
    with pytest.raises(pn.DataError, match="made for 10 trajectories"):
        split.apply(data.take(np.arange(5)))


def test_time_split_keeps_the_first_fraction_of_each_record():
    data = pn.data.generate(pn.systems.Duffing(), 1, 4.0, 41, key=jax.random.key(0))
    split = TimeSplit.by_fraction(data.n_times, 0.8)
    train, test = split.apply(data)
    assert train.n_times == 33 and test.n_times == 8
    np.testing.assert_array_equal(np.concatenate([train.ts, test.ts]), data.ts)
    np.testing.assert_array_equal(test.states[0, 0], data.states[0, 33])
    assert split_from_json(split.to_json()) == split
    with pytest.raises(pn.DataError, match="at least 2"):
        TimeSplit(1, 10)
    with pytest.raises(pn.DataError, match="known: trajectory, time"):
        split_from_json({"kind": "bogus"})


def test_evaluate_reads_the_stored_split_not_the_seed(tmp_path, data_file):
    run, metrics = train_run(
        data_file, tmp_path / "run", options={"width": 4, "depth": 1}, steps=10, seed=5
    )
    stored = RunDirectory.open(run)
    assert isinstance(stored.split, TrajectorySplit) and len(stored.split.test) == 2
    assert stored.config["data_sha256"] == pn.runs.file_sha256(data_file)
    _, first = evaluate_run(run, t1=1.0)
    # a changed seed in config.json must not change what is evaluated: the split is read
    config = json.loads((run / "config.json").read_text())
    config["seed"] = 12345
    (run / "config.json").write_text(json.dumps(config))
    _, second = evaluate_run(run, t1=1.0)
    assert first == second
    train, test = stored.train_test()
    assert test.n_trajectories == 2 and train.n_trajectories == 8


def test_single_record_splits_by_time_and_changed_data_are_refused(tmp_path):
    data = pn.data.generate(pn.systems.HarmonicOscillator(), 1, 10.0, 101, key=jax.random.key(1))
    path = data.save(tmp_path / "one.npz")
    run, metrics = train_run(path, tmp_path / "run", options={"width": 4}, steps=5)
    assert metrics["split"] == "time"
    assert RunDirectory.open(run).split == TimeSplit(81, 101)
    assert main(["evaluate", "--run", str(run), "--t1", "1"]) == 0
    pn.data.generate(pn.systems.HarmonicOscillator(), 1, 10.0, 101, key=jax.random.key(2)).save(
        path
    )
    with pytest.raises(pn.DataError, match="has changed since training"):
        evaluate_run(run, t1=1.0)
    (run / "split.json").unlink()  # a run directory of physnet 0.1
    with pytest.raises(pn.DataError, match="stores no train/test split"):
        RunDirectory.open(run).train_test()


def test_time_split_of_ragged_records_uses_each_records_own_length():
    data = pn.datasets.load("real-double-pendulum")
    split = pn.runs.make_split(data, "auto", 0.5, key=jax.random.key(0))
    assert isinstance(split, TrajectorySplit)  # two records: by trajectory
    split = pn.runs.make_split(data, "time", 0.8, key=jax.random.key(0))
    assert split == TimeSplit((655, 561), (819, 701))
    stored = json.loads(json.dumps(split.to_json()))
    assert stored == {"kind": "time", "n_times": [819, 701], "n_train_times": [655, 561]}
    assert split_from_json(stored) == split
    train, test = split.apply(data)
    np.testing.assert_array_equal(train.trajectory_lengths, [655, 561])
    np.testing.assert_array_equal(test.trajectory_lengths, [164, 140])
    for b in range(2):
        times = np.concatenate([train.times_of(b), test.times_of(b)])
        np.testing.assert_array_equal(times, data.times_of(b))
        first_test = data.trajectory(b).states[0, len(train.times_of(b))]
        np.testing.assert_array_equal(test.y0[b], first_test)
    assert train.n_samples + test.n_samples == data.n_samples
    # a single record's split keeps the integer form of the current version
    one = data.trajectory(1)
    assert pn.runs.make_split(one, "auto", 0.8, key=jax.random.key(0)) == TimeSplit(561, 701)
    assert split_from_json({"kind": "time", "n_times": 101, "n_train_times": 81}) == TimeSplit(
        81, 101
    )
    with pytest.raises(pn.DataError, match="made for"):
        split.apply(data.take(np.array([1, 0])))
    with pytest.raises(pn.DataError, match="same length"):
        TimeSplit((5, 6), 10)


def test_measured_data_without_a_system_are_evaluated_on_the_held_out_segment(tmp_path):
    """Imported data (no system): rollout error against the measured test segment in the
    file's units, and the energy MSE of a given formula (the HNN paper's metric)."""
    system = pn.systems.Duffing(alpha=1.0, beta=0.5, gamma=0.05)
    sim = pn.data.generate(system, 1, 20.0, 121, key=jax.random.key(3))
    rows = np.asarray(sim.states[0])
    keep = np.sort(np.random.default_rng(0).choice(121, 100, replace=False))  # dropped frames
    measured = pn.Trajectories.from_arrays(np.asarray(sim.ts)[keep], rows[keep] * [2.0, 3.0])
    measured = measured.with_estimated_derivatives("central").rescaled("std")
    assert "system" not in measured.metadata
    path = measured.save(tmp_path / "measured.npz")
    run, _ = train_run(path, tmp_path / "run", model="dhnn", options={"width": 8}, steps=30)
    assert RunDirectory.open(run).split.kind == "time"
    names = measured.metadata.get("names") or ["q", "p"]
    expr = f"{names[0]}**2/8 + {names[1]}**2/18"  # 0.5 q² + 0.5 p² in the file's units
    _, metrics = evaluate_run(run, energy=expr, dt=0.05)
    assert metrics["n_test_trajectories"] == 1 and metrics["n_test_points"] == 20
    assert np.isfinite(metrics["rollout_rmse"]) and metrics["energy_mse"] >= 0
    assert "gamma_hat" in metrics and metrics["energy"] == expr
    # the measured energy change is the file's own: compute it by hand on the test segment
    test = RunDirectory.open(run).train_test()[1]
    y = np.asarray(test.to_units(test.states[0]))
    e = y[:, 0] ** 2 / 8 + y[:, 1] ** 2 / 18
    assert metrics["energy_change_measured"] == pytest.approx((e[-1] - e[0]) / e[0], rel=1e-12)
    with pytest.raises(pn.ConfigError, match="unknown name .x. at column 1"):
        evaluate_run(run, energy="x**2 + " + names[1])
