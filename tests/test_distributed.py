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


def launch(mode: str, out: Path):
    """Run the worker as 2 processes on localhost (free port, killed after TIMEOUT)."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
    env.pop("XLA_FLAGS", None)  # one CPU device per process
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
    codes, log, lines = launch("train", tmp_path)
    assert codes == [0, 0], log[-3000:]
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
