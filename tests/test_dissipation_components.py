"""Dissipation as a component: Friction, LearnedDissipation, NoDissipation, custom ones."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn
from physnet.models import (
    AbstractDissipation,
    DissipativeHNN,
    Friction,
    LearnedDissipation,
    NoDissipation,
)


def field(model, ys):
    return jax.vmap(lambda y: model(0.0, y))(ys)


YS = 1.5 * jax.random.normal(jax.random.key(3), (16, 2))


def test_components_equal_the_string_forms_bitwise():
    def h():
        return pn.MLP(2, 1, width=8, rngs=nnx.Rngs(0))

    def a():
        return pn.MLP(2, 4, width=8, rngs=nnx.Rngs(1))

    pairs = [
        (DissipativeHNN(h(), gamma_init=0.2), DissipativeHNN(h(), Friction(0.2))),
        (DissipativeHNN(h(), "none"), DissipativeHNN(h(), NoDissipation())),
        (DissipativeHNN(h(), a()), DissipativeHNN(h(), LearnedDissipation(a()))),
    ]
    for legacy, component in pairs:
        assert type(legacy.dissipation) is type(component.dissipation)
        assert legacy.form == component.form
        np.testing.assert_array_equal(field(legacy, YS), field(component, YS))
    assert DissipativeHNN(h()).form == "friction"
    assert isinstance(DissipativeHNN(h()).dissipation, Friction)


def test_friction_component_reads_gamma_and_form_is_read_only():
    model = DissipativeHNN(pn.MLP(2, 1, rngs=nnx.Rngs(0)), Friction(gamma_init=0.4))
    np.testing.assert_allclose(float(model.gamma), 0.4, rtol=1e-14)
    np.testing.assert_allclose(float(model.dissipation.gamma), 0.4, rtol=1e-14)
    assert model.gamma_init == 0.4 and model.raw_gamma is model.dissipation.raw_gamma
    with pytest.raises(AttributeError):
        model.form = "general"


def test_component_errors():
    h = pn.MLP(2, 1, rngs=nnx.Rngs(0))
    with pytest.raises(pn.ConfigError, match="Friction\\(gamma_init"):
        DissipativeHNN(h, Friction(), gamma_init=0.3)
    with pytest.raises(pn.ConfigError, match="gamma_init"):
        Friction(gamma_init=-1.0)
    with pytest.raises(pn.ConfigError, match="multiple of 2"):
        DissipativeHNN(h, LearnedDissipation(pn.MLP(2, 3, rngs=nnx.Rngs(0))))
    with pytest.raises(pn.ConfigError, match="approximator"):
        LearnedDissipation("general")


class Quadratic(AbstractDissipation):
    """A user-defined component: D = -c I with c = softplus(raw), also on positions."""

    def __init__(self, c_init: float = 0.5):
        self.c_init = c_init
        self.raw = nnx.Param(jnp.log(jnp.expm1(jnp.asarray(c_init))))

    def __call__(self, y, grad_h):
        return -jax.nn.softplus(self.raw[...]) * grad_h

    def matrix(self, y):
        return -jax.nn.softplus(self.raw[...]) * jnp.eye(y.shape[-1])

    def config(self):
        return {"c_init": self.c_init}


def test_custom_component_dissipates_and_round_trips(tmp_path):
    model = DissipativeHNN(pn.MLP(2, 1, width=8, rngs=nnx.Rngs(2)), Quadratic(0.5))
    assert model.form == "custom"
    with pytest.raises(pn.ConfigError, match="friction form only"):
        _ = model.gamma

    def rate(y):
        g = jax.grad(model.energy)(y)
        return jnp.dot(g, model(0.0, y)), jnp.dot(g, g)

    rates, g2 = jax.vmap(rate)(YS)
    np.testing.assert_allclose(rates, -0.5 * g2, rtol=1e-12)
    pn.save_model(model, tmp_path / "m")
    loaded = pn.load_model(tmp_path / "m")
    assert isinstance(loaded.dissipation, Quadratic)
    np.testing.assert_array_equal(field(loaded, YS), field(model, YS))


@pytest.mark.parametrize(
    "dissipation, cls",
    [("friction", "Friction"), ("none", "NoDissipation"), ("general", "LearnedDissipation")],
)
def test_new_checkpoints_store_the_component(tmp_path, dissipation, cls):
    h = pn.MLP(2, 1, width=4, rngs=nnx.Rngs(0))
    if dissipation == "general":
        dissipation = pn.MLP(2, 2, width=4, rngs=nnx.Rngs(1))
    model = DissipativeHNN(h, dissipation, gamma_init=0.25)
    pn.save_model(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["format_version"] == 2 and meta["model"]["config"] == {}
    assert meta["model"]["submodules"]["dissipation"]["class"] == cls
    loaded = pn.load_model(tmp_path / "m")
    assert type(loaded.dissipation).__name__ == cls
    np.testing.assert_array_equal(field(loaded, YS), field(model, YS))


def test_newer_format_is_refused_with_one_clear_line(tmp_path):
    model = DissipativeHNN(pn.MLP(2, 1, width=4, rngs=nnx.Rngs(0)))
    pn.save_model(model, tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    meta = json.loads(path.read_text())
    meta["format_version"] = 99
    path.write_text(json.dumps(meta))
    with pytest.raises(pn.DataError, match="format_version 99 is newer"):
        pn.load_model(tmp_path / "m")
