"""physnet.analysis.compare: approximators at matched parameters / FLOPs, scaling fits,
continual learning, and `physnet compare`."""

import json

import numpy as np
import pytest
from flax import nnx

from physnet import ConfigError, DataError
from physnet.analysis import (
    TASK_CLASSES,
    ClassificationTask,
    HNNTask,
    LNNTask,
    RegressionTask,
    Task,
    builtin_tasks,
    compare,
    continual_learning,
    expression_task,
    file_task,
    forward_flops,
    function_task,
    kan_family,
    kan_grid_family,
    measure,
    mlp_family,
    parameter_count,
    peaks_task,
    scaling_exponent,
    size_for,
    train_one,
)
from physnet.approximators import KAN, MLP
from physnet.cli import main
from physnet.models import HNN, LNN


def test_parameter_count_and_sizing():
    mlp = MLP(2, 1, width=16, depth=2, rngs=nnx.Rngs(0))
    assert parameter_count(mlp) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    fam = mlp_family()
    assert measure(fam, 16, 2, 1, "params") == parameter_count(mlp)
    # the nearest size in log scale: width 16 gives 337, width 15 gives 301
    assert size_for(fam, 330, 2, 1) == 16
    kan = kan_family()
    size = size_for(kan, 337, 2, 1)
    n = measure(kan, size, 2, 1, "params")
    assert abs(np.log(n / 337)) <= max(
        abs(np.log(measure(kan, s, 2, 1, "params") / 337)) for s in (size - 1, size + 1)
    )
    with pytest.raises(ConfigError, match="budget"):
        size_for(fam, 0, 2, 1)
    with pytest.raises(ConfigError, match="match"):
        measure(fam, 4, 2, 1, "bytes")


def test_flops_from_xla():
    """XLA counts an MLP's forward pass at about 2 FLOPs per weight; a local-spline KAN's
    cost does not grow with the grid size (only k + 1 pieces are evaluated)."""
    mlp = MLP(1, 1, width=32, depth=2, rngs=nnx.Rngs(0))
    flops = forward_flops(mlp)
    assert 2 * 32 * 32 <= flops <= 4 * parameter_count(mlp)
    coarse = forward_flops(KAN([1, 2, 1], grid=5, rngs=nnx.Rngs(0)))
    fine = forward_flops(KAN([1, 2, 1], grid=50, rngs=nnx.Rngs(0)))
    assert coarse > 0 and fine == coarse
    assert measure(kan_grid_family(), 50, 1, 1, "flops") == fine


def test_compare_rows_summary_json(tmp_path):
    task = function_task("sq", lambda x: x[:, 0] ** 2, low=[-1], high=[1], n_train=16, n_test=32)
    result = compare(task, [mlp_family(), kan_family()], seeds=1, steps=3)
    assert len(result.rows) == 2
    row = result.rows[0]
    for key in ("params", "flops", "error", "seconds_per_step", "compile_seconds"):
        assert np.isfinite(row[key]), key
    summ = {s["approximator"]: s for s in result.summary()}
    assert set(summ) == {"mlp", "kan"} and summ["mlp"]["seeds"] == 1
    budget = result.settings["budget"]["sq"]
    assert budget == measure(mlp_family(), 16, 1, 1, "params")
    assert abs(np.log(summ["kan"]["params"][0] / budget)) < 0.3
    assert "| sq | kan |" in result.table()
    result.to_json(tmp_path / "c.json")
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["settings"]["match"] == "params" and len(saved["rows"]) == 2
    with pytest.raises(ConfigError, match="match"):
        compare(task, [mlp_family()], match="time")
    with pytest.raises(ConfigError, match="Family"):
        compare(task, {"mlp": MLP})


def test_scaling_exponent_recovers_a_power_law():
    rng = np.random.default_rng(0)
    n = np.repeat([10, 30, 100, 300, 1000], 5)
    seeds = np.tile(np.arange(5), 5)
    err = 3.0 * n**-2.0 * np.exp(0.1 * rng.standard_normal(n.size))
    fit = scaling_exponent(n, err, seeds)
    assert abs(fit["exponent"] - 2.0) < 0.1
    assert fit["ci"][0] < 2.0 < fit["ci"][1] and fit["ci_method"].startswith("bootstrap")
    fit = scaling_exponent(n, err)
    assert fit["ci"][0] < fit["exponent"] < fit["ci"][1]
    with pytest.raises(DataError, match="2 sizes"):
        scaling_exponent([10, 10], [1.0, 2.0])


