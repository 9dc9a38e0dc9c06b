"""Issue 34: no silent wrong results, and one clear line for hostile input; one test per case."""

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _cli import one_line as _one_line
from _cli import run_cli as _cli

import physnet as pn
from physnet._errors import ConfigError, DataError
from physnet.data import generate
from physnet.runs import RunDirectory, evaluate_run, resume_run, train_run
from physnet.systems import system_class

SMALL = {"width": 4, "depth": 1}


def _data(path, system="harmonic", coordinates="canonical", **params):
    data = generate(
        system_class(system)(**params), 4, 2.0, 12, key=jax.random.key(0), coordinates=coordinates
    )
    return data.save(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("silent")
    data = _data(root / "harmonic.npz")
    run, _ = train_run(data, root / "run", options=SMALL, steps=5)
    return {"root": root, "data": data, "run": run}


@pytest.fixture
def no_equilibria(monkeypatch):
    """Evaluations here test their warnings, not the rest points: skip that search (speed)."""
    monkeypatch.setattr(pn.runs._evaluate, "equilibrium_metrics", lambda *a, **k: {})


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if "warning" in line]


# ------------------------------------------------------------------ 1. dtypes
def test_trajectories_hold_float64_and_refuse_what_is_not_real_numbers():
    ts = np.linspace(0.0, 1.0, 6, dtype=np.float32)
    states = np.ones((2, 6, 2), np.float32)
    data = pn.Trajectories(ts, states, derivatives=jnp.zeros((2, 6, 2), jnp.float32))
    assert data.ts.dtype == np.float64 and data.states.dtype == np.float64
    assert data.derivatives.dtype == jnp.float64 and isinstance(data.derivatives, jax.Array)
    model = pn.build_model("hnn", 2, "mlp", **SMALL)
    assert pn.evaluation.rollout(model, data.y0, data.ts).dtype == jnp.float64
    counts = pn.Trajectories(np.arange(6), np.arange(24).reshape(2, 6, 2))
    est = counts.with_estimated_derivatives()
    assert est.derivatives.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(est.derivatives), 2.0)  # not truncated to integers
    for field, bad, what in (
        ("states", np.full((2, 6, 2), "1.0"), "dtype <U3"),
        ("states", np.ones((2, 6, 2), complex), "complex"),
        ("ts", np.array(["a"] * 6, object), "dtype object"),
    ):
        arrays = {"ts": np.linspace(0.0, 1.0, 6), "states": np.ones((2, 6, 2))} | {field: bad}
        with pytest.raises(DataError, match=f"^{field} must hold real numbers.*{what}"):
            pn.Trajectories(**arrays)


# ------------------------------------------------------------------ 2. pn.fit inputs
def test_fit_refuses_an_array_as_data_and_none_as_model_in_one_line(files):
    data = pn.Trajectories.load(files["data"])
    model = pn.build_model("hnn", 2, "mlp", **SMALL)
    with pytest.raises(DataError, match="data must be physnet.Trajectories .* got ndarray"):
        pn.fit(model, np.asarray(data.states), steps=2)
    with pytest.raises(ConfigError, match="model must be .* got NoneType"):
        pn.fit(None, data, steps=2)
    with pytest.raises(DataError, match="test_data must be physnet.Trajectories"):
        pn.fit(model, data, steps=2, test_data=[1, 2])


