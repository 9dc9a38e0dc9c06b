"""Training across processes (jax.distributed over gloo): 2 processes on localhost train E1
data parallel and an ensemble member parallel, and equal one process's run; a killed peer
stops the other in one line; the run resumes from its checkpoint to the same result.

Equality is to 1e-12 (relative), not bitwise: one process sums the samples' losses in one
reduction, two processes sum their halves and then all-reduce the two partial sums, a
different association of the same float64 additions (round-off ~1e-16 per step).
"""

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import physnet as pn
from physnet.cli._launch import run_local

sys.path.insert(0, os.path.dirname(__file__))
from _distributed_setup import STEPS, e1_train, ensemble, flat, model, optimizer  # noqa: E402

WORKER = str(Path(__file__).with_name("_distributed_worker.py"))
#: seconds a 2-process run may take before it is killed (a few seconds of training each)
TIMEOUT = 240


def launch(mode: str, out: Path, xla_flags: str | None = None):
    """Run the worker as 2 processes on localhost (free port, killed after TIMEOUT)."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    log = out / f"{mode}.log"
    lines: list[str] = []
    with open(log, "w") as f:
        codes = run_local(
            2,
            [sys.executable, WORKER, mode, str(out)],
            timeout=TIMEOUT,
            env=env,
            say=lines.append,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    return codes, log.read_text(), lines


@pytest.fixture(scope="module")
def reference():
    """One process's runs on the full batch: the data-parallel runs must equal these."""
    data = e1_train()
    out = {}
    for name, batch_size in (("full", None), ("minibatch", 32)):
        m = model()
        pn.fit(
            m,
            data,
            steps=STEPS,
            optimizer=optimizer(),
            batch_size=batch_size,
            key=jax.random.key(1),
            progress=False,
        )
        out[name] = flat(m)
    ens = ensemble()
    pn.fit_ensemble(ens, data, steps=STEPS, optimizer=optimizer(), progress=False)
    out["ensemble"] = flat(ens)
    return out


