"""The run schema: RunConfig is config.json (nested, each option once), resume reads it back
with from_json, and a run written by the earlier layout (every option also at the top level)
still evaluates and resumes to the same result."""

import json

import jax
import numpy as np
import pytest

import physnet as pn
from physnet.runs import RunConfig, evaluate_run, resume_run, train_run
from physnet.training import Adam, FitConfig


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "duffing.npz"
    data = pn.data.generate(pn.systems.Duffing(), 8, 2.0, 12, key=jax.random.key(3))
    return data.save(path)


def _legacy(config: dict) -> dict:
    """config.json as physnet 92241ae wrote it: the model and loss options both nested and
    repeated at the top level."""
    flat = {"model": config["model"], "approximator": config["approximator"]}
    flat |= config["options"] | {"options": config["options"], "loss": config["loss"]}
    flat |= config["loss_options"] | {"loss_options": config["loss_options"]}
    return flat | {k: v for k, v in config.items() if k not in flat}


def test_config_json_is_the_run_config_and_round_trips(data_file, tmp_path):
    config = RunConfig(model="dhnn", options={"width": 6}, loss="trajectory",
                       loss_options={"window": 3}, steps=6, seed=2)  # fmt: skip
    run, _ = train_run(data_file, tmp_path / "run", config)
    stored = json.loads((run / "config.json").read_text())
    assert "width" not in stored and "window" not in stored  # each option once, nested
    assert stored["preset"] == "fast"  # the default recipe, stored resolved (issue 27)
    assert RunConfig.from_json(stored) == config.replace(
        split=stored["split"], preset="fast", scale="none"
    )
    assert RunConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    with pytest.raises(pn.ConfigError, match="unknown run option"):
        RunConfig.from_json(stored | {"widht": 6})


def test_a_run_of_the_earlier_layout_evaluates_and_resumes_to_the_same_result(data_file, tmp_path):
    # Adam at lr (what every run of the earlier layout trained with): a schedule that does not
    # depend on the step count, so stopping at 4 of 8 steps is an interruption
    options = dict(options={"width": 6}, loss="trajectory", loss_options={"window": 3}, lr=1e-3)
    reference, _ = train_run(data_file, tmp_path / "ref", steps=8, **options)
    run, _ = train_run(data_file, tmp_path / "old", steps=4, **options)
    stored = json.loads((run / "config.json").read_text())
    legacy = _legacy(stored) | {"status": "training"}  # as if interrupted at step 4
    (run / "config.json").write_text(json.dumps(legacy))
    assert legacy["width"] == 6 and legacy["window"] == 3
    resume_run(run, steps=8)
    a = pn.load_model(reference / "checkpoint")
    b = pn.load_model(run / "checkpoint")
    from flax import nnx

    for x, y in zip(jax.tree.leaves(nnx.state(a)), jax.tree.leaves(nnx.state(b)), strict=True):
        np.testing.assert_array_equal(x, y)  # the uninterrupted run's parameters, to the bit
    _, metrics = evaluate_run(run, t1=1.0)
    assert np.isfinite(metrics["rollout_rmse"])


def test_fit_config_round_trips_and_refuses_what_json_cannot_hold():
    cfg = FitConfig(steps=50, loss=pn.TrajectoryLoss(3, solver="tsit5"), optimizer="fast")
    assert FitConfig.from_json(json.loads(json.dumps(cfg.to_json()))) == cfg
    assert FitConfig(10, optimizer=Adam(1e-2, "warmup-cosine")).resolved_optimizer() == Adam(
        1e-2, "warmup-cosine", decay_steps=10
    )
    import optax

    with pytest.raises(pn.ConfigError, match="cannot be stored"):
        FitConfig(10, optimizer=optax.sgd(1e-2)).to_json()
    with pytest.raises(pn.ConfigError, match="hooks"):
        FitConfig(10, hooks=[lambda s, m, h: None]).to_json()
    with pytest.raises(pn.ConfigError, match="steps"):
        FitConfig(-1)
    with pytest.raises(pn.ConfigError, match="unknown option"):
        pn.training.loss_from_json({"name": "trajectory", "windw": 3})
