import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import physnet as pn
from physnet.cli import main


def run_cli(*args):
    """Run the console script in a subprocess (as a user would)."""
    return subprocess.run(
        [sys.executable, "-m", "physnet.cli", *map(str, args)], capture_output=True, text=True
    )


def run_main(capfd, *args):
    """``physnet ARGS`` through ``main`` in this process, as :func:`run_cli`'s result: what
    reaches file descriptors 1 and 2 (XLA's own logging included) and every Python warning,
    each formatted as the console script would print it on stderr. A subprocess costs a fresh
    Python and JAX import (seconds); one test below keeps it, for what only a fresh process
    shows (import-time output, the exit status of ``python -m physnet.cli``)."""
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    err += "".join(
        warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught
    )
    return subprocess.CompletedProcess(args, code, out, err)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "duffing.npz"
    assert (
        main(
            [
                "simulate",
                "--n-trajectories",
                "10",
                "--n-points",
                "20",
                "--seed",
                "1",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    return path


def test_simulate_train_evaluate(tmp_path, data_file):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(data_file),
                "--steps",
                "50",
                "--preset",
                "source",  # the learned-energy bound below was measured with the source's Adam
                "--width",
                "8",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("train_mse", "test_mse", "train_seconds", "steps"):
        assert key in metrics
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "hnn" and config["steps"] == 50
    assert (run / "checkpoint" / "state.npz").is_file()
    assert main(["evaluate", "--run", str(run), "--t1", "5"]) == 0
    ev = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert set(ev) >= {"energy_drift", "rollout_rmse"} and np.isfinite(ev["energy_drift"])
    assert ev["learned_energy_drift"] < 1e-6  # RK4 on the learned H at dt = 0.01, t = 5
    assert (
        main(
            [
                "evaluate",
                "--run",
                str(run),
                "--t1",
                "5",
                "--solver",
                "implicit-midpoint",
                "--out",
                str(tmp_path / "ev2"),
            ]
        )
        == 0
    )


def test_simulate_noise_and_other_systems(tmp_path):
    out = tmp_path / "p.npz"
    assert (
        main(
            [
                "simulate",
                "--system",
                "pendulum",
                "--g-over-l",
                "2",
                "--n-trajectories",
                "3",
                "--noise",
                "0.1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with np.load(out, allow_pickle=False) as npz:
        assert {"ts", "states", "derivatives", "clean_states"} <= set(npz.files)


def _assert_one_line_error(result, needle):
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.strip().splitlines() if ln]
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_train_missing_file(tmp_path, capfd):
    r = run_main(capfd, "train", "--data", tmp_path / "nope.npz", "--out", tmp_path / "run")
    _assert_one_line_error(r, "not found")
    assert not (tmp_path / "run").exists()


def test_train_nan_data(tmp_path, data_file, capfd):
    with np.load(data_file) as npz:
        arrays = dict(npz)
    arrays["derivatives"][2, 3, 1] = np.nan
    bad = tmp_path / "nan.npz"
    np.savez(bad, **arrays)
    r = run_main(capfd, "train", "--data", bad, "--out", tmp_path / "run")
    _assert_one_line_error(r, "NaN")
    assert not (tmp_path / "run").exists()


def test_train_unknown_option_and_bad_values(tmp_path, data_file, capfd):
    # the console script in a fresh process: one line on stderr, exit status 2
    r = run_cli("train", "--data", data_file, "--out", tmp_path / "run", "--frobnicate", "3")
    _assert_one_line_error(r, "unrecognized arguments: --frobnicate")
    r = run_main(
        capfd, "train", "--data", data_file, "--out", tmp_path / "run", "--frobnicate", "3"
    )
    _assert_one_line_error(r, "unrecognized arguments: --frobnicate")
    r = run_main(
        capfd, "train", "--data", data_file, "--out", tmp_path / "run", "--model", "transformer"
    )
    _assert_one_line_error(r, "invalid choice")
    r = run_main(capfd, "train", "--data", data_file, "--out", tmp_path / "run", "--steps", "-4")
    _assert_one_line_error(r, "positive integer")
    r = run_main(
        capfd, "simulate", "--system", "harmonic", "--alpha", "2", "--out", tmp_path / "x.npz"
    )
    _assert_one_line_error(r, "--alpha")
    assert not list(tmp_path.iterdir())


def test_train_divergence_reports_step_and_keeps_the_last_good_parameters(
    tmp_path, data_file, capfd
):
    r = run_main(
        capfd,
        "train",
        "--data",
        data_file,
        "--steps",
        "300",
        "--lr",
        "1e300",
        "--model",
        "node",
        "--quiet",
        "--out",
        tmp_path / "run",
    )
    _assert_one_line_error(r, "diverged")
    assert "at step" in r.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["status"] == "diverged"  # issue 20: the last good parameters are kept
    pn.load_model(tmp_path / "run" / "checkpoint")


def test_evaluate_bad_run_dir(tmp_path, capfd):
    r = run_main(capfd, "evaluate", "--run", tmp_path)
    _assert_one_line_error(r, "config.json")


def test_reproduce_rejects_unknown_experiment(tmp_path, capfd):
    r = run_main(capfd, "reproduce", "--experiments", "E1,E9", "--out", tmp_path / "r")
    _assert_one_line_error(r, "E9")