def test_tasks_validate_and_read_files(tmp_path):
    with pytest.raises(ConfigError, match="kind"):
        Task("t", (np.zeros((3, 1)), np.zeros(3)), (np.zeros((3, 1)), np.zeros(3)), kind="x")
    bad = np.array([[np.nan]])
    with pytest.raises(DataError, match="NaN"):
        Task("t", (bad, np.zeros(1)), (np.zeros((1, 1)), np.zeros(1)))
    task = expression_task("x*y", ["x", "y"], low=[-1, -2], high=[1, 2], n_train=10, n_test=5)
    x, y = task.train
    np.testing.assert_allclose(y[:, 0], x[:, 0] * x[:, 1])
    assert x[:, 1].min() >= -2 and task.in_features == 2 and task.out_features == 1
    with pytest.raises(ConfigError, match="one number per input"):
        expression_task("x*y", ["x", "y"], low=[-1], high=[1])
    table = np.column_stack([np.linspace(0, 1, 20), np.linspace(1, 2, 20), np.arange(20) % 3])
    csv = tmp_path / "t.csv"
    np.savetxt(csv, table, delimiter=",", header="a,b,label", comments="")
    task = file_task(csv, classification=True)
    assert task.kind == "classification" and task.out_features == 3
    assert len(task.train[0]) == 16 and len(task.test[0]) == 4
    np.savez(tmp_path / "t.npz", x=table[:, :2], y=table[:, 2:])
    assert file_task(tmp_path / "t.npz").in_features == 2
    np.savez(tmp_path / "bad.npz", a=table)
    with pytest.raises(DataError, match="'x' and 'y'"):
        file_task(tmp_path / "bad.npz")
    with pytest.raises(DataError, match="columns"):
        file_task(csv, targets=3)
    with pytest.raises(ConfigError, match="unknown task"):
        builtin_tasks(["nope"])


def test_task_classes_carry_their_behaviour():
    """Each way an approximator enters a task is a class; Task(..., kind=...) builds it."""
    x, y = np.linspace(-1, 1, 8).reshape(4, 2), np.array([[1.0, 2.0]] * 4)
    assert set(TASK_CLASSES) == {"regression", "classification", "hnn", "lnn"}
    for kind, cls in TASK_CLASSES.items():
        task = Task("t", (x, np.zeros(4)), (x, np.ones(4)), kind=kind)
        assert type(task) is cls and task.kind == kind and isinstance(task, Task)
    assert type(Task("t", (x, y), (x, y))) is RegressionTask
    with pytest.raises(ConfigError, match="kind"):
        HNNTask("t", (x, y), (x, y), kind="lnn")
    reg, hnn = RegressionTask("r", (x, y), (x, y)), HNNTask("h", (x, y), (x, y))
    assert reg.out_features == 2 and hnn.out_features == 1
    lnn = Task("l", (x, y[:, :1]), (x, y[:, :1]), kind="lnn", kinetic=2.0)
    assert isinstance(lnn, LNNTask) and lnn.kinetic == 2.0 and lnn.out_features == 1
    approx = MLP(2, 1, width=4, depth=1, rngs=nnx.Rngs(0))
    assert reg.model(approx) is approx and isinstance(hnn.model(approx), HNN)
    model = lnn.model(approx)
    assert isinstance(model, LNN) and model.kinetic == 2.0
    assert lnn.predict(model, x).shape == (4, 1) and hnn.predict(hnn.model(approx), x).shape == (
        4,
        2,
    )
    assert reg.score(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]])) == pytest.approx(5**0.5)
    labels = np.array([0, 2, 1, 1])
    cls = ClassificationTask("c", (x, labels), (x, labels))
    assert cls.train[1].dtype == np.int32 and cls.out_features == 3
    logits = np.eye(3)[[0, 2, 2, 1]]
    assert cls.score(logits, labels) == 0.25
    assert float(cls.loss(logits, labels)) < float(cls.loss(-logits, labels))


