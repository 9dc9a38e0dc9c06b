"""One registry per family: names declared by the classes, CLI choices generated from them,
builder defaults equal to class defaults (or documented presets), and every registered system
through simulate -> train -> evaluate."""

import inspect
import json
from typing import Any

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

import physnet as pn
from physnet._build import PRESETS, build_model, model_options
from physnet.approximators import APPROXIMATORS
from physnet.cli import build_parser, main
from physnet.integrators import STEPPERS
from physnet.models import MODELS, AbstractEnergyModel
from physnet.systems import SYSTEMS, system_class, system_from_metadata
from physnet.training import LOSSES


def _choices(parser, command, flag):
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return next(a for a in sub._actions if flag in a.option_strings).choices


def test_cli_choices_come_from_the_registries():
    parser = build_parser()
    assert list(_choices(parser, "simulate", "--system")) == list(SYSTEMS)
    assert list(_choices(parser, "train", "--model")) == ["auto", *MODELS]
    assert list(_choices(parser, "train", "--approximator")) == list(APPROXIMATORS)
    assert list(_choices(parser, "train", "--loss")) == ["auto", *LOSSES]  # auto: issue 27
    assert set(STEPPERS) <= set(_choices(parser, "evaluate", "--solver"))
    # every system parameter is a simulate flag
    sub = next(a for a in parser._actions if a.dest == "command").choices["simulate"]
    flags = {s for a in sub._actions for s in a.option_strings}
    for cls in SYSTEMS.values():
        for param in cls.parameter_defaults():
            assert "--" + param.replace("_", "-") in flags


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_system_names_round_trip_through_data_metadata(name):
    cls = SYSTEMS[name]
    assert cls.name == name and system_class(name) is cls
    system = cls()
    data = pn.data.generate(system, 2, 1.0, 5, key=jax.random.key(0))
    assert data.metadata["system"] == name
    assert system_from_metadata(data.metadata) == system


def test_legacy_system_name_of_version_0_1_still_resolves():
    system = system_from_metadata({"system": "harmonicoscillator", "parameters": {"omega": 2.0}})
    assert system == pn.systems.HarmonicOscillator(omega=2.0)
    with pytest.raises(pn.DataError, match="no known system"):
        system_from_metadata({"system": "nosuch", "parameters": {}})
    with pytest.raises(pn.DataError, match="do not belong"):
        system_from_metadata({"system": "duffing", "parameters": {"omega": 1.0}})


@pytest.mark.parametrize("kind", list(MODELS))
def test_builder_defaults_equal_class_defaults_or_documented_presets(kind):
    cls = MODELS[kind]
    assert cls.name == kind
    init = inspect.signature(cls.__init__).parameters
    build = inspect.signature(cls.build).parameters
    presets = PRESETS.get(kind, {}).get("model", {})
    for name in model_options(kind):
        if name in init and name not in presets:
            assert build[name].default == init[name].default, (kind, name)
    # presets are applied only where the caller leaves the option unset
    for name, value in presets.items():
        model = build_model(kind, 2, "mlp", seed=0, width=4, depth=1)
        assert getattr(model, name) == value
        other = 0.5 if value != 0.5 else 0.25
        assert (
            getattr(build_model(kind, 2, "mlp", width=4, depth=1, **{name: other}), name) == other
        )


def test_unknown_names_and_options_are_config_errors():
    with pytest.raises(pn.ConfigError, match="unknown model 'nosuch'; choose one of node"):
        build_model("nosuch", 2, "mlp")
    with pytest.raises(pn.ConfigError, match="unknown approximator 'nosuch'"):
        build_model("hnn", 2, "nosuch")
    with pytest.raises(pn.ConfigError, match="unexpected keyword argument 'colour'"):
        build_model("hnn", 2, "mlp", colour=3)
    with pytest.raises(pn.ConfigError, match="soft_exponential by definition"):
        build_model("hnn", 2, "softexp", activation="tanh")


class _Quadratic(AbstractEnergyModel):
    """A test model written as a user would add one: H = ½ yᵀ diag(exp(s)) y + approximator."""

    name = "quadratic-test"

    def __init__(self, correction, *, scale: float = 1.0):
        self.correction = correction
        self.state_size = correction.in_features
        self.scale = float(scale)
        self.log_k = nnx.Param(jnp.zeros(self.state_size))

    def energy(self, y):
        return 0.5 * self.scale * jnp.sum(jnp.exp(self.log_k[...]) * y**2) + self.correction(y)[0]

    def __call__(self, t, y, args=None):
        return pn.models.symplectic_gradient(self.energy, y)

    def config(self) -> dict[str, Any]:
        return {"scale": self.scale}

    def submodules(self):
        return {"correction": self.correction}

    @classmethod
    def build(cls, state_size, approximator, *, scale: float = 1.0):
        return cls(approximator(state_size, 1), scale=scale)


def test_a_new_model_is_one_class_plus_one_registry_line(tmp_path, monkeypatch):
    monkeypatch.setitem(MODELS, _Quadratic.name, _Quadratic)  # the one registry line
    data = tmp_path / "h.npz"
    assert (
        main(
            [
                "simulate",
                "--system",
                "harmonic",
                "--n-trajectories",
                "6",
                "--n-points",
                "10",
                "--t1",
                "2",
                "--out",
                str(data),
            ]
        )
        == 0
    )
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--model",
                "quadratic-test",
                "--width",
                "4",
                "--steps",
                "20",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert main(["evaluate", "--run", str(run), "--t1", "2"]) == 0
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert metrics["learned_energy_drift"] < 1e-6  # an energy model: H conserved by RK4
    loaded = pn.load_model(run / "checkpoint")
    assert isinstance(loaded, _Quadratic)


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_simulate_train_evaluate_for_every_registered_system(tmp_path, system):
    data = tmp_path / "data.npz"
    assert (
        main(
            [
                "simulate",
                "--system",
                system,
                "--n-trajectories",
                "6",
                "--n-points",
                "10",
                "--t1",
                "2",
                "--seed",
                "3",
                "--out",
                str(data),
            ]
        )
        == 0
    )
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--width",
                "4",
                "--depth",
                "1",
                "--steps",
                "20",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert main(["evaluate", "--run", str(run), "--t1", "2"]) == 0
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert metrics["n_initial_conditions"] == 1  # the stored split: round(0.2 * 6) test
    assert jnp.isfinite(metrics["energy_drift"]) and jnp.isfinite(metrics["rollout_rmse"])
