"""Issue 34, the file system side: faults and hostile paths never lose a user's file, never
leave a run that cannot go on, and end in one line; one test (or a few) per case."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest
from _cli import one_line as _one_line
from _cli import run_cli as _cli
from _signals import SignalAt
from flax import nnx

import physnet as pn
from physnet._errors import DataError, TrainingInterrupted
from physnet._io import MARKER, OutputWriteError, write_json
from physnet.data import generate
from physnet.runs import RunDirectory, resume_run, train_run
from physnet.systems import system_class

SMALL = {"width": 4, "depth": 1}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("io")
    data = generate(system_class("harmonic")(), 4, 2.0, 12, key=jax.random.key(0))
    path = data.save(root / "harmonic.npz")
    run, _ = train_run(path, root / "run", options=SMALL, steps=5)
    return {"root": root, "data": path, "run": run}


def _copy_run(files, dest):
    shutil.copytree(files["run"], dest)
    return dest


def _params(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model))]


# ----------------------------------------------- 1. --overwrite keeps a user's own files
def test_train_overwrite_refuses_a_run_holding_a_users_file_and_keeps_it(tmp_path, files, capsys):
    run = _copy_run(files, tmp_path / "run")
    (run / "NOTES.txt").write_text("my notes")
    before = sorted(p.name for p in run.iterdir())
    code, _, err = _cli(
        capsys, "train", "--data", files["data"], "--out", run, "--overwrite", "--quiet"
    )
    assert code == 2
    _one_line(err, "NOTES.txt", "did not write")
    assert (run / "NOTES.txt").read_text() == "my notes"
    assert sorted(p.name for p in run.iterdir()) == before


def test_evaluate_into_the_default_slot_keeps_a_users_file_there(tmp_path, files, capsys):
    run = _copy_run(files, tmp_path / "run")
    slot = run / "evaluation"
    slot.mkdir()
    (slot / MARKER).write_text(json.dumps({"kind": "evaluation"}))
    write_json(slot / "metrics.json", {"old": 1})
    (slot / "NOTES.txt").write_text("mine")
    code, _, err = _cli(capsys, "evaluate", "--run", run, "--t1", "1", "--dt", "0.5")
    assert code == 2
    _one_line(err, "NOTES.txt")
    assert (slot / "NOTES.txt").read_text() == "mine"


def test_overwrite_of_physnets_own_run_still_replaces_it(tmp_path, files):
    run = _copy_run(files, tmp_path / "run")
    train_run(files["data"], run, options=SMALL, steps=5, seed=1, overwrite=True)
    assert RunDirectory.open(run).config["seed"] == 1


def _experiment(folder, files=("metrics.json",)):
    """A physnet experiment folder as reproduce writes it (marker listing its entries)."""
    from physnet._io import atomic_directory

    with atomic_directory(folder, "experiment") as tmp:
        for name in files:
            write_json(tmp / name, {"quick": True})


def test_overwrite_of_results_pages_analyses_and_experiments_keeps_a_users_file(
    tmp_path, files, capsys
):
    """reproduce's experiment folders and --report page, and analyze ntk's folder, were
    replaced whole by --overwrite, a user's NOTES.txt among them; they now follow the run
    directories' rule: refused in one line naming the file, nothing changed."""
    from physnet._io import write_marker
    from physnet.reproduce import run_experiment, write_report

    out = tmp_path / "results"
    _experiment(out / "E1")
    write_marker(out, "results")
    write_json(out / "summary.json", {"E1": {"quick": True, "wall_seconds": 1.0}})
    (out / "NOTES.txt").write_text("beside the experiments")  # a results folder only grows
    page = tmp_path / "page"
    write_report(out, page)
    for folder in (page, out / "E1"):
        (folder / "NOTES.txt").write_text("mine")
        before = sorted(p.name for p in folder.iterdir())
        code, _, err = _cli(
            capsys, "reproduce", "--experiments", "E1", "--quick", "--out", out,
            "--report", page, "--overwrite",
        )  # fmt: skip
        assert code == 2
        _one_line(err, f"{folder.name} holds NOTES.txt", "did not write")
        assert (folder / "NOTES.txt").read_text() == "mine"
        assert sorted(p.name for p in folder.iterdir()) == before
        (folder / "NOTES.txt").unlink()
    (out / "E1" / "NOTES.txt").write_text("mine")
    with pytest.raises(pn.ConfigError, match="NOTES.txt"):  # the Python API too
        run_experiment("E1", out / "E1", quick=True, overwrite=True)
    (page / "NOTES.txt").write_text("mine")
    with pytest.raises(pn.ConfigError, match="NOTES.txt"):
        write_report(out, page, overwrite=True)
    (page / "NOTES.txt").unlink()
    assert write_report(out, page, overwrite=True).is_file()  # physnet's own page is replaced

    run = _copy_run(files, tmp_path / "run")
    ntk = ["analyze", "ntk", "--run", run, "--samples", "3"]
    assert _cli(capsys, *ntk)[0] == 0
    (run / "ntk" / "NOTES.txt").write_text("mine")
    code, _, err = _cli(capsys, *ntk, "--overwrite")
    assert code == 2
    _one_line(err, "NOTES.txt", "did not write")
    code, _, err = _cli(  # and inside a run, whose --overwrite replaces its ntk/ too
        capsys, "train", "--data", files["data"], "--out", run, "--overwrite", "--quiet"
    )
    assert code == 2
    _one_line(err, "ntk/NOTES.txt")
    assert (run / "ntk" / "NOTES.txt").read_text() == "mine"
    (run / "ntk" / "NOTES.txt").unlink()
    assert _cli(capsys, *ntk, "--overwrite")[0] == 0


