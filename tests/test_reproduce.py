import json

import numpy as np
import pytest

from physnet._io import MARKER
from physnet.reproduce import EXPERIMENTS, format_table, parse_experiments, reproduce
from physnet.reproduce._common import aggregate_seeds


def test_parse_experiments():
    assert parse_experiments("all") == ["E1", "E2", "E3", "E4", "E5", "E6"]
    assert parse_experiments("E5-MLP") == ["E5-MLP"] and set(EXPERIMENTS) > {"E5-MLP"}
    assert parse_experiments("e1, E2") == ["E1", "E2"]
    with pytest.raises(ValueError, match="E7"):
        parse_experiments("E7")


def test_aggregate_seeds_median_and_spread():
    runs = [
        {"test_mse": v, "model": "hnn", "neural_ode": {"test_mse": 10 * v}} for v in (3.0, 1.0, 2.0)
    ]
    m = aggregate_seeds(runs)
    assert m["test_mse"] == 2.0 and m["spread"]["test_mse"] == [1.0, 3.0]
    assert m["neural_ode"]["test_mse"] == 20.0 and m["model"] == "hnn" and m["n_seeds"] == 3


def test_reproduce_quick_writes_all_experiments_and_figures(tmp_path):
    """`physnet reproduce --quick` (the CI smoke run): six folders, metrics, Figures 1-14."""
    results = reproduce("all", tmp_path, quick=True, echo=lambda s: None)
    assert sorted(results) == ["E1", "E2", "E3", "E4", "E5", "E6"]
    for name in results:
        assert (tmp_path / name / "metrics.json").is_file()
    pngs = {p.name for p in tmp_path.glob("E*/fig*.png")}
    assert {name[:5] for name in pngs} >= {f"fig{i:02d}" for i in range(1, 15)}
    assert json.loads((tmp_path / "E6" / "metrics.json").read_text())["coefficient_error"] < 1e-6
    folder = tmp_path / "E1"
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in (
        "train_mse",
        "test_mse",
        "test_mse_clean",
        "rollout_rmse",
        "energy_drift",
        "train_seconds",
        "steps",
    ):
        assert np.isfinite(metrics[key]), key
    assert metrics["source"]["test_mse"] == 0.00092
    for fig in EXPERIMENTS["E1"].figures:
        assert (folder / fig).stat().st_size > 10_000
    assert "E1" in format_table(results) and "0.00092" in format_table(results)
    hidden = [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != MARKER]
    assert not hidden  # no temp leftovers (the physnet output marker is not one)
