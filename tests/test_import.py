"""Measured tables in: from_arrays/from_table keep the recorded rows, and every bad file gives
one clear DataError (and the CLI exit 2 with nothing written)."""

import jax
import numpy as np
import pytest

import physnet as pn
from physnet.cli import main


@pytest.fixture(scope="module")
def simulated():
    system = pn.systems.Duffing(1.0, 1.0, 0.1)
    return pn.data.generate(system, 3, 6.0, 61, key=jax.random.key(0))


def _export(data, path, keep, *, csv=False, header="% trial t q p dq dp"):
    """Write trajectories as one row per kept observation: trial, t, states, derivatives."""
    rows = []
    for b in range(data.n_trajectories):
        for i in np.flatnonzero(keep[b]):
            rows.append(
                [
                    b,
                    float(data.ts[i]),
                    *np.asarray(data.states[b, i]),
                    *np.asarray(data.derivatives[b, i]),
                ]
            )
    sep = "," if csv else "  "
    lines = [header] if header else []
    lines += [sep.join(repr(float(v)) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_round_trip_with_dropped_rows_keeps_the_recorded_rows(tmp_path, simulated):
    rng = np.random.default_rng(3)
    keep = rng.random((3, 61)) > 0.2  # random rows deleted: non-uniform times, ragged trials
    keep[:, :3] = True
    path = _export(simulated, tmp_path / "sim.txt", keep)
    data = pn.data.from_table(path, time="t", states="q,p", trial="trial", derivatives="dq,dp")
    assert data.n_trajectories == 3 and data.is_ragged and not data.is_uniform()
    assert data.metadata["names"] == ["q", "p"] and data.metadata["trajectory_ids"] == [0, 1, 2]
    for b in range(3):
        np.testing.assert_array_equal(data.times_of(b), np.asarray(simulated.ts)[keep[b]])
        one = data.trajectory(b)
        np.testing.assert_array_equal(one.states[0], np.asarray(simulated.states[b])[keep[b]])
        np.testing.assert_array_equal(
            one.derivatives[0], np.asarray(simulated.derivatives[b])[keep[b]]
        )
    y, dy = data.flat()
    assert y.shape == (int(keep.sum()), 2)
    np.testing.assert_array_equal(y, np.asarray(simulated.states)[keep])
    np.testing.assert_array_equal(dy, np.asarray(simulated.derivatives)[keep])
    # the same table as CSV, columns by index, gives the same data
    csv = pn.data.from_table(
        _export(simulated, tmp_path / "sim.csv", keep, csv=True, header="t_,x,y,z,u,v"),
        time=1,
        states=[2, 3],
        trial=0,
        derivatives=[4, 5],
    )
    np.testing.assert_array_equal(csv.states, data.states)
    np.testing.assert_array_equal(csv.times, data.times)
    # estimated derivatives on the non-uniform grid track the exact field
    est = data.without_derivatives().with_estimated_derivatives()
    err = np.abs(np.asarray(est.flat()[1]) - np.asarray(dy))
    assert np.median(err) < 0.02


def test_from_arrays_groups_trials_in_order_of_first_appearance():
    t = np.array([0.0, 0.0, 0.1, 0.1, 0.2, 0.25, 0.3])
    y = np.arange(7.0)
    data = pn.Trajectories.from_arrays(t, y, trajectory_ids=np.array([7, 3, 7, 3, 7, 3, 3]))
    assert data.metadata["trajectory_ids"] == [7, 3]
    np.testing.assert_array_equal(data.trajectory_lengths, [3, 4])
    np.testing.assert_array_equal(data.trajectory(0).states[0, :, 0], [0, 2, 4])
    np.testing.assert_array_equal(data.times_of(1), [0.0, 0.1, 0.25, 0.3])
    same = pn.Trajectories.from_arrays(
        np.tile([0.0, 1.0, 2.0], 2), np.arange(6.0), trajectory_ids=[0, 0, 0, 1, 1, 1]
    )
    assert same.shared_times and np.ndim(same.ts) == 1
    with pytest.raises(pn.DataError, match="trial 3: time 0.1 at row 3 goes backwards"):
        pn.Trajectories.from_arrays(
            [0, 0, 0.2, 0.1, 1, 2], np.zeros(6), trajectory_ids=[5, 3, 3, 3, 5, 5]
        )
    with pytest.raises(pn.DataError, match="trial 0 has 2 observation"):
        pn.Trajectories.from_arrays([0.0, 1.0], np.zeros(2))


def test_positions_only_and_scales(tmp_path, simulated):
    keep = np.ones((3, 61), bool)
    path = _export(simulated, tmp_path / "q.txt", keep)
    q = pn.data.from_table(path, time=1, states=[2], trial=0, positions_only=True)
    assert q.state_size == 1 and q.metadata["positions_only"] is True
    qv = q.with_velocities()
    assert qv.state_size == 2 and "positions_only" not in qv.metadata
    np.testing.assert_allclose(qv.states[..., 1], simulated.states[..., 1], atol=0.05)
    scaled = pn.data.from_table(
        path, time=1, states=[2, 3], trial=0, derivatives=[4, 5], scale="std"
    )
    raw = pn.data.from_table(path, time=1, states=[2, 3], trial=0, derivatives=[4, 5])
    s = np.asarray(raw.states).reshape(-1, 2).std(axis=0)
    np.testing.assert_allclose(scaled.scales, s)
    np.testing.assert_allclose(np.asarray(scaled.states).reshape(-1, 2).std(axis=0), 1.0)
    np.testing.assert_allclose(scaled.derivatives, np.asarray(raw.derivatives) / s)  # as y
    np.testing.assert_allclose(scaled.to_units(scaled.states), raw.states)
    np.testing.assert_allclose(scaled.unscaled().derivatives, raw.derivatives)
    np.testing.assert_allclose(scaled.from_units(raw.states), scaled.states)
    np.testing.assert_array_equal(scaled.ts, raw.ts)  # time is never rescaled
    loaded = pn.data.load(scaled.save(tmp_path / "s.npz"))
    np.testing.assert_allclose(loaded.scales, s)


GOOD = "% t x v\n0 1 2\n0.1 1.5 2\n0.2 1.7 2.1\n0.3 1.8 2.2\n"


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        ("0 1 2\n0.1 1 2\n0.2 1\n0.3 1 2\n", {}, "line 3 has 2 column"),
        ("0 1 2\n0.1 1 2\n0.2 abc 2\n0.3 1 2\n", {}, r"line 3, column 1: 'abc' is not a number"),
        ("0 1 2\n0.1 nan 2\n0.2 1 2\n0.3 1 2\n", {}, "line 2, column 1"),
        ("0 1 2\n0.1 1 inf\n0.2 1 2\n0.3 1 2\n", {}, "NaN or inf"),
        ("0 1 2\n0.2 1 2\n0.1 1 2\n0.3 1 2\n", {}, "time 0.1 at line 3 goes backwards"),
        ("0 1 2\n0.1 1 2\n0.1 1 2\n0.3 1 2\n", {}, "time 0.1 at line 3 repeats"),
        (
            "0 0 1 2\n0 0.1 1 2\n0 0.2 1 2\n1 0 1 2\n1 0.1 1 2\n",
            {"time": 1, "states": [2, 3], "trial": 0},
            "trial 1 has 2 observation",
        ),
        (GOOD, {"states": "x,w"}, "unknown state column 'w'; the header names t, x, v"),
        ("% t x\n0 1 2\n0.1 1 2\n0.2 1 2\n", {"time": "t", "states": [1, 2]}, "names 2 column"),
        (GOOD, {"states": "x,0"}, "column 0 is used twice"),
        (GOOD, {"derivatives": [1, 2]}, "used twice"),
        (GOOD, {"states": [1, 5]}, "column 5 does not exist"),
        ("% only a comment\n", {}, "no data rows"),
    ],
)
def test_bad_tables_raise_one_clear_error(tmp_path, text, kwargs, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    args = {"time": 0, "states": [1, 2]} | kwargs
    with pytest.raises(pn.DataError, match=message) as err:
        pn.data.from_table(path, **args)
    assert "\n" not in str(err.value)


def test_cli_import_good_and_bad_files(tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text("t,x,v\n0,1,2\n0.1,1.5,2\n0.25,1.7,2.1\n0.3,1.8,2.2\n")
    out = tmp_path / "good.npz"
    assert main(["import", str(good), "--time", "t", "--states", "x,v", "--out", str(out)]) == 0
    data = pn.data.load(out)
    np.testing.assert_array_equal(data.ts, [0, 0.1, 0.25, 0.3])
    assert data.metadata["names"] == ["x", "v"] and data.metadata["source"] == "good.csv"
    assert "1 trajectory of 4 times" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("t,x,v\n0,1,2\n0.1,1.5\n0.2,1.7,2.1\n")
    target = tmp_path / "bad.npz"
    code = main(["import", str(bad), "--time", "0", "--states", "1,2", "--out", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "line 3 has 2 column" in err
    assert not target.exists()


def test_cli_import_estimates_derivatives_on_the_recorded_times(tmp_path):
    """A quadratic x(t) = t² on a non-uniform grid: central differences are exact for it."""
    ts = np.array([0.0, 0.1, 0.25, 0.3, 0.5, 0.55])
    path = tmp_path / "q.csv"
    path.write_text("t,x,v\n" + "".join(f"{t},{t**2},{2 * t}\n" for t in ts))
    out = tmp_path / "q.npz"
    args = ["import", str(path), "--time", "t", "--states", "x,v"]
    assert main([*args, "--estimate-derivatives", "central", "--out", str(out)]) == 0
    data = pn.data.load(out)
    np.testing.assert_allclose(data.derivatives[0, :, 0], 2 * ts, rtol=0, atol=1e-12)
    np.testing.assert_allclose(data.derivatives[0, :, 1], 2.0, rtol=0, atol=1e-12)
    both = [*args, "--derivatives", "v,v", "--estimate-derivatives", "central"]
    assert main([*both, "--out", str(tmp_path / "b.npz")]) == 2
    assert not (tmp_path / "b.npz").exists()