@pytest.mark.parametrize(
    "where, call",
    [
        ("fit", lambda m, d: pn.fit(m, d, steps=2)),
        ("fit_ensemble", lambda m, d: pn.fit_ensemble(m, d, steps=2)),
        ("fit_states", lambda m, d: pn.fit_states(m, d, weak_steps=1, latent_steps=1)),
        (
            "least_squares",
            lambda m, d: pn.training.least_squares(m, d, pn.training.WeakFormLoss(), steps=1),
        ),
        (
            "latent_least_squares",
            lambda m, d: pn.training.latent_least_squares(
                m, d, pn.training.LatentShootingLoss(5), steps=1
            ),
        ),
    ],
)
def test_every_public_fit_checks_its_model_and_data_in_one_line(files, where, call):
    """fit_states and the least-squares solvers went around pn.fit's checks: an array as
    data was an AttributeError, None as model a TypeError (or an unrelated window message),
    states of another size a ValueError deep in the MLP; all public fits now share them."""
    data = pn.Trajectories.load(files["data"])

    def model(state_size=2):
        one = pn.build_model("hnn", state_size, "mlp", **SMALL)
        if where != "fit_ensemble":
            return one
        return pn.Ensemble([one, pn.build_model("hnn", state_size, "mlp", seed=1, **SMALL)])

    with pytest.raises(DataError, match=f"^{where}: data must be physnet.Trajectories .* ndarray"):
        call(model(), np.asarray(data.states))
    with pytest.raises(ConfigError, match=f"^{where}: model must be .* got NoneType"):
        call(None, data)
    with pytest.raises(ConfigError, match=f"^{where}: the model HNN takes states of 4 .* have 2"):
        call(model(4), data)
    nan_states = np.array(data.states)
    nan_states[0, 3, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):  # Trajectories itself refuses them
        call(model(), pn.Trajectories(data.ts, nan_states))


# ------------------------------------------------------------------ 3. CSV with a BOM
def test_a_csv_with_a_utf8_byte_order_mark_imports(tmp_path):
    rows = ["t,q,v"] + [
        f"{0.1 * i:.1f},{np.cos(0.1 * i):.6f},{-np.sin(0.1 * i):.6f}" for i in range(8)
    ]
    path = tmp_path / "excel.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    data = pn.data.from_table(path, time="t", states=["q", "v"])
    assert data.metadata["names"] == ["q", "v"] and data.n_times == 8


# ------------------------------------------------------------------ 4. compare inputs
def test_compare_refuses_complex_targets_and_bad_class_labels():
    from physnet.compare import ClassificationTask, RegressionTask

    x = np.linspace(-1, 1, 8)[:, None]
    with pytest.raises(DataError, match="real numbers, got complex"):
        RegressionTask("c", (x, x[:, 0] + 1j), (x, x[:, 0]))
    for labels, bad in (
        (np.r_[0, 1, 0, 1, 0, 1, 0, 0.5], "0.5"),
        (np.r_[0, 1, -1, 1, 0, 1, 0, 1], "-1"),
    ):
        with pytest.raises(DataError, match=f"non-negative integers.*got {bad}"):
            ClassificationTask("k", (x, labels), (x, np.zeros(8)))
    task = ClassificationTask("k", (x, np.r_[0.0, 1, 0, 1, 0, 1, 0, 2]), (x, np.zeros(8)))
    assert task.out_features == 3  # whole floats (a CSV's labels) are labels


@pytest.mark.parametrize(
    "inputs, words", [("x,x", "given twice"), ("x,,y", "every input needs a name")]
)
def test_compare_refuses_duplicate_or_empty_input_names(capsys, inputs, words):
    n = len(inputs.split(","))
    low, high = ",".join(["-1"] * n), ",".join(["1"] * n)
    code, _, err = _cli(
        capsys, "compare", "--expr", "x", "--inputs", inputs, "--low", low, "--high", high
    )
    assert code == 2
    _one_line(err, words)


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"x_test": np.ones((3, 2))}, "no y_test"),
        ({"y": np.ones(5)}, "x has 6 rows and y 5"),
        ({"x_test": np.ones((3, 3)), "y_test": np.ones(3)}, "widths"),
        ({"x_test": np.ones((3, 2)), "y_test": np.ones(4)}, "x_test has 3 rows and y_test 4"),
    ],
)
def test_compare_refuses_malformed_data_files_in_one_line(tmp_path, capsys, arrays, words):
    path = tmp_path / "task.npz"
    np.savez(path, **({"x": np.ones((6, 2)), "y": np.ones(6)} | arrays))
    code, _, err = _cli(capsys, "compare", "--data", path, "--steps", "1", "--seeds", "1")
    assert code == 2
    _one_line(err, words)


