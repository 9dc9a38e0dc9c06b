"""Measured data end to end: a simulated record exported as text with dropped rows trains as
well as the original; the real-data experiments are registered, named-only and read the
record's period and damping correctly."""

import math
import runpy
import sys
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

import physnet as pn
from physnet.reproduce import EXPERIMENTS, _run, get_experiment, parse_experiments
from physnet.reproduce._real import linearisation, measured_oscillation, pendulum_g_over_l

ROOT = Path(__file__).resolve().parents[1]


def _export(data, path, keep):
    """One row per kept observation: trial, t, q, p (states only, as a tracker writes them)."""
    rows = [
        [b, float(data.ts[i]), *np.asarray(data.states[b, i])]
        for b in range(data.n_trajectories)
        for i in np.flatnonzero(keep[b])
    ]
    lines = ["# trial t q p"] + ["  ".join(repr(float(v)) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _fit_hnn(train, steps=400):
    model = pn.build_model("hnn", 2, "mlp", seed=0, width=16, depth=2, activation="tanh")
    pn.fit(model, train, steps=steps, optimizer=optax.adam(3e-3), progress=False)
    return model


def test_round_trip_through_a_text_file_trains_as_well_as_the_original(tmp_path):
    """simulate -> text with 15 % of the rows dropped -> from_table -> derivatives on the
    recorded grid -> HNN: the test derivative MSE (exact derivatives, fresh trajectories)
    is within a factor 2 of the same HNN trained on the original uniform data."""
    system = pn.systems.Duffing(1.0, 1.0, 0.0)
    k_train, k_test = jax.random.split(jax.random.key(0))
    original = pn.data.generate(system, 8, 6.0, 61, key=k_train)
    test = pn.data.generate(system, 8, 6.0, 61, key=k_test)
    keep = np.random.default_rng(1).random((8, 61)) > 0.15
    keep[:, :3] = keep[:, -1:] = True
    imported = pn.data.from_table(
        _export(original, tmp_path / "sim.txt", keep), time="t", states="q,p", trial="trial"
    )
    assert imported.is_ragged and not imported.is_uniform() and not imported.has_derivatives
    reference = _fit_hnn(original.without_derivatives().with_estimated_derivatives("central"))
    roundtrip = _fit_hnn(imported.with_estimated_derivatives("central"))
    mse_ref = pn.evaluation.derivative_mse(reference, test)
    mse_rt = pn.evaluation.derivative_mse(roundtrip, test)
    assert mse_ref < 0.05
    assert mse_rt < 2.0 * mse_ref, (mse_rt, mse_ref)


def test_measured_oscillation_reads_period_and_damping():
    """A damped cosine x = A e^{-ct/2} cos(ωt) sampled irregularly: ω and c within 1 %."""
    omega, c = 2.5, 0.02
    ts = np.sort(np.random.default_rng(0).uniform(0.0, 60.0, 3000))
    x = np.exp(-c * ts / 2) * np.cos(omega * ts)
    m = measured_oscillation(ts, np.stack([x, np.gradient(x, ts)], axis=1))
    assert m["omega"] == pytest.approx(omega, rel=1e-2)
    assert m["damping_rate"] == pytest.approx(c, rel=1e-2)
    nothing = measured_oscillation(ts[:10], np.stack([ts[:10], ts[:10]], axis=1))
    assert math.isnan(nothing["period"])


def test_pendulum_g_over_l_corrects_for_amplitude():
    """The exact pendulum period at amplitude A gives back g/l (small angles: 2π/T)."""
    from scipy.special import ellipk

    g_l = 1.3
    amps = np.array([0.1, 1.0, 1.4])
    periods = 4 * ellipk(np.sin(amps / 2) ** 2) / math.sqrt(g_l)
    assert pendulum_g_over_l(periods, amps) == pytest.approx(g_l, rel=1e-12)


def test_linearisation_of_a_damped_oscillator():
    def field(t, y, args):
        return jax.numpy.stack([y[1], -4.0 * y[0] - 0.3 * y[1]])

    lin = linearisation(field, np.zeros(2))
    assert lin["omega0_sq"] == pytest.approx(4.0) and lin["damping_rate"] == pytest.approx(0.3)


def test_real_experiments_are_registered_and_run_only_when_named():
    assert "REAL-PENDULUM" not in parse_experiments("all")
    assert parse_experiments("real-pendulum,real-oscillator") == [
        "REAL-PENDULUM",
        "REAL-OSCILLATOR",
    ]
    exp = get_experiment("real-pendulum-2022")
    assert exp.config.lr == 5e-3 and exp.config.batch_size == 100 and exp.config.n_train == 444
    paper = EXPERIMENTS["REAL-PENDULUM"]
    assert paper.config.derivatives == "forward" and paper.best_config.derivatives == "central"
    assert paper.config.steps == 2000 and paper.config.width == 200


@pytest.mark.parametrize(
    "folder, script, name",
    [
        ("real_pendulum", "main.py", "REAL-PENDULUM"),
        ("real_pendulum", "main_2022.py", "REAL-PENDULUM-2022"),
        ("real_oscillator", "main.py", "REAL-OSCILLATOR"),
    ],
)
def test_folders_run_the_registered_settings(folder, script, name, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(_run, "run_experiment", lambda n, w, **kw: calls.append((n, kw)) or {})
    main = ROOT / "experiments" / folder / script
    monkeypatch.setattr(sys, "argv", [str(main), "--workdir", str(tmp_path), "--best"])
    with pytest.raises(SystemExit):
        runpy.run_path(str(main), run_name="__main__")
    assert calls[0][0] == name and calls[0][1]["config"] == EXPERIMENTS[name].config
    assert (ROOT / "experiments" / folder / "README.md").is_file()
