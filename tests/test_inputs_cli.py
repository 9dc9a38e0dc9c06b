"""The command line with measured inputs: simulate --input -> train -> evaluate under the
held-out trajectories' own inputs, import --inputs, and the one-line refusals."""

import json

import jax
import numpy as np
from _cli import one_line, run_cli

import physnet as pn
from physnet.data import Trajectories


def test_simulate_input_train_evaluate(tmp_path, capsys):
    data, run = tmp_path / "d.npz", tmp_path / "run"
    code, out, err = run_cli(
        capsys, "simulate", "--system", "mass-spring-damper", "--input", "0.5*sin(1.3*t)",
        "--n-trajectories", 8, "--t1", 4, "--n-points", 41, "--out", data,
    )  # fmt: skip
    assert code == 0, err
    loaded = Trajectories.load(data)
    t = np.asarray(loaded.ts)
    np.testing.assert_allclose(loaded.inputs[3, :, 0], 0.5 * np.sin(1.3 * t), atol=1e-14)
    code, out, err = run_cli(
        capsys, "train", "--data", data, "--model", "node", "--steps", 30, "--lr", "3e-3",
        "--width", 8, "--quiet", "--out", run,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["model"] == "node"
    assert pn.load_model(run / "checkpoint").input_size == 1
    # a held-out record under a different input: the forecast uses that record's inputs
    chirp = tmp_path / "chirp.npz"
    code, _, err = run_cli(
        capsys, "simulate", "--system", "mass-spring-damper", "--input", "chirp",
        "--n-trajectories", 3, "--t1", 4, "--n-points", 41, "--seed", 5, "--out", chirp,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "evaluate", "--run", run, "--data", chirp, "--t1", 9, "--out", tmp_path / "ev"
    )
    assert code == 0, err
    ev = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert ev["t1"] == 4.0 and np.isfinite(ev["rollout_rmse"])
    assert any("past the test record of inputs" in w for w in ev["warnings"])


def test_import_inputs_round_trip(tmp_path, capsys):
    system = pn.systems.DrivenPendulum(friction=0.1)
    gen = pn.data.generate(
        system, 2, t1=3.0, n_points=31, key=jax.random.key(0), inputs="0.3*cos(2*t)"
    )
    rows = [
        [b, float(t), *map(float, y), float(u[0])]
        for b in range(2)
        for t, y, u in zip(gen.ts, gen.states[b], gen.inputs[b], strict=True)
    ]
    table = tmp_path / "rec.csv"
    table.write_text(
        "trial,t,q,p,tau\n" + "\n".join(",".join(f"{v:.17g}" for v in r) for r in rows)
    )
    out = tmp_path / "rec.npz"
    code, text, err = run_cli(
        capsys, "import", table, "--time", "t", "--states", "q,p", "--trial", "trial",
        "--inputs", "tau", "--input-interpolation", "zoh", "--out", out,
    )  # fmt: skip
    assert code == 0, err and "1 input(s)" in text
    data = Trajectories.load(out)
    np.testing.assert_array_equal(data.inputs, gen.inputs)
    assert data.input_interpolation == "zoh"
    assert data.metadata["columns"]["inputs"] == [4]


def test_bad_inputs_one_line(tmp_path, capsys):
    table = tmp_path / "bad.csv"
    table.write_text("t,q,p,u\n0,1,0,0.1\n0.1,1,0,nan\n0.2,1,0,0.3\n")
    code, _, err = run_cli(
        capsys, "import", table, "--time", "t", "--states", "q,p", "--inputs", "u",
        "--out", tmp_path / "x.npz",
    )  # fmt: skip
    assert code != 0
    one_line(err, "input", "NaN")
    code, _, err = run_cli(
        capsys, "simulate", "--system", "duffing", "--input", "sin(t)", "--out", tmp_path / "y"
    )
    assert code != 0
    one_line(err, "no input port")
    code, _, err = run_cli(
        capsys, "simulate", "--system", "driven-duffing", "--input", "sin(x)",
        "--out", tmp_path / "y",
    )  # fmt: skip
    assert code != 0
    one_line(err, "unknown name 'x'")
    data = tmp_path / "d.npz"
    pn.data.generate(
        pn.systems.DrivenDuffing(), 4, t1=2.0, n_points=21, key=jax.random.key(0), inputs="t"
    ).save(data)
    code, _, err = run_cli(
        capsys, "train", "--data", data, "--model", "hnn", "--out", tmp_path / "r"
    )
    assert code != 0
    one_line(err, "no input port")
    assert not (tmp_path / "r").exists()
