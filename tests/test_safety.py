"""Issue 20: commands never lose a user's files or report wrong results; one test per case."""

import json
import os
import stat

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _cli import one_line as _one_line
from _cli import run_cli as _cli
from flax import nnx

import physnet as pn
from physnet._errors import ConfigError, DataError, TrainingDivergedError
from physnet._io import MARKER, write_json
from physnet.data import generate
from physnet.runs import RunDirectory, evaluate_run, train_run
from physnet.systems import system_class

SMALL = {"width": 4, "depth": 1}


def _data(path, system="harmonic", **params):
    data = generate(system_class(system)(**params), 4, 2.0, 12, key=jax.random.key(0))
    return data.save(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("safety")
    data = _data(root / "harmonic.npz")
    other = _data(root / "duffing.npz", "duffing")
    run, _ = train_run(data, root / "run", options=SMALL, steps=5)
    return {"root": root, "data": data, "other": other, "run": run}


# ---------------------------------------------------------------- 1. data loss
def test_train_refuses_a_non_empty_foreign_folder_and_keeps_its_files(tmp_path, files, capsys):
    (tmp_path / "thesis.tex").write_text("years of work")
    code, _, err = _cli(capsys, "train", "--data", files["data"], "--out", tmp_path, "--quiet")
    assert code == 2
    _one_line(err, "not a physnet output", "never deletes")
    assert (tmp_path / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


def test_out_naming_the_working_directory_is_refused(tmp_path, files, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("keep")
    monkeypatch.chdir(work)
    code, _, err = _cli(capsys, "train", "--data", files["data"], "--out", "../work", "--quiet")
    assert code == 2 and (work / "notes.txt").read_text() == "keep"


def test_out_naming_the_training_data_file_is_refused_and_the_file_stays(files, capsys):
    before = files["data"].read_bytes()
    code, _, err = _cli(capsys, "train", "--data", files["data"], "--out", files["data"])
    assert code == 2
    _one_line(err, "input")
    assert files["data"].read_bytes() == before
    assert not [p for p in files["root"].iterdir() if p.name.endswith(".old")]


def test_out_naming_an_existing_foreign_file_is_refused(tmp_path, files, capsys):
    target = tmp_path / "paper.pdf"
    target.write_bytes(b"%PDF")
    code, _, err = _cli(capsys, "train", "--data", files["data"], "--out", target)
    assert code == 2 and target.read_bytes() == b"%PDF"
    _one_line(err, "not a directory")


def test_evaluate_out_equal_to_the_run_is_refused_and_the_model_stays(files, capsys):
    code, _, err = _cli(capsys, "evaluate", "--run", files["run"], "--out", files["run"])
    assert code == 2
    _one_line(err, "input")
    RunDirectory.open(files["run"]).load_model()


def test_report_refuses_a_foreign_folder(tmp_path, capsys):
    page = tmp_path / "page"
    page.mkdir()
    (page / "mine.md").write_text("mine")
    from physnet.reproduce import write_report

    with pytest.raises(ConfigError, match="not a physnet output"):
        write_report(tmp_path, page)
    assert (page / "mine.md").read_text() == "mine"


def test_overwrite_replaces_only_a_previous_physnet_output_of_the_same_kind(tmp_path, files):
    out = tmp_path / "run"
    train_run(files["data"], out, options=SMALL, steps=3)
    with pytest.raises(ConfigError, match="--overwrite"):
        train_run(files["data"], out, options=SMALL, steps=3)
    train_run(files["data"], out, options=SMALL, steps=4, overwrite=True)
    assert RunDirectory.open(out).config["steps"] == 4
    ev, _ = evaluate_run(out, out=tmp_path / "ev", t1=0.5)
    with pytest.raises(ConfigError, match="physnet evaluation output"):
        train_run(files["data"], ev, options=SMALL, steps=3, overwrite=True)


def test_unwritable_output_is_found_before_training(tmp_path, files, monkeypatch):
    with pytest.raises(ConfigError, match="empty"):
        train_run(files["data"], "", options=SMALL, steps=3)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    called = []
    monkeypatch.setattr(pn.runs._train, "fit", lambda *a, **k: called.append(1))
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as root")
        with pytest.raises(ConfigError, match="not a writable directory"):
            train_run(files["data"], locked / "run", options=SMALL, steps=3)
    finally:
        locked.chmod(0o700)
    assert not called


def test_outputs_get_umask_permissions(tmp_path, files):
    old = os.umask(0o022)
    try:
        path = _data(tmp_path / "d.npz")
        run, _ = train_run(files["data"], tmp_path / "run", options=SMALL, steps=2)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(run.stat().st_mode) == 0o755
    assert stat.S_IMODE((run / "config.json").stat().st_mode) == 0o644
    assert json.loads((run / MARKER).read_text())["kind"] == "run"


def test_data_save_replaces_only_physnet_data_files(tmp_path, files):
    foreign = tmp_path / "x.npz"
    np.savez(foreign, a=np.ones(3))
    data = pn.Trajectories.load(files["data"])
    with pytest.raises(ConfigError, match="not a physnet data file"):
        data.save(foreign)
    assert set(np.load(foreign).files) == {"a"}
    data.save(tmp_path / "mine.npz")
    data.save(tmp_path / "mine.npz")  # Python default: replace our own file
    with pytest.raises(ConfigError, match="--overwrite"):
        data.save(tmp_path / "mine.npz", overwrite=False)


# ---------------------------------------------------------------- 2. silent wrong results
def test_evaluate_refuses_data_of_another_system_unless_told(tmp_path, files):
    with pytest.raises(DataError, match="--allow-other-system"):
        evaluate_run(files["run"], data=files["other"], out=tmp_path / "a", t1=0.5)
    assert not (tmp_path / "a").exists()
    _, m = evaluate_run(
        files["run"], data=files["other"], out=tmp_path / "b", t1=0.5, allow_other_system=True
    )
    prov = m["provenance"]
    assert prov["system"] == "duffing" and prov["trained_system"] == "harmonic"
    assert prov["data_sha256"] == pn.runs.file_sha256(files["other"])


def test_runs_record_their_provenance(files):
    config = RunDirectory.open(files["run"]).config
    prov = config["provenance"]
    assert prov["system"] == "harmonic" and prov["jax"] == jax.__version__
    assert config["data_sha256"] == pn.runs.file_sha256(files["data"])
    assert config["status"] == "complete" and config["split"] in ("trajectory", "time")


def test_complex_data_are_refused(tmp_path):
    ts = np.linspace(0, 1, 5)
    np.savez(tmp_path / "c.npz", ts=ts, states=np.ones((1, 5, 2), complex))
    with pytest.raises(DataError, match="real numbers"):
        pn.Trajectories.load(tmp_path / "c.npz")


@pytest.mark.parametrize("damage", ["nan", "float16"])
def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path, files, damage):
    import shutil

    ck = tmp_path / "ck"
    shutil.copytree(files["run"] / "checkpoint", ck)
    with np.load(ck / "state.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = next(k for k, v in arrays.items() if v.dtype == np.float64 and v.size)
    if damage == "nan":
        arrays[name] = arrays[name].copy()
        arrays[name].flat[0] = np.nan
    else:
        arrays[name] = arrays[name].astype(np.float16)
    np.savez(ck / "state.npz", **arrays)
    with pytest.raises(DataError, match="NaN" if damage == "nan" else "float16"):
        pn.load_model(ck)


def test_metrics_json_is_strict_with_a_reason(tmp_path):
    write_json(tmp_path / "m.json", {"a": float("nan"), "b": [1.0, float("inf")], "c": 2})
    text = (tmp_path / "m.json").read_text()
    m = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} token"))
    assert m["a"] is None and m["b"] == [1.0, None] and m["c"] == 2
    assert "a (nan)" in m["non_finite"] and "b[1] (inf)" in m["non_finite"]


# ---------------------------------------------------------------- 3. blow-ups
def test_a_parameter_norm_blow_up_counts_as_divergence(files):
    data = pn.Trajectories.load(files["data"])
    model = pn.build_model("node", 2, "mlp", seed=0, **SMALL)
    with pytest.raises(TrainingDivergedError, match="norm exceeded"):
        pn.fit(model, data, steps=50, optimizer=optax.sgd(1e12), chunk_size=10)
    params = jax.tree.leaves(nnx.state(model, nnx.Param))
    assert all(bool(jnp.all(jnp.isfinite(p))) for p in params)
    assert float(optax.tree.norm(nnx.state(model, nnx.Param))) <= 1e6


def test_evaluate_reports_a_collapsed_vector_field_instead_of_a_perfect_score(tmp_path, files):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(files["run"], run)
    model = RunDirectory.open(run).load_model()
    nnx.update(model, jax.tree.map(jnp.zeros_like, nnx.state(model, nnx.Param)))
    pn.save_model(model, run / "checkpoint", extra={"system": {"system": "harmonic"}})
    _, m = evaluate_run(run, t1=0.5)
    assert "collapsed" in m["vector_field"]
    assert m["energy_drift"] is None and m["rollout_rmse"] is None


@pytest.mark.parametrize("lr", ["0", "-1e-2", "-0.5", "nan"])
def test_non_positive_learning_rates_are_refused_in_one_line(files, capsys, lr, tmp_path):
    code, _, err = _cli(
        capsys, "train", "--data", files["data"], "--out", tmp_path / "r", "--lr", lr
    )
    assert code == 2
    _one_line(err, "--lr")
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- 4. one line, not a traceback
@pytest.mark.parametrize(
    "args, words",
    [
        (["--seed", str(2**64)], "seed"),
        (["--seed", "-1"], "seed"),
        (["--width", "1000000000"], "too large"),
    ],
)
def test_option_ranges_are_checked_in_one_line(files, capsys, tmp_path, args, words):
    code, _, err = _cli(
        capsys, "train", "--data", files["data"], "--out", tmp_path / "r", "--quiet", *args
    )
    assert code == 2
    _one_line(err, words)


def test_an_absurd_rollout_horizon_is_refused_before_work(files, capsys, tmp_path):
    code, _, err = _cli(
        capsys, "evaluate", "--run", files["run"], "--t1", "1e12", "--out", tmp_path / "e"
    )
    assert code == 2
    _one_line(err, "--t1")


def test_a_blown_up_simulation_names_the_step_size(capsys, tmp_path):
    code, _, err = _cli(
        capsys, "simulate", "--system", "duffing", "--t1", "1e6", "--n-points", "3",
        "--n-trajectories", "2", "--out", tmp_path / "s.npz",
    )  # fmt: skip
    assert code == 2
    _one_line(err, "blew up", "--t1")


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"model": 3}', '{"model": {"class": "Nope"}}', "[]",
     '{"format_version": 2, "model": {"class": "MLP", "config": {"bogus": 1}}}',
     '{"format_version": 2, "model": {"class": "MLP", "config": {"in_features": "x"}}}'],
)  # fmt: skip
def test_malformed_model_json_is_one_data_error(tmp_path, files, content):
    import shutil

    ck = tmp_path / "ck"
    shutil.copytree(files["run"] / "checkpoint", ck)
    (ck / "model.json").write_text(content)
    with pytest.raises(DataError):
        pn.load_model(ck)


# ---------------------------------------------------------------- 5. smaller
def test_a_text_file_named_npz_gets_no_pickle_advice(tmp_path):
    (tmp_path / "t.npz").write_text("t,q\n0,1\n")
    with pytest.raises(DataError) as err:
        pn.Trajectories.load(tmp_path / "t.npz")
    assert "allow_pickle" not in str(err.value) and "never loads pickled" in str(err.value)
