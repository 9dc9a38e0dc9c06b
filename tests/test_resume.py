"""Issue 20: an interrupted training resumes to exactly the parameters of the uninterrupted one.

Interruptions are real SIGINTs (Ctrl-C), sent by a hook at a chosen step in process, or to a
``physnet train`` subprocess; the resumed result is compared bit for bit.
"""

import json
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import optax
import pytest
from _signals import SignalAt
from flax import nnx

import physnet as pn
from physnet._errors import DataError, TrainingInterrupted
from physnet.data import generate
from physnet.systems import system_class
from physnet.training import GridUpdate


@pytest.fixture(scope="module")
def data():
    return generate(system_class("duffing")(), 6, 2.0, 12, key=jax.random.key(0))


def _params(model):
    state = model.state if isinstance(model, pn.models.Ensemble) else nnx.state(model)
    return [np.asarray(x) for x in jax.tree.leaves(state)]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


CASES = {
    "full batch": dict(approximator="mlp", options={"width": 8}, fit={}),
    "minibatch": dict(
        approximator="mlp", options={"width": 8}, fit={"batch_size": 16, "key": jax.random.key(3)}
    ),
    "kan grid updates": dict(approximator="kan", options={"width": 3, "grid": 3}, fit={}),
}


def _build(case, data, seed=0):
    model = pn.build_model("hnn", 2, case["approximator"], seed=seed, **case["options"])
    hooks = []
    if case["approximator"] == "kan":
        hooks = [GridUpdate(data.flat()[0], every=5, until=30)]
    return model, hooks


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("stop", [10, 25])
def test_resume_after_sigint_equals_the_uninterrupted_run(tmp_path, data, case, stop):
    steps, opts = 40, dict(optimizer=optax.adam(1e-2), chunk_size=8, **CASES[case]["fit"])
    reference, hooks = _build(CASES[case], data)
    h_ref = pn.fit(reference, data, steps=steps, hooks=hooks, **opts)

    ck = tmp_path / "train.npz"
    model, hooks = _build(CASES[case], data)
    with pytest.raises(TrainingInterrupted) as err:
        pn.fit(model, data, steps=steps, hooks=[*hooks, SignalAt(stop)], checkpoint=ck, **opts)
    assert err.value.step == stop and ck.is_file()
    resumed, hooks = _build(CASES[case], data)
    h = pn.fit(resumed, data, steps=steps, hooks=hooks, checkpoint=ck, resume=ck, **opts)
    assert _same(_params(resumed), _params(reference))
    assert np.array_equal(h.train_loss, h_ref.train_loss)


def test_resume_of_an_ensemble_equals_the_uninterrupted_run(tmp_path, data):
    def ensemble():
        return pn.models.Ensemble(
            [pn.build_model("hnn", 2, "mlp", seed=s, width=8) for s in range(3)]
        )

    opts = dict(steps=30, optimizer=optax.adam(1e-2), chunk_size=7, batch_size=16,
                key=jax.random.key(1), member_batch_size=1)  # fmt: skip
    reference = ensemble()
    pn.fit_ensemble(reference, data, **opts)
    ck = tmp_path / "ens.npz"
    with pytest.raises(TrainingInterrupted):
        pn.fit_ensemble(ensemble(), data, hooks=[SignalAt(14)], checkpoint=ck, **opts)
    resumed = ensemble()
    pn.fit_ensemble(resumed, data, checkpoint=ck, resume=ck, **opts)
    assert _same(_params(resumed), _params(reference))


def test_periodic_checkpoints_resume_and_extend(tmp_path, data):
    opts = dict(optimizer=optax.adam(1e-2), chunk_size=8)
    reference, _ = _build(CASES["full batch"], data)
    pn.fit(reference, data, steps=30, **opts)
    ck = tmp_path / "t.npz"
    first, _ = _build(CASES["full batch"], data)
    pn.fit(first, data, steps=12, checkpoint=ck, checkpoint_every=4, **opts)
    resumed, _ = _build(CASES["full batch"], data)
    pn.fit(resumed, data, steps=30, checkpoint=ck, resume=ck, **opts)
    assert _same(_params(resumed), _params(reference))


def test_a_checkpoint_of_another_training_is_refused_in_one_line(tmp_path, data):
    ck = tmp_path / "t.npz"
    model, _ = _build(CASES["full batch"], data)
    pn.fit(model, data, steps=4, optimizer=optax.adam(1e-2), checkpoint=ck)
    other = pn.build_model("hnn", 2, "mlp", seed=0, width=16)
    with pytest.raises(DataError, match="resume with the same"):
        pn.fit(other, data, steps=8, optimizer=optax.adam(1e-2), resume=ck)
    with pytest.raises(DataError, match="batch_size"):
        pn.fit(
            model, data, optimizer="source", steps=8, batch_size=8, key=jax.random.key(0), resume=ck
        )


@pytest.mark.slow
def test_ctrl_c_in_a_physnet_train_subprocess_resumes_to_the_bit(tmp_path, data):
    """Ctrl-C (SIGINT) to a running ``physnet train``: one line, exit 130, a resumable run;
    ``physnet train --resume`` then gives the uninterrupted run's parameters to the bit."""
    path = data.save(tmp_path / "d.npz")
    run = tmp_path / "run"
    args = ["--steps", "20000", "--checkpoint-every", "100", "--quiet"]
    cmd = [sys.executable, "-m", "physnet.cli", "train", "--data", str(path), "--out", str(run)]
    proc = subprocess.Popen(
        [*cmd, "--width", "8", *args], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not (run / "training.npz").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "--resume" in lines[0], err
    assert json.loads((run / "config.json").read_text())["status"] == "training"
    done = subprocess.run(
        [sys.executable, "-m", "physnet.cli", "train", "--resume", str(run), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    reference, _ = pn.runs.train_run(
        path, tmp_path / "ref", options={"width": 8}, steps=20000, checkpoint_every=100
    )
    a = pn.load_model(run / "checkpoint")
    b = pn.load_model(reference / "checkpoint")
    assert _same(_params(a), _params(b))