def test_two_processes_equal_one(tmp_path, reference):
    dump = tmp_path / "hlo"
    codes, log, lines = launch("train", tmp_path, f"--xla_dump_to={dump} --xla_dump_hlo_as_text")
    assert codes == [0, 0], log[-3000:]
    # the gradient is all-reduced (psum), never reduce-scattered (gloo's reduce-scatter has
    # returned wrong values, jax#40830): XLA's partitioned training chunks, full batch and
    # minibatch, hold an all-reduce, the member-parallel ensemble's none, and none of them a
    # reduce-scatter
    chunks = [p.read_text() for p in dump.glob("*chunk_program*after_optimizations.txt")]
    assert sum("all-reduce(" in text for text in chunks) >= 2, len(chunks)
    assert not any("reduce-scatter(" in text for text in chunks)
    got = np.load(tmp_path / "train.npz")
    for name in ("full", "minibatch", "ensemble"):
        assert np.all(np.isfinite(got[name]))
        # the runs moved away from the initial parameters (the comparison is not vacuous)
        assert (
            np.max(np.abs(reference[name] - flat(ensemble() if name == "ensemble" else model())))
            > 1e-2
        )
        np.testing.assert_allclose(got[name], reference[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_killed_peer_stops_the_other_and_the_run_resumes(tmp_path, reference):
    codes, log, lines = launch("kill", tmp_path)
    assert codes[1] == -9, log[-3000:]
    assert codes[0] == 3, log[-3000:]  # stopped on its own (not killed by the launcher)
    assert lines and "process 1 exited with code -9" in lines[0]
    lost = [line for line in log.splitlines() if "lost a peer" in line]
    assert len(lost) == 1, log[-3000:]
    assert "resume from the last training checkpoint" in lost[0]
    assert (tmp_path / "training.npz").is_file()
    codes, log, _ = launch("resume", tmp_path)
    assert codes == [0, 0], log[-3000:]
    got = np.load(tmp_path / "resume.npz")["resume"]
    np.testing.assert_allclose(got, reference["minibatch"], rtol=1e-12, atol=1e-12)


def test_a_peer_that_never_starts_is_one_line_within_the_timeout(tmp_path):
    """Process 1 of 2 alone: it stops after --init-timeout with one line, not JAX's abort."""
    import time

    from physnet.cli._launch import free_port

    env = dict(os.environ, JAX_PLATFORMS="cpu")
    cmd = [sys.executable, "-m", "physnet.cli", "--no-compilation-cache", "train"]
    cmd += ["--distributed", "--coordinator", f"localhost:{free_port()}", "--num-processes", "2"]
    cmd += ["--process-id", "1", "--init-timeout", "3", "--data", "x.npz", "--out", "run"]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 3, r.stderr[-2000:]
    assert time.monotonic() - t0 < 60
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr[-2000:]
    assert "process 1 of 2 waited 3 s" in lines[0] and "not all of them joined" in lines[0]
    assert not (tmp_path / "run").exists()


def test_distributed_settings_from_flags_jax_and_slurm_variables():
    from physnet.training._distributed import distributed_settings

    jax_env = {"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "3"}
    assert distributed_settings(environ=jax_env) == ("h:1", 4, 3)
    assert distributed_settings("c:2", 2, 0, environ=jax_env) == ("c:2", 2, 0)
    slurm = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8", "SLURM_PROCID": "5"}
    assert distributed_settings(environ=slurm) == (None, 8, 5)  # JAX finds the coordinator
    with pytest.raises(pn.ConfigError, match="process id is not known"):
        distributed_settings(environ={"JAX_NUM_PROCESSES": "2", "JAX_COORDINATOR_ADDRESS": "h:1"})
    with pytest.raises(pn.ConfigError, match="process_id must be an integer"):
        distributed_settings(environ=jax_env | {"JAX_PROCESS_ID": "4"})
    with pytest.raises(pn.ConfigError, match="no coordinator address"):
        distributed_settings(num_processes=2, process_id=0, environ={})
    with pytest.raises(pn.ConfigError, match="is not an integer"):
        distributed_settings(environ=jax_env | {"JAX_NUM_PROCESSES": "two"})


def test_local_shares_concatenate_to_the_data():
    from physnet.training import local_share

    data = e1_train()
    shares = [local_share(data, i, 4) for i in range(4)]
    np.testing.assert_array_equal(np.concatenate([s.states for s in shares]), data.states)
    with pytest.raises(pn.ConfigError, match="do not divide evenly over 3 processes"):
        local_share(data, 0, 3)


def test_ctrl_c_on_one_process_stops_both_after_the_same_chunk(tmp_path, reference):
    codes, log, _ = launch("sigint", tmp_path)
    assert codes == [130, 130], log[-3000:]
    step = STEPS // 2
    for i in (0, 1):
        assert f"worker {i}: training interrupted after step {step}" in log, log[-3000:]
    done = np.load(tmp_path / "training.npz")
    assert done["train_loss"].shape == (step,)
    codes, log, _ = launch("resume", tmp_path)
    assert codes == [0, 0], log[-3000:]
    got = np.load(tmp_path / "resume.npz")["resume"]
    np.testing.assert_allclose(got, reference["minibatch"], rtol=1e-12, atol=1e-12)


def test_cli_refuses_launch_without_command_and_flags_without_distributed(capsys, tmp_path):
    from _cli import one_line, run_cli

    code, _, err = run_cli(capsys, "launch", "-n", "2")
    assert code == 2
    one_line(err, "launch needs a command after --")
    for other in ("simulate", "notacommand"):  # refused before any process starts
        code, _, err = run_cli(capsys, "launch", "-n", "2", "--", other, "--out", tmp_path / "d")
        assert code == 2
        one_line(err, f"{other!r} is not a command that runs distributed")
    assert not (tmp_path / "d").exists()
    code, _, err = run_cli(
        capsys, "train", "--data", tmp_path / "x.npz", "--out", tmp_path / "r", "--process-id", "1"
    )
    assert code == 2
    one_line(err, "--process-id applies to --distributed runs only")


def test_launch_names_the_killed_process_when_all_end_between_two_polls(tmp_path, monkeypatch):
    """Process 1 killed by a signal and process 0 then stopping on its own (exit 3), both
    possibly within one polling interval of a busy launcher: one line, naming the killed
    process."""
    flag = tmp_path / "dying"
    script = (
        "import os, sys, time\n"
        f"flag = {str(flag)!r}\n"
        "if os.environ['JAX_PROCESS_ID'] == '1':\n"
        "    time.sleep(0.3); open(flag, 'w').close(); os.kill(os.getpid(), 9)\n"
        "while not os.path.exists(flag): time.sleep(0.001)\n"
        "time.sleep(0.02); sys.exit(3)\n"
    )
    import time

    from physnet.cli import _launch

    real_sleep = time.sleep
    monkeypatch.setattr(_launch.time, "sleep", lambda s: real_sleep(max(s, 1.0)))  # a busy CPU
    lines: list[str] = []
    codes = run_local(2, [sys.executable, "-c", script], timeout=60, say=lines.append)
    assert codes == [3, -9]
    assert len(lines) == 1 and "process 1 exited with code -9" in lines[0]
