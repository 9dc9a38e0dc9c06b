"""The forkable experiment folders (experiments/<e#>/) and the "physnet best" settings."""

import dataclasses
import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from physnet import ConfigError
from physnet._io import write_json
from physnet.reproduce import (
    EXPERIMENTS,
    _run,
    experiment_main,
    format_table,
    get_experiment,
    reproduce,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"E1": "e1", "E2": "e2", "E3": "e3", "E4": "e4", "E5": "e5", "E6": "e6"}


def _run_folder_main(folder: str, argv: list[str], monkeypatch, script: str = "main.py") -> dict:
    """Run ``experiments/<folder>/<script>`` as a script with ``argv``, the training replaced
    by a recorder of what ``run_experiment`` was asked to run."""
    calls = []

    def record(name, workdir, **kwargs):
        calls.append({"name": name, "workdir": workdir, **kwargs})
        return {}

    monkeypatch.setattr(_run, "run_experiment", record)
    main = ROOT / "experiments" / folder / script
    monkeypatch.setattr(sys, "argv", [str(main), *argv])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(main), run_name="__main__")
    assert exit_.value.code == 0
    assert len(calls) == 1
    return calls[0]


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_folder_runs_the_registered_settings(name, tmp_path, monkeypatch):
    """experiments/<e#>/main.py runs the registry's settings (the single source), for the
    source, for physnet best and on the quick setting."""
    exp = EXPERIMENTS[name]
    call = _run_folder_main(FOLDERS[name], ["--workdir", str(tmp_path), "--best"], monkeypatch)
    assert call["name"] == name and call["workdir"] == str(tmp_path)
    assert call["config"] == exp.config and call["best_config"] == exp.best_config
    assert call["best"] and not call["quick"] and call["seeds"] is None
    call = _run_folder_main(FOLDERS[name], ["--quick", "--seeds", "3"], monkeypatch)
    assert call["config"] == exp.quick_config and call["quick"] and call["seeds"] == (3,)
    assert (ROOT / "experiments" / FOLDERS[name] / "README.md").is_file()


def test_experiment_scripts_do_not_touch_sys_path():
    """The folders import physnet as installed; no ``sys.path`` manipulation, no local config
    module shadowing the registry."""
    scripts = sorted((ROOT / "experiments").rglob("*.py"))
    assert scripts
    for script in scripts:
        assert "sys.path" not in script.read_text(), script
    assert not list((ROOT / "experiments").glob("e*/config.py"))


def test_forked_settings_reach_the_run(tmp_path, monkeypatch):
    """A fork passes ``dataclasses.replace`` of the registered config; it is run as given, and
    ``--quick`` shrinks the fork (not the registered settings)."""
    calls = []
    monkeypatch.setattr(_run, "run_experiment", lambda *a, **k: calls.append(k) or {})
    exp = get_experiment("e3")
    fork = dataclasses.replace(exp.config, gamma_init=0.05, steps=123)
    assert experiment_main("E3", fork, argv=["--workdir", str(tmp_path)]) == 0
    assert calls[-1]["config"] == fork and calls[-1]["best_config"] == exp.best_config
    assert experiment_main("E3", fork, argv=["--quick"]) == 0
    quick = calls[-1]["config"]
    assert quick == exp.quick_version(fork) and quick.gamma_init == 0.05
    assert quick.steps == exp.quick_config.steps


