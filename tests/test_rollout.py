import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn


def test_rollout_solvers_agree_on_known_system():
    system = pn.systems.HarmonicOscillator(1.0)
    ts = jnp.linspace(0, 10, 101)
    y0 = jnp.array([[1.0, 0.0], [0.0, 0.5]])
    exact = jax.vmap(lambda y: system.solution(y, ts))(y0)
    for solver, kw, tol in (
        ("rk4", {"substeps": 10}, 1e-8),
        ("tsit5", {}, 1e-7),
        ("dopri8", {}, 1e-7),
        ("implicit-midpoint", {"substeps": 50}, 1e-3),
        ("leapfrog", {"substeps": 50}, 1e-3),
    ):
        ys = pn.rollout(system.vector_field, y0, ts, solver=solver, **kw)
        assert ys.shape == (2, 101, 2)
        assert float(jnp.max(jnp.abs(ys - exact))) < tol, solver


def test_rollout_of_model_single_and_batched():
    model = pn.HNN(pn.MLP(2, 1, width=8, rngs=nnx.Rngs(0)))
    ts = jnp.linspace(0, 1, 11)
    single = pn.rollout(model, jnp.array([0.1, 0.2]), ts)
    batch = pn.rollout(model, jnp.array([[0.1, 0.2], [0.3, 0.4]]), ts)
    assert single.shape == (11, 2) and batch.shape == (2, 11, 2)
    np.testing.assert_allclose(single, batch[0], rtol=1e-14)
    with pytest.raises(pn.ConfigError, match="unknown solver"):
        pn.rollout(model, jnp.zeros(2), ts, solver="euler-maruyama")


def test_energy_drift_definition():
    energy = lambda y: y[0] ** 2 + y[1] ** 2  # noqa: E731
    ys = jnp.array([[[1.0, 0.0], [1.1, 0.0], [0.9, 0.0]]])
    err = pn.energy_error(energy, ys)
    np.testing.assert_allclose(err, [[0.0, 0.21, 0.19]], rtol=1e-12)
    np.testing.assert_allclose(pn.energy_drift(energy, ys), [0.21], rtol=1e-12)
    assert float(pn.trajectory_rmse(ys, ys)) == 0.0


def test_rollout_without_throw_marks_only_the_failed_states():
    """ẏ = y² blows up at t = 1/y0: from y0 = 1 an adaptive solve to t = 2 exhausts its step
    budget; from y0 = -1 it is y = -1/(1 + t). With ``throw=False`` the failed state is inf
    and the other exact, so a batch can count its blow-ups; the default raises."""
    field = lambda t, y, args=None: y**2  # noqa: E731
    ts = jnp.linspace(0.0, 2.0, 5)
    y0 = jnp.array([[1.0], [-1.0]])
    ys = pn.rollout(field, y0, ts, solver="dopri8", max_steps=2000, throw=False)
    assert not np.any(np.isfinite(ys[0, 1:]))
    np.testing.assert_allclose(ys[1, :, 0], -1.0 / (1.0 + ts), rtol=1e-8)
    with pytest.raises(Exception, match="max_steps|maximum number of solver steps"):
        pn.rollout(field, y0, ts, solver="dopri8", max_steps=2000)
