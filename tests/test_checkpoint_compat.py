"""Checkpoints written by physnet 0.1 (commit f589013) still load and give the same field."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physnet.models import Ensemble
from physnet.training import load_model

FIXTURES = Path(__file__).parent / "data" / "checkpoints_v0_1"
NAMES = sorted(p.name for p in FIXTURES.iterdir() if (p / "model.json").is_file())


def test_fixture_set_is_complete():
    assert NAMES == sorted(
        [
            "dhnn_friction",
            "dhnn_general",
            "dhnn_none",
            "ensemble_hnn",
            "hnn_kan",
            "hnn_mlp",
            "lnn_mlp",
            "neural_ode_mlp",
        ]
    )


@pytest.mark.parametrize("name", NAMES)
def test_old_checkpoint_reproduces_stored_outputs(name):
    stored = json.loads((FIXTURES / name / "outputs.json").read_text())
    ys = jnp.asarray(stored["states"], dtype=jnp.float64)
    model = load_model(FIXTURES / name)
    if isinstance(model, Ensemble):
        out = model.apply(lambda m: jax.vmap(lambda y: m(0.0, y))(ys))
    else:
        out = jax.vmap(lambda y: model(0.0, y))(ys)
    np.testing.assert_allclose(np.asarray(out), np.asarray(stored["outputs"]), rtol=0, atol=1e-12)


def test_old_friction_checkpoint_keeps_gamma():
    model = load_model(FIXTURES / "dhnn_friction")
    assert model.form == "friction"
    np.testing.assert_allclose(float(model.gamma), 0.3, rtol=1e-12)
    assert load_model(FIXTURES / "dhnn_none").form == "none"
    assert load_model(FIXTURES / "dhnn_general").form == "general"
