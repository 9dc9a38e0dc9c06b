"""INPUTS-STUDY: the step test input is exact inside the integrator, the LNN trains on the
systems' (q, p) arrays because p = q̇ for both, and a small study writes the new columns."""

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest

import physnet as pn
from physnet.reproduce._inputs_study import (
    SYSTEMS,
    InputsStudyConfig,
    make_data,
    step_inputs,
    step_rollout,
    train_and_evaluate,
)
from physnet.signals import Step, Zero


def _reference(system, y0, ts, k, height):
    """The driven system solved piecewise by an adaptive 8th-order solver at tight tolerance:
    u = 0 up to ts[k], then the constant ``height``."""
    kw = dict(solver="dopri8", rtol=1e-12, atol=1e-12)
    before = pn.rollout(system.vector_field, y0, ts[: k + 1], inputs=Zero(), **kw)
    after = pn.rollout(
        system.vector_field, before[:, -1], ts[k:], inputs=Step(height, t_step=-1.0), **kw
    )
    return jnp.concatenate([before, after[:, 1:]], axis=1)


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_the_step_rollout_is_exact_where_a_plain_rollout_of_the_step_is_not(name):
    system = SYSTEMS[name]()
    y0 = jnp.array([[0.5, -0.3], [-1.0, 0.8]])
    ts = jnp.linspace(0.0, 4.0, 41)
    reference = _reference(system, y0, ts, 20, 1.0)
    # RK4 at h = 0.0025: its own truncation error is ~1e-9 here, and nothing else is left
    exact = step_rollout(system.vector_field, y0, ts, 2.0, 1.0, substeps=40)
    assert float(jnp.max(jnp.abs(exact - reference))) < 1e-8
    # RK4 through the Step signal: the last stage of the step that ends at the jump sees u = 1
    # (an error h/6 in p, first order in h, ~4e-4 here)
    plain = pn.rollout(system.vector_field, y0, ts, substeps=40, inputs=Step(1.0, t_step=2.0))
    assert float(jnp.max(jnp.abs(plain - reference))) > 1e-4


def test_the_test_records_under_the_step_are_the_piecewise_solution():
    cfg = InputsStudyConfig(n_train=2, n_test=2, n_points=31)
    system = SYSTEMS["driven-duffing"]()
    train, test, step_states = make_data(system, cfg, 0, 0.0)
    k = int(np.argmin(np.abs(np.asarray(test.ts) - cfg.step_time)))
    reference = _reference(system, test.y0, test.ts, k, cfg.step_height)
    np.testing.assert_allclose(step_states, reference, atol=1e-9)
    u = step_inputs(test.ts, cfg)
    assert u[k - 1, 0] == 0.0 and u[k, 0] == cfg.step_height and u.shape == (31, 1)
    # unit mass: the canonical momentum is the velocity, so the LNN trains on (q, p) as (q, q̇)
    for name in SYSTEMS:
        train, _, _ = make_data(SYSTEMS[name](), cfg, 0, 0.0)
        np.testing.assert_allclose(train.derivatives[..., 0], train.states[..., 1], atol=1e-12)


def test_a_step_time_off_the_sample_grid_is_refused():
    with pytest.raises(pn.ConfigError, match="sample time"):
        step_rollout(Zero(), jnp.zeros((1, 2)), jnp.linspace(0.0, 1.0, 11), 0.55, 1.0, 4)


def test_a_small_study_writes_both_test_inputs_and_the_lnn_readout(tmp_path):
    cfg = dataclasses.replace(
        InputsStudyConfig(), systems=("driven-duffing",), noises=(0.0,), seeds=(0,), steps=5,
        n_train=2, n_test=1, n_points=31,
    )  # fmt: skip
    out = train_and_evaluate(cfg, tmp_path)
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["node", "port-hnn", "lnn"]
    assert all(r["forecast_rmse"] is not None and r["step_rmse"] is not None for r in rows)
    lnn = rows[-1]
    assert {"input_gain", "gamma_hat", "mass_median"} <= set(lnn)
    header = (tmp_path / "table.md").read_text().splitlines()[0]
    assert "under the chirp" in header and "under the step" in header
    assert out["table"].count("| driven-duffing | 0 |") == 3
