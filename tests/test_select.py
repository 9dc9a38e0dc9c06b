"""Units and structure chosen with the user's data (issue 27 item 5): training scales that keep
each structure, the (q, q̇) / (q, p) test, structure selection, and runs trained in scaled
variables reported in the file's units."""

import json

import jax
import numpy as np
import pytest

import physnet as pn
from physnet._errors import ConfigError
from physnet.data import TimeSplit, Trajectories, structure_scales, velocity_coordinates
from physnet.evaluation import rollout, trajectory_rmse
from physnet.models import model_class
from physnet.runs import CANDIDATES, Selection, resolve_scale, select_structure, train_run
from physnet.runs._config import RunConfig


def _damped_record(mass=1.0, n=240, t1=24.0, amp=50.0, gamma=0.08, omega=1.6):
    """One measured-looking record of a damped oscillator in large units: (q, m q̇)."""
    ts = np.linspace(0.0, t1, n)
    env = amp * np.exp(-gamma * ts)
    q = env * np.cos(omega * ts)
    qdot = env * (-gamma * np.cos(omega * ts) - omega * np.sin(omega * ts))
    states = np.stack([q, mass * qdot], axis=-1)[None]
    return Trajectories(ts=ts, states=states, metadata={"names": ["x", "v"]})


def test_structure_scales_keep_each_structure():
    rng = np.random.default_rng(0)
    states = rng.normal(size=(3, 50, 4)) * np.array([2.0, 300.0, 0.5, 40.0])
    data = Trajectories(ts=np.linspace(0, 1, 50), states=states)
    sigma = np.std(states.reshape(-1, 4), axis=0)
    np.testing.assert_allclose(structure_scales(data, "components"), sigma)
    a = structure_scales(data, "canonical")
    # symplectic up to one constant: every a_i b_i is the same K (geometric mean of σq σp)
    k = np.sqrt(sigma[0] * sigma[2] * sigma[1] * sigma[3])
    np.testing.assert_allclose(a[:2] * a[2:], [k, k], rtol=1e-12)
    c = structure_scales(data, "configuration")  # q and q̇ share one scale
    np.testing.assert_allclose(c[:2], c[2:])
    np.testing.assert_allclose(c[:2], np.sqrt(sigma[:2] * sigma[2:]))
    u = structure_scales(data, "uniform")
    assert np.ptp(u) == 0 and u[0] == pytest.approx(np.sqrt(np.mean(sigma**2)))
    np.testing.assert_array_equal(structure_scales(data, "none"), np.ones(4))
    odd = Trajectories(ts=np.linspace(0, 1, 50), states=states[..., :3])
    with pytest.raises(ConfigError, match="pairs"):
        structure_scales(odd, "canonical")


def test_velocity_coordinates_tell_q_qdot_from_q_p():
    assert velocity_coordinates(_damped_record(mass=1.0)) is True
    assert velocity_coordinates(_damped_record(mass=4.5)) is False
    three = Trajectories(ts=np.linspace(0, 1, 20), states=np.ones((1, 20, 3)))
    assert velocity_coordinates(three) is None


def test_lnn_and_energy_models_say_when_they_do_not_apply():
    lnn, hnn, node = model_class("lnn"), model_class("hnn"), model_class("node")
    assert lnn.unsuitable(2, True) is None
    assert "q̇" in lnn.unsuitable(2, False) or "velocit" in lnn.unsuitable(2, False)
    assert hnn.unsuitable(3, None) is not None and hnn.unsuitable(4, False) is None
    assert node.unsuitable(3, None) is None


def test_resolve_scale_auto_follows_the_data_and_structure():
    record = _damped_record()
    hnn = model_class("hnn")
    s, why = resolve_scale("auto", record, hnn)
    np.testing.assert_allclose(s, structure_scales(record, "canonical"))
    assert "measured record" in why
    sim = pn.data.generate(pn.systems.Duffing(), 2, 1.0, 10, key=jax.random.key(0))
    assert resolve_scale("auto", sim, hnn)[0] is None  # a known system: its own units
    assert resolve_scale("none", record, hnn)[0] is None
    np.testing.assert_allclose(resolve_scale([2, 3], record, hnn)[0], [2.0, 3.0])
    for bad in ("big", [1.0], [1.0, -2.0], [1.0, float("nan")]):
        with pytest.raises(ConfigError, match="scale"):
            resolve_scale(bad, record, hnn)


@pytest.fixture(scope="module")
def record_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("select") / "record.npz"
    _damped_record().save(path)
    return path


def test_scaled_run_reports_in_the_file_units(record_file, tmp_path):
    """A run trained in scaled variables scores its forecast in the file's units: the stored
    rollout RMSE equals the rollout of the saved model, brought back to the file's units, against
    the held-out part of the file."""
    run, metrics = train_run(record_file, tmp_path / "run", model="node", scale="std", steps=30,
                             seed=1)  # fmt: skip
    config = json.loads((run / "config.json").read_text())
    scales = np.asarray(config["scale"])
    data = Trajectories.load(record_file)
    train, test = TimeSplit.for_data(data, 0.8).apply(data)
    np.testing.assert_allclose(scales, structure_scales(train, "components"))
    _, ev = pn.runs.evaluate_run(run)
    model = pn.runs.RunDirectory.open(run).load_model()
    ts = np.asarray(test.times_of(0))
    sub = int(np.ceil(np.max(np.diff(ts)) / 0.01 - 1e-9))
    learned = np.asarray(rollout(model, test.states[0, 0] / scales, ts, solver="rk4", substeps=sub))
    rmse = float(trajectory_rmse(learned * scales, np.asarray(test.states[0])))
    assert ev["rollout_rmse"] == pytest.approx(rmse, rel=1e-9)
    assert metrics["scales"] == pytest.approx(list(scales))


