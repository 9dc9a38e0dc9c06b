"""Adding a model, a system and a loss is one new module plus one registry line each: a module
of this test defines all three, one line per registry adds them (here as monkeypatch.setitem on
the registries' dicts), and the CLI drives them, their options as generated flags, through
simulate -> train -> evaluate."""

import json
import sys
import textwrap

import pytest

from physnet.cli import build_parser, main
from physnet.models import MODELS
from physnet.systems import SYSTEMS
from physnet.training import LOSSES

MODULE = '''
import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

import physnet as pn
from physnet.training import AbstractLoss, option, sample_times


class Spring(pn.systems.AbstractSystem):
    """q' = p, p' = -k q."""

    name = "ext-spring"
    dof = 1

    def __init__(self, stiffness: float = 2.0):
        self.stiffness = float(stiffness)

    def parameters(self):
        return {"stiffness": self.stiffness}

    def vector_field(self, t, y, args=None):
        return jnp.stack([y[1], -self.stiffness * y[0]])

    def energy(self, y):
        return 0.5 * y[1] ** 2 + 0.5 * self.stiffness * y[0] ** 2


class ScaledODE(pn.models.AbstractVectorField):
    """dy/dt = scale * f(y)."""

    name = "ext-scaled"

    def __init__(self, field, scale: float = 1.0):
        self.field = field
        self.scale = float(scale)
        self.state_size = field.in_features

    def __call__(self, t, y, args=None):
        return self.scale * self.field(y)

    def config(self):
        return {"scale": self.scale}

    def submodules(self):
        return {"field": self.field}

    @classmethod
    def build(cls, state_size, approximator, *, scale: float = 1.0):
        return cls(approximator(state_size, state_size), scale=scale)


@dataclasses.dataclass(frozen=True)
class WeightedDerivativeLoss(AbstractLoss):
    """Derivative matching with the velocity component weighted by ``weight``."""

    name: ClassVar[str] = "ext-weighted"
    weight: float = option(1.0, "weight of the second state component")

    def prepare(self, data, *, clean=False):
        y, dy = data.flat(clean=clean)
        return {"t": data.flat_times(), "y": y, "dy": dy}

    def __call__(self, model, batch):
        pred = jax.vmap(lambda t, y: model(t, y))(sample_times(batch), batch["y"])
        w = jnp.array([1.0, self.weight])
        return jnp.mean(w[None, :] * (pred - batch["dy"]) ** 2)
'''


@pytest.fixture
def extension(tmp_path, monkeypatch):
    (tmp_path / "physnet_ext_mod.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    import physnet_ext_mod as mod

    # the one registry line each
    monkeypatch.setitem(SYSTEMS, mod.Spring.name, mod.Spring)
    monkeypatch.setitem(MODELS, mod.ScaledODE.name, mod.ScaledODE)
    monkeypatch.setitem(LOSSES, mod.WeightedDerivativeLoss.name, mod.WeightedDerivativeLoss)
    yield mod
    sys.modules.pop("physnet_ext_mod", None)


def test_a_new_system_model_and_loss_run_through_the_cli_with_their_flags(
    extension, tmp_path, capsys
):
    parser = build_parser()
    text = parser.format_help() + "".join(
        a.choices[c].format_help()
        for a in parser._actions
        if a.dest == "command"
        for c in ("simulate", "train")
    )
    # generated from the class, the build signature and the field; the model's option
    # "scale" is --model-scale, as the run has a --scale of its own
    for flag in ("--stiffness", "--model-scale", "--weight"):
        assert flag in text
    data, run = tmp_path / "d.npz", tmp_path / "run"
    args = ["simulate", "--system", "ext-spring", "--stiffness", "3", "--n-trajectories", "10",
            "--t1", "2", "--n-points", "20", "--out", data]  # fmt: skip
    assert main(list(map(str, args))) == 0
    args = ["train", "--data", data, "--model", "ext-scaled", "--model-scale", "2",
            "--loss", "ext-weighted", "--weight", "4", "--width", "8", "--steps", "300",
            "--preset", "fast", "--quiet", "--out", run]  # fmt: skip
    assert main(list(map(str, args))) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["options"] == {"width": 8, "scale": 2.0}
    assert config["loss"] == "ext-weighted" and config["loss_options"] == {"weight": 4.0}
    assert config["provenance"]["system"] == "ext-spring"
    model = extension.ScaledODE  # the trained model is the new class, with its option
    import physnet as pn

    trained = pn.load_model(run / "checkpoint")
    assert isinstance(trained, model) and trained.scale == 2.0
    assert main(["evaluate", "--run", str(run), "--t1", "5"]) == 0
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    # the learned field follows the true spring: small derivative error, close rollouts
    assert json.loads((run / "metrics.json").read_text())["test_mse"] < 1e-3
    assert metrics["rollout_rmse"] < 0.1  # states of order 1, over t = 5 (measured: 0.019)
    capsys.readouterr()