# ------------------------------------------------------------------ 5. ntk samples
def test_analyze_ntk_needs_enough_samples_for_its_fit(files, capsys):
    code, _, err = _cli(capsys, "analyze", "ntk", "--run", files["run"], "--samples", "1")
    assert code == 2
    _one_line(err, "--samples must be an integer >= 3")
    assert not (files["run"] / "ntk").exists()


# ------------------------------------------------------------------ 6. --lr with a preset
def test_lr_with_a_preset_is_refused_at_the_run_level(tmp_path, files, capsys):
    with pytest.raises(ConfigError, match="--lr sets Adam's rate; --preset fast has its own"):
        train_run(files["data"], tmp_path / "r", options=SMALL, preset="fast", lr=0.1)
    assert not (tmp_path / "r").exists()
    code, _, err = _cli(
        capsys, "train", "--data", files["data"], "--out", tmp_path / "c", "--preset", "fast",
        "--lr", "0.1", "--width", "4",
    )  # fmt: skip
    assert code == 2
    _one_line(err, "drop one")


# ------------------------------------------------------------------ 7. resume
def _interrupted(tmp_path, files, name="run", **options):
    """A run as if interrupted at its last step (status training, training state kept)."""
    run, _ = train_run(files["data"], tmp_path / name, options=SMALL, steps=3, lr=1e-3, **options)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {"status": "training"}))
    return run


def test_resume_refuses_option_flags_it_would_ignore(tmp_path, files, capsys):
    run = _interrupted(tmp_path, files)
    code, _, err = _cli(capsys, "train", "--resume", run, "--lr", "0.5", "--width", "8")
    assert code == 2
    _one_line(err, "drop --lr --width")
    code, _, err = _cli(capsys, "train", "--resume", run, "--seed", "0")  # its default, given
    assert code == 2
    _one_line(err, "drop --seed")
    code, _, err = _cli(capsys, "train", "--resume", run, "--model", "lnn")
    assert code == 2
    _one_line(err, "--model")
    code, out, err = _cli(capsys, "train", "--resume", run, "--steps", "4", "--quiet")
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["status"] == "complete"


def test_resume_refuses_a_config_json_edited_since_training_started(tmp_path, files):
    run = _interrupted(tmp_path, files)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {"lr": 0.5}))
    with pytest.raises(DataError, match="config.json was edited since training started"):
        resume_run(run)
    (run / "config.json").write_text(json.dumps(config))  # restored: resumes
    _, metrics = resume_run(run, steps=4)
    assert metrics["steps"] == 4


# ------------------------------------------------------------------ 8-11. evaluate
def test_evaluate_refuses_a_run_whose_data_checksum_was_removed(tmp_path, files):
    run = tmp_path / "run"
    shutil.copytree(files["run"], run)
    config = json.loads((run / "config.json").read_text())
    del config["data_sha256"]
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(DataError, match="config.json has no data checksum"):
        evaluate_run(run, t1=0.5)


def test_evaluate_of_a_run_whose_provenance_was_edited_names_config_json(tmp_path, files, capsys):
    """A system name edited into config.json's provenance was reported as "--data None holds
    system ..." although no --data was given; the line now names the run's data and its
    config.json."""
    run = tmp_path / "run"
    shutil.copytree(files["run"], run)
    config = json.loads((run / "config.json").read_text())
    config["provenance"]["system"] = "os:system"
    (run / "config.json").write_text(json.dumps(config))
    code, _, err = _cli(capsys, "evaluate", "--run", run, "--t1", "0.5")
    assert code == 2
    _one_line(err, "the run's data", "config.json says it trained on 'os:system'")
    assert "None" not in err and not (run / "evaluation").exists()


