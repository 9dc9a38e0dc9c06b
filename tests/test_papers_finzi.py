"""FINZI-CHAINS: the protocol's metric and a smoke run of its quick version."""

import jax.numpy as jnp
import numpy as np
import pytest

from physnet.reproduce import EXPERIMENTS
from physnet.reproduce._papers_finzi import relative_errors


def test_relative_error_is_the_geometric_mean_over_frames_after_the_first():
    true = jnp.ones((1, 3, 2))
    # frame errors |ẑ - z| / (|ẑ| + |z|): frame 0 ignored, then a and b -> sqrt(a b)
    pred = true.at[0, 1].multiply(3.0).at[0, 2].multiply(1.5)
    a, b = 2 / 4, 0.5 / 2.5
    np.testing.assert_allclose(relative_errors(pred, true), [np.sqrt(a * b)], rtol=1e-14)


@pytest.mark.slow  # about 4 minutes on 2 loaded cores, most of it compilation
def test_quick_version_runs_every_model(tmp_path):
    exp = EXPERIMENTS["FINZI-CHAINS"]
    metrics = exp.train_and_evaluate(exp.quick_config, tmp_path, False)
    for name in exp.quick_config.models:
        assert np.isfinite(metrics[f"{name}_error"])
    assert 1e-6 < metrics["floor_error"] < 1e-3
    assert metrics["chnn_constraint_drift"] < 1e-6
