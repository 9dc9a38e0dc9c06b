"""The forkable experiment folders (experiments/<e#>/) and the "physnet best" settings."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from physnet.reproduce import EXPERIMENTS, format_table, reproduce, write_report

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"E1": "e1", "E2": "e2", "E3": "e3", "E4": "e4", "E5": "e5", "E6": "e6"}


def _load_config(folder: str):
    spec = importlib.util.spec_from_file_location(
        f"config_{folder}", ROOT / "experiments" / folder / "config.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_folder_configs_are_the_registered_ones(name):
    """The config as code in experiments/<e#>/ states the same settings that
    ``physnet reproduce`` runs, for the source and for physnet best."""
    module = _load_config(FOLDERS[name])
    assert module.get_config() == EXPERIMENTS[name].config
    assert module.get_best_config() == EXPERIMENTS[name].best_config
    assert (ROOT / "experiments" / FOLDERS[name] / "README.md").is_file()


def test_source_settings_match_the_spec():
    e1 = EXPERIMENTS["E1"].config
    assert (e1.width, e1.depth, e1.steps, e1.learning_rate) == (32, 2, 3000, 1e-3)
    assert (e1.data.n_trajectories, e1.data.n_points, e1.data.t1) == (100, 50, 5.0)
    assert (
        EXPERIMENTS["E4"].config.data.noise == 0.05 and EXPERIMENTS["E4"].config.data.gamma == 0.1
    )


def test_best_column_in_quick_run(tmp_path):
    results = reproduce(["E3"], tmp_path, quick=True, best=True, echo=lambda s: None)
    metrics = json.loads((tmp_path / "E3" / "metrics.json").read_text())
    best = metrics["physnet_best"]
    assert best["steps"] == EXPERIMENTS["E3"].quick_config.steps  # shrunk like the source's
    assert best["config"]["schedule"] == "warmup-cosine"
    assert np.isfinite(best["test_mse"]) and best["gamma_hat"] >= 0
    header, *rows = format_table(results).splitlines()
    assert "physnet best" in header
    gamma_row = next(r for r in rows if " gamma_hat " in r)
    assert f"{best['gamma_hat']:.3g}" in gamma_row
    page = write_report(tmp_path, tmp_path / "page", command="physnet reproduce --quick")
    text = page.read_text()
    assert "| E3 | gamma_hat |" in text and "quick settings" in text
    for fig in EXPERIMENTS["E3"].figures:
        assert f"](figures/{fig})" in text and (tmp_path / "page" / "figures" / fig).is_file()


def test_report_needs_a_run(tmp_path):
    with pytest.raises(ValueError, match="summary.json"):
        write_report(tmp_path, tmp_path / "page")
    assert not (tmp_path / "page").exists()


def test_experiment_main_runs_a_folder(tmp_path):
    out = tmp_path / "e3"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments/e3/main.py"), "--quick", "--workdir", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "gamma_hat" in proc.stdout
    assert {p.name for p in out.iterdir()} >= {"metrics.json", *EXPERIMENTS["E3"].figures}