def test_evaluate_on_the_runs_own_data_moved_uses_the_stored_test_split(
    tmp_path, files, capsys, no_equilibria
):
    moved = tmp_path / "renamed.npz"
    shutil.copy(files["data"], moved)
    code, out, err = _cli(
        capsys, "evaluate", "--run", files["run"], "--data", moved, "--t1", "0.5", "--out",
        tmp_path / "b",
    )  # fmt: skip
    assert code == 0
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    split = RunDirectory.open(files["run"]).split
    n_test = split.apply(pn.Trajectories.load(files["data"]))[1].n_trajectories
    assert metrics["n_initial_conditions"] == n_test < 4  # not all 4 trajectories
    assert "stored test split" in metrics["warnings"][0]
    assert any("stored test split" in w for w in _warnings(err))


def test_t1_on_measured_data_is_reported_as_not_used(tmp_path, files, capsys, no_equilibria):
    rng = np.random.default_rng(0)
    t = np.linspace(0, 6, 40)
    rows = ["t,q,v"] + [
        f"{a:.4f},{np.cos(a) + 1e-3 * rng.normal():.6f},{-np.sin(a):.6f}" for a in t
    ]
    (tmp_path / "rec.csv").write_text("\n".join(rows) + "\n")
    data = pn.data.from_table(tmp_path / "rec.csv", time="t", states=["q", "v"])
    data.save(tmp_path / "rec.npz")
    run, _ = train_run(tmp_path / "rec.npz", tmp_path / "run", model="hnn", options=SMALL, steps=3)
    _, m = evaluate_run(run, out=tmp_path / "quiet")
    assert "warnings" not in m
    code, _, err = _cli(capsys, "evaluate", "--run", run, "--t1", "50", "--out", tmp_path / "e")
    assert code == 0
    assert any("--t1" in w and "not used" in w for w in _warnings(err))
    assert "--t1" in json.loads((tmp_path / "e" / "metrics.json").read_text())["warnings"][0]


def test_a_diverged_run_is_scored_with_a_warning(tmp_path, files, capsys, no_equilibria):
    run = tmp_path / "run"
    shutil.copytree(files["run"], run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {"status": "diverged"}))
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps(metrics | {"diverged_at": 3}))
    code, _, err = _cli(capsys, "evaluate", "--run", run, "--t1", "0.5")
    assert code == 0
    written = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert written["diverged_at"] == 3
    assert any("diverged at step 3" in w for w in _warnings(err))


# ------------------------------------------------------------------ 12. coordinates
def test_lnn_on_canonical_data_and_evaluation_across_coordinates_warn(
    tmp_path, capsys, no_equilibria
):
    canonical = _data(tmp_path / "qp.npz", "mass-spring", mass=4.5)
    velocity = _data(tmp_path / "qv.npz", "mass-spring", coordinates="velocity", mass=4.5)
    lnn = pn.build_model("lnn", 2, "mlp", **SMALL)
    pn.fit(lnn, pn.Trajectories.load(canonical), steps=1, loss="derivative")
    _, err = capsys.readouterr()
    _one_line(err, "fit: warning: an LNN's state is (q, q̇)")
    pn.fit(lnn, pn.Trajectories.load(velocity), steps=1, loss="derivative")
    assert "warning" not in capsys.readouterr().err

    run, _ = train_run(velocity, tmp_path / "run", model="hnn", options=SMALL, steps=3)
    capsys.readouterr()
    code, _, err = _cli(
        capsys, "evaluate", "--run", run, "--data", canonical, "--t1", "0.5", "--out",
        tmp_path / "ev",
    )  # fmt: skip
    assert code == 0
    assert any(
        "(q, p) with p != q̇" in w and "trained on states (q, q̇)" in w for w in _warnings(err)
    )