def test_the_final_checkpoint_of_a_run_keeps_a_users_file_in_it(tmp_path, files):
    """Writing a run's final checkpoint (the end of a training or of a --resume) replaced
    RUN/checkpoint/ whole, a user's file in it included; the file now stays."""
    from physnet.runs._rundir import finish_run

    run = _copy_run(files, tmp_path / "run")
    (run / "checkpoint" / "NOTES.txt").write_text("mine")
    model = RunDirectory.open(run).load_model()
    metadata = pn.Trajectories.load(files["data"]).metadata
    finish_run(run, model=model, metrics={"steps": 5}, data_metadata=metadata)
    assert (run / "checkpoint" / "NOTES.txt").read_text() == "mine"
    reloaded = pn.load_model(run / "checkpoint")
    assert all(np.array_equal(a, b) for a, b in zip(_params(model), _params(reloaded), strict=True))


# ----------------------------------------------- 2. simulate --out naming a folder
@pytest.mark.parametrize("out", ["dd/", ".", "dd", ".."])
def test_simulate_out_naming_a_folder_is_refused(tmp_path, capsys, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dd").mkdir()
    code, _, err = _cli(
        capsys, "simulate", "--n-trajectories", "2", "--n-points", "5", "--out", out
    )
    assert code == 2
    _one_line(err, "names a folder")
    assert not list((tmp_path / "dd").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dd"]


# ----------------------------------------------- 3. path errors as one line
def test_hostile_paths_give_one_line(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink("loop", "loop")
    long = "x" * 300
    train = ["train", "--steps", "5", "--width", "4", "--quiet"]
    cases = [
        (["simulate", "--n-trajectories", "2", "--n-points", "5", "--out", long], "too long"),
        ([*train, "--data", files["data"], "--out", long], "too long"),
        ([*train, "--data", files["data"], "--out", "loop"], "symbolic link loop"),
        ([*train, "--data", "loop", "--out", "r"], "symbolic link loop"),
        ([*train, "--data", files["data"], "--out", ""], "--out is empty"),
        (["simulate", "--out", ""], "--out is empty"),
        ([*train, "--data", tmp_path, "--out", "r"], "is a folder, not a .npz data file"),
    ]
    for args, words in cases:
        code, _, err = _cli(capsys, *args)
        assert code == 2, (args, err)
        _one_line(err, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop"]


def test_a_run_started_in_the_empty_working_directory(tmp_path, files, monkeypatch):
    from physnet.runs._rundir import start_run, unlock_run

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    rd = RunDirectory.open(files["run"])
    start_run(".", config=rd.config, split=rd.split)  # main: "a non-empty folder"
    unlock_run(".")
    assert RunDirectory.open(work).config["seed"] == rd.config["seed"]
    assert os.path.samefile(".", work)  # the working directory itself, not a replacement
    assert not [p for p in tmp_path.iterdir() if p.name != "work"]  # no temporary left


# ----------------------------------------------- 4. a full disk during a checkpoint
def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one_and_resumes(
    tmp_path, files, monkeypatch
):
    import physnet.training._resume as resume_module

    real, calls = np.savez, []

    def savez(fh, **arrays):
        calls.append(1)
        if len(calls) >= 2:  # the first checkpoint (step 5) is written, the next one fails
            fh.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fh, **arrays)

    monkeypatch.setattr(resume_module.np, "savez", savez)
    run = tmp_path / "run"
    with pytest.raises(OutputWriteError, match=r"previous checkpoint \(step 5\) is intact"):
        train_run(files["data"], run, options=SMALL, steps=10, checkpoint_every=5)
    monkeypatch.setattr(resume_module.np, "savez", real)
    with np.load(run / "training.npz") as npz:
        assert json.loads(str(npz["header"]))["done"] == 5
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    resume_run(run)
    reference, _ = train_run(
        files["data"], tmp_path / "ref", options=SMALL, steps=10, checkpoint_every=5
    )
    a, b = pn.load_model(run / "checkpoint"), pn.load_model(reference / "checkpoint")
    assert all(np.array_equal(x, y) for x, y in zip(_params(a), _params(b), strict=True))


def test_a_full_disk_in_physnet_train_is_one_line(tmp_path, files, capsys, monkeypatch):
    import physnet.training._resume as resume_module

    def savez(fh, **arrays):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(resume_module.np, "savez", savez)
    code, _, err = _cli(
        capsys, "train", "--data", files["data"], "--out", tmp_path / "r", "--steps", "5",
        "--width", "4", "--quiet",
    )  # fmt: skip
    assert code == 2
    _one_line(err, "No space left on device", "train again")


def test_a_full_disk_while_writing_an_evaluation_leaves_the_previous_one(
    tmp_path, files, capsys, monkeypatch
):
    """A full disk during a results write (here evaluate's metrics.json) said only
    "error: No space left on device"; it now names the output and that nothing changed, and
    the previous evaluation is intact."""
    import physnet.runs._evaluate as evaluate_module

    run = _copy_run(files, tmp_path / "run")
    fast = ["evaluate", "--run", run, "--t1", "1", "--dt", "0.5"]
    assert _cli(capsys, *fast)[0] == 0
    before = (run / "evaluation" / "metrics.json").read_bytes()

    def full(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evaluate_module, "write_json", full)
    code, _, err = _cli(capsys, *fast)
    assert code == 2
    _one_line(err, f"could not write the evaluation {run / 'evaluation'}", "nothing there")
    assert (run / "evaluation" / "metrics.json").read_bytes() == before
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_json_writes_are_atomic(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    write_json(target, {"a": 1})

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("physnet._io.os.replace", fail)
    with pytest.raises(OSError):
        write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# ----------------------------------------------- 5. SIGTERM saves like Ctrl-C


def test_sigterm_saves_the_training_state_like_ctrl_c(tmp_path, files):
    class Killed(Exception):
        pass

    def fallback(signum, frame):  # what runs where physnet does not handle SIGTERM
        raise Killed

    previous = signal.signal(signal.SIGTERM, fallback)
    try:
        data = pn.data.Trajectories.load(files["data"])
        model = pn.build_model("hnn", 2, "mlp", seed=0, width=4)
        ck = tmp_path / "train.npz"
        opts = dict(optimizer=optax.adam(1e-2), chunk_size=4, checkpoint=ck)
        with pytest.raises(TrainingInterrupted) as err:
            pn.fit(model, data, steps=12, hooks=[SignalAt(4, signal.SIGTERM)], **opts)
        assert err.value.step == 4 and ck.is_file()
        assert signal.getsignal(signal.SIGTERM) is fallback  # restored after training
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_run_stopped_before_its_first_checkpoint_resumes(tmp_path, files):
    run = _copy_run(files, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    write_json(run / "config.json", {**config, "status": "training"})
    (run / "training.npz").unlink()
    shutil.rmtree(run / "checkpoint")
    resume_run(run)
    a, b = pn.load_model(run / "checkpoint"), pn.load_model(files["run"] / "checkpoint")
    assert all(np.array_equal(x, y) for x, y in zip(_params(a), _params(b), strict=True))


_KILLED_MID_WRITE = """
import os, signal, sys
import physnet.training._resume as resume_module
from physnet.runs import train_run

real, calls = resume_module.np.savez, []

def savez(fh, **arrays):
    calls.append(1)
    if len(calls) >= 2:  # the checkpoint of step 5 is on disk; kill -9 inside the next write
        fh.write(b"partial")
        fh.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real(fh, **arrays)

resume_module.np.savez = savez
train_run(sys.argv[1], sys.argv[2], options={"width": 4, "depth": 1}, steps=10,
          checkpoint_every=5)
"""


def test_kill_9_during_a_checkpoint_write_leaves_a_resumable_run(tmp_path, files, capsys):
    """SIGKILL (nothing runs after it) in the middle of writing the training state: the
    previous state (step 5) is intact under its name, and the run resumes to the result of
    an uninterrupted run, bit for bit."""
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_WRITE, str(files["data"]), str(run)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    with np.load(run / "training.npz") as npz:
        assert json.loads(str(npz["header"]))["done"] == 5
    assert any(p.name.endswith(".tmp") for p in run.iterdir())  # the cut write, left aside
    code, _, _ = _cli(capsys, "train", "--resume", run, "--quiet")
    assert code == 0
    reference, _ = train_run(
        files["data"], tmp_path / "ref", options=SMALL, steps=10, checkpoint_every=5
    )
    a, b = pn.load_model(run / "checkpoint"), pn.load_model(reference / "checkpoint")
    assert all(np.array_equal(x, y) for x, y in zip(_params(a), _params(b), strict=True))


# ----------------------------------------------- 6. one writer per run
def _hold_lock(run):
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(run / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.pwrite(fd, str(os.getpid()).encode(), 0)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_run_being_written_by_another_process_is_refused(tmp_path, files, capsys):
    run = _copy_run(files, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    write_json(run / "config.json", {**config, "status": "training"})
    proc = _hold_lock(run)
    try:
        before = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name != ".lock"}
        for args in (
            ["train", "--data", files["data"], "--out", run, "--overwrite", "--quiet"],
            ["train", "--resume", run, "--quiet"],
        ):
            code, _, err = _cli(capsys, *args)
            assert code == 2
            _one_line(err, "being written by another physnet process", f"pid {proc.pid}")
        after = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name != ".lock"}
        assert after == before
    finally:
        proc.kill()
        proc.wait()
    # the lock of a dead process does not block
    from physnet.runs._rundir import lock_run, unlock_run

    lock_run(run)
    unlock_run(run)


def test_evaluate_into_a_run_takes_its_lock(tmp_path, files, capsys):
    """Two evaluations into one run's slot (or one while the run trains) wrote the same
    folder at once, without a lock; an evaluation into the run now holds the run's lock as
    train does, and the loser gets one line; one written elsewhere only reads the run."""
    from physnet.runs._rundir import _HELD, lock_run, unlock_run

    run = _copy_run(files, tmp_path / "run")
    fast = ["--t1", "1", "--dt", "0.5"]
    proc = _hold_lock(run)
    try:
        for where in ([], ["--out", run / "second"]):
            code, _, err = _cli(capsys, "evaluate", "--run", run, *fast, *where)
            assert code == 2
            _one_line(err, "being written by another physnet process", f"pid {proc.pid}")
        assert not (run / "evaluation").exists() and not (run / "second").exists()
        code, _, _ = _cli(capsys, "evaluate", "--run", run, *fast, "--out", tmp_path / "elsewhere")
        assert code == 0 and (tmp_path / "elsewhere" / "metrics.json").is_file()
    finally:
        proc.kill()
        proc.wait()
    assert _cli(capsys, "evaluate", "--run", run, *fast)[0] == 0
    assert (run / "evaluation" / "metrics.json").is_file()
    assert not _HELD  # released when the evaluation ended
    lock_run(run)
    unlock_run(run)


# ----------------------------------------------- 7. checkpoint integrity
def test_altered_weights_are_refused_and_old_checkpoints_load(tmp_path, files):
    ck = tmp_path / "checkpoint"
    shutil.copytree(files["run"] / "checkpoint", ck)
    assert "state_sha256" in json.loads((ck / "model.json").read_text())
    with np.load(ck / "state.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = next(k for k, v in arrays.items() if v.dtype.kind == "f" and v.size)
    arrays[name] = arrays[name] + 1.0
    with open(ck / "state.npz", "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(DataError, match="SHA-256"):
        pn.load_model(ck)
    meta = json.loads((ck / "model.json").read_text())
    del meta["state_sha256"]  # a checkpoint written before the checksum existed
    (ck / "model.json").write_text(json.dumps(meta))
    pn.load_model(ck)


def test_evaluate_of_a_run_with_altered_weights_is_one_line(tmp_path, files, capsys):
    run = _copy_run(files, tmp_path / "run")
    with np.load(run / "checkpoint" / "state.npz") as npz:
        arrays = {k: npz[k] * 2 if npz[k].dtype.kind == "f" else npz[k] for k in npz.files}
    with open(run / "checkpoint" / "state.npz", "wb") as fh:
        np.savez(fh, **arrays)
    code, _, err = _cli(capsys, "evaluate", "--run", run, "--t1", "1", "--dt", "0.5")
    assert code == 2
    _one_line(err, "SHA-256")
    assert not (run / "evaluation").exists()


# ----------------------------------------------- 8. reproduce --report inside --out
def test_reproduce_report_inside_out_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    code, _, err = _cli(
        capsys, "reproduce", "--experiments", "E1", "--quick", "--out", out, "--report",
        out / "page",
    )  # fmt: skip
    assert code == 2
    _one_line(err, "inside --out")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------- 9. a run moved with its data
def test_a_run_moved_with_its_data_finds_them_and_checks_them(tmp_path, files):
    config = json.loads((files["run"] / "config.json").read_text())
    assert config["data_relative"] == os.path.join("..", "harmonic.npz")
    moved = tmp_path / "elsewhere"  # as copied to another machine: the old absolute path is gone
    moved.mkdir()
    shutil.copy(files["data"], moved / "harmonic.npz")
    run = _copy_run(files, moved / "run")
    write_json(run / "config.json", {**config, "data": "/nonexistent/old/home/harmonic.npz"})
    rd = RunDirectory.open(run)
    train, test = rd.train_test()
    assert train.n_trajectories + test.n_trajectories == 4
    with open(moved / "harmonic.npz", "ab") as fh:
        fh.write(b"changed")
    with pytest.raises(DataError, match="SHA-256"):
        rd.load_data()


def test_an_os_error_anywhere_in_a_command_is_one_line(monkeypatch, capsys):
    """An OSError that no command foresaw (a path the system refuses) is one line naming the
    refusal and the path, exit 2, not a traceback."""
    from physnet.cli import _main

    def refuse(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/data/run/model.json")

    monkeypatch.setitem(_main.COMMANDS, "datasets", refuse)
    assert _main.main(["datasets"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["physnet datasets: error: /data/run/model.json: permission denied"]