def test_old_runs_without_a_scale_resume_unscaled():
    stored = RunConfig(model="hnn").to_json()
    del stored["scale"]
    assert RunConfig.from_json(stored).scale == "none"


def test_selection_ranks_the_structures_that_apply(record_file):
    data = Trajectories.load(record_file)
    train = TimeSplit.for_data(data, 0.8).apply(data)[0]
    chosen = [c for c in CANDIDATES if c[0] in ("node", "hnn", "dhnn")]
    config = RunConfig(model="auto", steps=60)
    seen = []
    selection = select_structure(train, config, key=jax.random.key(0), candidates=chosen,
                                 report=seen.append)  # fmt: skip
    rows = {r.label: r for r in selection.rows}
    assert set(rows) == {"node", "hnn", "dhnn"} and len(seen) == 3
    ranked = [r for r in selection.rows if r.status == "ranked"]
    assert ranked and selection.best is ranked[0]
    keys = [r.rank_key() for r in selection.rows]
    assert keys == sorted(keys)
    # a damped record: a conservative HNN cannot follow the decay its dissipative form can
    assert rows["dhnn"].rmse < rows["hnn"].rmse
    assert "chose" in selection.why() and selection.best.label in selection.table()
    again = Selection.from_json(json.loads(json.dumps(selection.to_json())))
    assert again == selection


def test_selection_marks_structures_that_do_not_apply():
    record = _damped_record(mass=4.5)  # (q, p) with p ≠ q̇: no LNN
    three = Trajectories(ts=record.ts, states=np.concatenate([record.states, record.states[..., :1] ** 2 / 50], -1))  # fmt: skip
    config = RunConfig(model="auto", steps=20)
    chosen = [c for c in CANDIDATES if c[0] in ("node", "hnn", "lnn+friction")]
    sel = select_structure(three, config, key=jax.random.key(0), candidates=chosen)
    rows = {r.label: r for r in sel.rows}
    assert rows["hnn"].status == "unsuitable" and rows["lnn+friction"].status == "unsuitable"
    assert sel.best.label == "node"


def test_cli_select_and_train_auto(record_file, tmp_path, capsys, monkeypatch):
    import functools

    import physnet.runs._train as train_module
    from physnet.cli import main

    assert main(["select", "--data", str(record_file), "--candidates", "node,dhnn",
                 "--steps", "30", "--quiet"]) == 0  # fmt: skip
    out = capsys.readouterr()
    answer = json.loads(out.out.strip().splitlines()[-1])
    assert answer["chosen"] in ("node", "dhnn")
    assert "validation RMSE" in out.out + out.err
    assert main(["select", "--data", str(record_file), "--candidates", "node,warp"]) != 0
    assert "warp" in capsys.readouterr().err
    # train with only the data file (two candidates and a short budget to keep the test
    # short): selection, table, why, scales stored
    two = [c for c in CANDIDATES if c[0] in ("node", "dhnn")]
    monkeypatch.setattr(
        train_module, "select_structure", functools.partial(select_structure, candidates=two)
    )
    assert main(["train", "--data", str(record_file), "--out", str(tmp_path / "r"),
                 "--steps", "30"]) == 0  # fmt: skip
    printed = capsys.readouterr()
    assert "--model auto chose" in printed.out + printed.err
    assert "--scale auto trained in scales" in printed.err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["selection"]["chosen"] in {c[0] for c in CANDIDATES}
    assert len(metrics["scales"]) == 2


def test_symbolic_readout_of_a_scaled_run_names_its_variables():
    from physnet.runs._evaluate import symbolic_metrics
    from physnet.runs._summary import evaluation_summary

    scaled = _damped_record().rescaled([10.0, 20.0])
    model = pn.build_model("node", 2, "polynomial", degree=1)
    out = symbolic_metrics(model, scaled)
    assert out["symbolic_scales"] == {"x": 10.0, "v": 20.0}
    assert "divided by its scale" in out["symbolic_note"]
    assert "x = x_file / 10" in evaluation_summary(out, ["x", "v"])
    assert "symbolic_scales" not in symbolic_metrics(model, _damped_record())


def test_selection_on_driven_data_tries_the_structures_with_an_input_port():
    """--model auto on data with measured inputs: only models with an input port are fitted
    (the others are marked, one line each); the long-horizon check is the free response."""
    system = pn.systems.DrivenDuffing()
    signals = [pn.signals.Multisine.random(k, 1, rms=0.5, max_frequency=1.0)
               for k in jax.random.split(jax.random.key(1), 8)]  # fmt: skip
    data = pn.data.generate(system, 8, 5.0, 40, key=jax.random.key(0), inputs=signals)
    assert data.input_size == 1
    chosen = [c for c in CANDIDATES if c[0] in ("node", "hnn", "port-hnn")]
    sel = select_structure(data, RunConfig(model="auto", steps=150), key=jax.random.key(0),
                           candidates=chosen)  # fmt: skip
    rows = {r.label: r for r in sel.rows}
    assert rows["hnn"].status == "unsuitable" and "no input port" in rows["hnn"].note
    assert rows["node"].status == "ranked" and rows["port-hnn"].status == "ranked"
    assert sel.best.label == "port-hnn"  # the driven Duffing is port-Hamiltonian
