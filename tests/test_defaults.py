"""The defaults (issue 27, Build items 2 and 3): loss "auto" picks the derivative loss for data
with derivatives and the states-only road otherwise, saying so in one line; pn.fit and
physnet train default to the "fast" recipe, the source's one flag away."""

import json
import sys
from pathlib import Path

import jax
import pytest
from flax import nnx

import physnet as pn
from physnet.cli import main
from physnet.runs import train_run
from physnet.runs._config import RunConfig
from physnet.training import Adam, AdamThenLBFGS, FitConfig


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("defaults")
    data = pn.data.generate(pn.systems.Duffing(1.0, 2.0, 0.0), 8, 5.0, 20, key=jax.random.key(0))
    return data.save(d / "full.npz"), data.without_derivatives().save(d / "states.npz")


def _small():
    return pn.HNN(pn.MLP(2, 1, width=8, depth=1, rngs=nnx.Rngs(0)))


def test_fit_defaults_auto_loss_and_fast_recipe(files, capsys):
    full, states = (pn.data.Trajectories.load(p) for p in files)
    config = FitConfig(steps=4)
    assert config.loss == "auto" and isinstance(config.optimizer, AdamThenLBFGS)
    assert FitConfig.from_json(config.to_json()) == config  # "auto" round-trips as "auto"
    assert config.resolve_loss(full)[1] == "derivative"
    assert config.resolve_loss(states)[1] == "trajectory"
    pn.fit(_small(), states, steps=4)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "loss auto chose trajectory" in lines[0]
    # the same as naming the chosen loss and the fast recipe
    a, b = _small(), _small()
    ha = pn.fit(a, states, steps=4, progress=False)
    hb = pn.fit(b, states, steps=4, loss="trajectory", optimizer="fast", progress=False)
    assert ha.train_loss.tolist() == hb.train_loss.tolist()
    assert capsys.readouterr().err == ""  # progress=False: silent
    # the source's recipe is one keyword away
    assert FitConfig(steps=4, optimizer="source").optimizer == Adam(1e-3)


def test_minibatches_with_the_default_recipe_name_the_fix(files):
    full = pn.data.Trajectories.load(files[0])
    with pytest.raises(pn.ConfigError, match="optimizer='source'"):
        pn.fit(_small(), full, steps=4, batch_size=8, key=jax.random.key(0))
    pn.fit(_small(), full, steps=4, batch_size=8, key=jax.random.key(0), optimizer="source")


def test_derivative_loss_on_states_names_the_flag(files):
    states = pn.data.Trajectories.load(files[1])
    with pytest.raises(pn.DataError, match="--loss trajectory"):
        pn.fit(_small(), states, steps=2, loss="derivative", progress=False)


def _train(capsys, *args):
    net = [] if "polynomial" in args else ["--width", "8", "--depth", "1"]
    code = main(["train", "--quiet", *net, *map(str, args)])
    return code, capsys.readouterr()


def test_train_auto_states_only_stores_the_resolved_choice(files, tmp_path, capsys):
    run = tmp_path / "run"
    code, out = _train(capsys, "--data", files[1], "--steps", "3", "--out", run)
    assert code == 0
    said = [line for line in out.err.splitlines() if "loss auto" in line]
    assert len(said) == 1 and "chose trajectory" in said[0] and "no derivatives" in said[0]
    config = json.loads((run / "config.json").read_text())
    assert config["loss"] == "trajectory" and config["preset"] == "fast"
    assert config["auto"]["loss"] == "trajectory" and config["lr"] is None
    stored = RunConfig.from_json(config)  # resolves the same: nothing left to choose
    assert stored.loss == "trajectory" and stored.preset == "fast" and stored.steps == 3
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["loss"] == "trajectory" and metrics["preset"] == "fast"


def test_train_auto_with_derivatives_and_the_source_flags(files, tmp_path, capsys):
    run = tmp_path / "run"
    code, out = _train(capsys, "--data", files[0], "--steps", "3", "--out", run)
    assert code == 0 and "loss auto chose derivative" in out.err
    # --lr: Adam at that rate (the source's optimizer), 3000 steps unless told
    config = RunConfig(lr=1e-3, steps=3).fit_config(pn.training.get_loss("derivative"))
    assert config.optimizer == Adam(1e-3)
    run2 = tmp_path / "src"
    code, out = _train(
        capsys, "--data", files[0], "--preset", "source", "--batch-size", "16", "--steps", "3",
        "--out", run2,
    )  # fmt: skip
    assert code == 0
    assert json.loads((run2 / "config.json").read_text())["preset"] == "source"


def test_train_default_recipe_refuses_minibatches_naming_the_flags(files, tmp_path, capsys):
    code, out = _train(capsys, "--data", files[0], "--batch-size", "8", "--out", tmp_path / "r")
    assert code != 0 and "--preset source" in out.err and "--lr" in out.err
    assert not (tmp_path / "r").exists()


def test_train_auto_small_model_takes_fit_states(files, tmp_path, capsys):
    run = tmp_path / "poly"
    code, out = _train(
        capsys, "--data", files[1], "--approximator", "polynomial", "--degree", "4", "--out", run
    )
    assert code == 0 and "chose fit_states" in out.err
    config = json.loads((run / "config.json").read_text())
    assert config["fit_states"] == {} and config["auto"]["loss"] == "fit-states"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["fit"] == "states"


def test_lnn_ensemble_and_fit_states_keep_working_with_the_defaults(files, tmp_path, capsys):
    code, _ = _train(capsys, "--data", files[0], "--model", "lnn", "--steps", "3",
                     "--out", tmp_path / "lnn")  # fmt: skip
    assert code == 0
    code, _ = _train(capsys, "--data", files[0], "--ensemble", "2", "--steps", "3",
                     "--out", tmp_path / "ens")  # fmt: skip
    assert code == 0
    code, _ = _train(capsys, "--data", files[1], "--fit-states", "--approximator", "polynomial",
                     "--degree", "4", "--out", tmp_path / "fs")  # fmt: skip
    assert code == 0
    _, metrics = train_run(files[0], tmp_path / "api", steps=3, options={"width": 8})
    assert metrics["loss"] == "derivative" and metrics["preset"] == "fast"


@pytest.mark.slow
def test_states_only_hnn_with_the_defaults_alone_meets_the_targets():
    """Issue 27's must-show: physnet train with no flag beyond the data file, 5 seeds."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from bench_defaults_states_only import main as bench

    result = bench([])
    assert result["median"]["derivative_mse_exact"] <= 1e-4
    assert result["median"]["energy_drift_t100"] <= 5e-3
    assert result["max"]["derivative_mse_exact"] <= 1e-3
    assert result["max"]["energy_drift_t100"] <= 2e-2
