"""The dysts benchmark's runner resumes where it stopped (issue 34 item 4): a system finished
before a crash or Ctrl-C is read back from ``systems.jsonl``, not fitted again; a system that
fails is recorded and the others go on. No dysts needed: the per-system fit is replaced."""

from __future__ import annotations

import json

import pytest

from physnet import benchmarks
from physnet.reproduce._dysts import DystsConfig, train_and_evaluate


def _fake_dysts(calls, crash_on=None):
    def fit(names, seed=0, **kwargs):
        (name,) = names
        calls.append(name)
        if name == crash_on:
            raise KeyboardInterrupt  # the user stops the run inside this system
        row = {"method": "physnet-weak", "noise": 0.0, "coefficient_error": len(name) * 1e-3}
        status = "failed" if name == "Broken" else "fitted"
        return {"systems": [{"name": name, "status": status, "rows": [row]}], "seconds": 0.01}

    return fit


def test_a_stopped_run_resumes_after_its_finished_systems(tmp_path, monkeypatch):
    cfg = DystsConfig(systems=("Lorenz", "Broken", "Rossler", "Aizawa"), noises=(0.0,))
    calls: list[str] = []
    monkeypatch.setattr(benchmarks, "dysts", _fake_dysts(calls, crash_on="Rossler"))
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(cfg, tmp_path)
    assert calls == ["Lorenz", "Broken", "Rossler"]
    with (tmp_path / "systems.jsonl").open("a") as f:
        f.write('{"name": "Ross')  # a line cut by a kill mid-write
    calls.clear()
    monkeypatch.setattr(benchmarks, "dysts", _fake_dysts(calls))
    result = train_and_evaluate(cfg, tmp_path)
    assert calls == ["Rossler", "Aizawa"]  # the two finished systems are not fitted again
    assert result["resumed"] == 2
    assert [f["name"] for f in result["failed"]] == ["Broken"]  # recorded; the rest went on
    records = [json.loads(x) for x in (tmp_path / "systems.jsonl").read_text().splitlines()]
    assert [r["name"] for r in records] == ["Lorenz", "Broken", "Rossler", "Aizawa"]
    assert result["summary"][0]["systems"] == 4


def test_other_settings_start_over(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(benchmarks, "dysts", _fake_dysts(calls))
    train_and_evaluate(DystsConfig(systems=("Lorenz",), noises=(0.0,)), tmp_path)
    train_and_evaluate(DystsConfig(systems=("Lorenz",), noises=(0.0,), n_train=3), tmp_path)
    assert calls == ["Lorenz", "Lorenz"]  # a record made with other settings is not reused
    lines = (tmp_path / "systems.jsonl").read_text().splitlines()
    assert len(lines) == 1