def test_print_config_and_unknown_name(capsys):
    assert experiment_main("E6", argv=["--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = json.loads(json.dumps(dataclasses.asdict(EXPERIMENTS["E6"].config)))
    assert printed == {"config": expected, "best_config": None}
    assert get_experiment("e1") is EXPERIMENTS["E1"]
    with pytest.raises(ConfigError, match="E7.*E1"):
        get_experiment("E7")


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
    # a NaN in the run (E5's median of a gauge term no seed has) is written as null with a
    # top-level "non_finite" note in summary.json; the page still builds and names it
    summary = json.loads((tmp_path / "summary.json").read_text())
    summary["E3"]["gamma_hat"] = float("nan")
    write_json(tmp_path / "summary.json", summary)
    assert "non_finite" in json.loads((tmp_path / "summary.json").read_text())
    text = write_report(tmp_path, tmp_path / "page2").read_text()
    assert "| E3 | train_mse |" in text and "E3.gamma_hat (nan)" in text


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


# ------------------------------------------------------------- every folder is registered
STUDY_SCRIPTS = {
    "TRAJECTORY-STUDY": "trajectory_study/run.py",
    "SINDY-COMPARISON": "sindy_comparison/run.py",
    "NOISY-STATES": "noisy_states/main.py",
    "NTK": "ntk/run.py",
    "STRUCTURES": "structures/main.py",
    "KAN-VS-MLP": "kan_vs_mlp/main.py",
    "DYSTS": "dysts/run.py",
    "INPUTS-STUDY": "inputs_study/run.py",
    "CONTROL": "control/run.py",
    "CONTROL-CART-POLE": "control/cart_pole.py",
}


def _folders() -> list[Path]:
    return sorted(
        p for p in (ROOT / "experiments").iterdir() if p.is_dir() and p.name[0] not in "._"
    )


def test_every_experiment_folder_is_registered():
    """Each experiments/<folder> is the registered experiment of its name (a new folder
    without a registration fails here) and runs by ``--experiments <folder>``; its scripts
    are thin entry points (the settings live in the registry)."""
    from physnet.reproduce import parse_experiments

    folders = _folders()
    assert len(folders) >= 16
    for folder in folders:
        key = folder.name.upper().replace("_", "-")
        assert key in EXPERIMENTS, f"experiments/{folder.name} is not a registered experiment"
        assert parse_experiments(folder.name) == [key]
        assert (folder / "README.md").is_file()
        scripts = sorted(folder.glob("*.py"))
        assert scripts, folder
        for script in scripts:
            lines = script.read_text().splitlines()
            assert len(lines) <= 40, f"{script} is more than a thin entry point"
            assert "experiment_main(" in script.read_text() or "get_experiment(" in (
                script.read_text()
            ), script


def test_studies_run_only_when_named():
    from physnet.reproduce import parse_experiments
    from physnet.reproduce._run import STUDIES

    assert set(STUDIES) == set(STUDY_SCRIPTS) | {"E1-STATES-ONLY", "DYSTS-ALL"}
    assert parse_experiments("all") == ["E1", "E2", "E3", "E4", "E5", "E6"]
    assert parse_experiments(None) == parse_experiments("all")
    assert parse_experiments("kan_vs_mlp,NTK,e1-states-only") == [
        "KAN-VS-MLP",
        "NTK",
        "E1-STATES-ONLY",
    ]
    for name in STUDIES:
        exp = EXPERIMENTS[name]
        assert exp.own_seeds and exp.best_config is None
        assert exp.quick_version(exp.config) == exp.quick_config
        assert exp.quick_config != exp.config
        assert exp.missing_peers(exp.quick_config) == [] or name in (
            "SINDY-COMPARISON",
            "DYSTS",
            "DYSTS-ALL",
        )


@pytest.mark.parametrize("name", sorted(STUDY_SCRIPTS))
def test_study_scripts_run_the_registered_settings(name, tmp_path, monkeypatch):
    """experiments/<study>/<script> runs the registered config (one place); ``--quick``
    shrinks it, ``--seeds`` replaces its seed list, ``--set`` one field."""
    folder, script = STUDY_SCRIPTS[name].split("/")
    exp = EXPERIMENTS[name]
    call = _run_folder_main(folder, ["--out", str(tmp_path)], monkeypatch, script)
    assert call["name"] == name and call["workdir"] == str(tmp_path)
    assert call["config"] == exp.config and not call["quick"] and call["seeds"] is None
    call = _run_folder_main(folder, ["--quick", "--seeds", "3"], monkeypatch, script)
    assert call["config"] == exp.quick_config and call["quick"] and call["seeds"] == (3,)
    field = dataclasses.fields(exp.config)[0]
    value = getattr(exp.config, field.name)
    text = json.dumps(list(value) if isinstance(value, tuple) else value)
    call = _run_folder_main(folder, ["--set", f"{field.name}={text}"], monkeypatch, script)
    assert call["config"] == exp.config


def test_set_replaces_one_setting(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(_run, "run_experiment", lambda *a, **k: calls.append(k) or {})
    exp = get_experiment("E1")
    assert experiment_main("E1", argv=["--set", "steps=7", "--set", "learning_rate=0.01"]) == 0
    assert calls[-1]["config"] == dataclasses.replace(exp.config, steps=7, learning_rate=0.01)
    assert experiment_main("structures", argv=["--quick", "--set", "parts=b"]) == 0
    assert calls[-1]["config"] == dataclasses.replace(
        EXPERIMENTS["STRUCTURES"].quick_config, parts="b"
    )
    with pytest.raises(SystemExit) as exit_:
        experiment_main("E1", argv=["--set", "no_such_field=1"])
    assert exit_.value.code == 2
    assert "no_such_field" in capsys.readouterr().err


def test_missing_peer_package_stops_with_one_line(tmp_path, monkeypatch, capsys):
    """An experiment needing the peers extra refuses to start without it: one line naming
    the install command, nothing written; NOISY-STATES only when PySINDy methods are asked."""
    import importlib.util

    from physnet.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pysindy" else real(name, *a),
    )
    out = tmp_path / "r"
    for spec in ("sindy_comparison", "E1,noisy-states"):
        with pytest.raises(ConfigError, match=r'needs pysindy .*pip install -e "\.\[peers\]"'):
            reproduce(spec, out, quick=False)
        assert not out.exists()
    assert main(["reproduce", "--experiments", "sindy_comparison", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'pip install -e ".[peers]"' in err, err
    assert not out.exists()
    noisy = EXPERIMENTS["NOISY-STATES"]
    assert noisy.missing_peers(noisy.config) == ["pysindy"]
    assert noisy.missing_peers(noisy.quick_config) == []


STUDY_OUTPUTS = {
    "NTK": "table.md",
    "NOISY-STATES": "table.md",
    "STRUCTURES": "results.json",
    "TRAJECTORY-STUDY": "table.md",
    "E1-STATES-ONLY": "summary.json",
    "KAN-VS-MLP": "report.md",
    "SINDY-COMPARISON": "table.md",
    "DYSTS": "table.md",
    "INPUTS-STUDY": "table.md",
    "CONTROL": "table.md",
    "CONTROL-CART-POLE": "table.md",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(STUDY_OUTPUTS))
def test_study_quick_run(name, tmp_path):
    """The quick setting of every study runs through ``physnet reproduce`` and writes its
    table (a smoke run: about a minute or more each on 2 shared cores)."""
    exp = EXPERIMENTS[name]
    if exp.missing_peers(exp.quick_config):
        pytest.skip(f"{name} needs the peers extra")
    results = reproduce(name, tmp_path, quick=True, echo=lambda s: None)
    metrics = results[name]
    assert metrics["experiment"] == name and metrics["quick"]
    assert (tmp_path / name / STUDY_OUTPUTS[name]).is_file()
    assert json.loads((tmp_path / name / "metrics.json").read_text())["config"] == (
        json.loads(json.dumps(dataclasses.asdict(exp.quick_config)))
    )