def test_a_new_task_class_trains_without_touching_the_harness():
    """A task is extended by subclassing (here: an absolute-error loss), not by a new mode."""

    class AbsoluteTask(RegressionTask):
        kind = "absolute"

        def loss(self, pred, y):
            return abs(pred - y).mean()

        def score(self, pred, y):
            return float(np.mean(np.abs(pred - y)))

    x = np.linspace(-1, 1, 16).reshape(-1, 1)
    task = AbsoluteTask("abs", (x, x**2), (x, x**2))
    row = train_one(task, mlp_family(), 4, 0, steps=2)
    assert row["task"] == "abs" and np.isfinite(row["error"]) and not row["diverged"]


def test_file_task_reads_text_with_the_data_reader(tmp_path):
    """Text tables go through physnet.data's reader: comment lines before a header row,
    whitespace or commas, and errors that name the line."""
    rows = "\n".join(f"{i / 10},{i / 5},{i % 2}" for i in range(10))
    (tmp_path / "c.csv").write_text(f"# measured 2026\na,b,label\n{rows}\n")
    task = file_task(tmp_path / "c.csv", classification=True)
    assert isinstance(task, ClassificationTask) and task.in_features == 2
    assert len(task.train[0]) + len(task.test[0]) == 10
    (tmp_path / "w.txt").write_text("% a b y\n" + rows.replace(",", " ") + "\n")
    task = file_task(tmp_path / "w.txt")
    assert isinstance(task, RegressionTask) and task.out_features == 1
    (tmp_path / "r.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(DataError, match="line 2"):
        file_task(tmp_path / "r.csv")
    with pytest.raises(DataError, match="not found"):
        file_task(tmp_path / "missing.csv")


def test_peaks_task_regions():
    f, regions = peaks_task(1, n_per_region=10)
    assert len(regions) == 5 and regions[0][0].shape == (10, 1)
    assert regions[2][0].min() >= -0.2 and regions[2][0].max() <= 0.2
    assert np.isclose(f(np.zeros((1, 1)))[0, 0], 1.0, atol=1e-6)
    _, regions = peaks_task(2, n_per_region=10)
    assert len(regions) == 4 and regions[0][0].shape == (10, 2)
    with pytest.raises(ConfigError, match="dims"):
        peaks_task(3)


def test_cli_compare(tmp_path, capsys):
    out = tmp_path / "c.json"
    args = ["compare", "--expr", "x**2", "--low", "-1", "--high", "1", "--seeds", "1"]
    args += ["--steps", "2", "--approximators", "mlp", "--out", str(out)]
    assert main(args) == 0
    assert "| x**2 | mlp | 16 |" in capsys.readouterr().out
    assert json.loads(out.read_text())["rows"][0]["approximator"] == "mlp"
    assert main(args) == 2  # an existing comparison is replaced only with --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args[:-2], "--approximators", "rnn"]) == 2
    err = capsys.readouterr().err
    assert "rnn" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_physics_and_classification_tasks_train():
    """HNN, LNN and forecast tasks train and improve on the untrained error."""
    for task in builtin_tasks(["duffing_hnn", "e5_lnn", "oscillator_forecast"], n_train=64):
        untrained = train_one(task, mlp_family(), 8, 0, steps=1)["error"]
        row = train_one(task, mlp_family(), 8, 0, steps=300)
        assert row["error"] < untrained and not row["diverged"], task.name
    pytest.importorskip("sklearn")
    (wine,) = builtin_tasks(["wine"])
    assert train_one(wine, kan_family(), 3, 0, steps=200)["error"] < 0.2


@pytest.mark.slow
def test_kan_forgets_less_than_mlp_in_1d():
    """The KAN paper's 1-D claim at matched parameters (see experiments/kan_vs_mlp)."""
    from physnet.analysis import Family

    kan = Family("kan", lambda s, i, o, r, g: KAN([i, o], grid=s, grid_range=g, rngs=r), (50,), 50)
    k = continual_learning(kan, 50, dims=1, seed=0, steps_per_phase=300)
    m = continual_learning(mlp_family(), 6, dims=1, seed=0, steps_per_phase=300)
    assert k["forgetting"][-1] < m["forgetting"][-1]
    assert k["final_mean_rmse"] < m["final_mean_rmse"]
