"""`physnet evaluate --symbolic` through the CLI on the readable models: a dissipative HNN
with a KAN or a polynomial H (the latter identified from the states alone), and an LNN with
friction. On clean damped Duffing data the read-outs must give the true law."""

import json

import pytest

from physnet.cli import main
from physnet.interpret import coefficient_errors, duffing_coefficients

ALPHA, BETA, GAMMA = 1.0, 2.0, 0.1


@pytest.fixture(scope="module")
def damped(tmp_path_factory):
    """Clean damped Duffing data (α = 1, β = 2, γ = 0.1) with derivatives."""
    path = tmp_path_factory.mktemp("damped") / "d.npz"
    args = ["--gamma", str(GAMMA), "--n-trajectories", "12", "--n-points", "30"]
    assert main(["simulate", *args, "--seed", "1", "--out", str(path)]) == 0
    return path


def _evaluate(run, capsys) -> dict:
    assert main(["evaluate", "--run", str(run), "--t1", "1", "--symbolic"]) == 0
    capsys.readouterr()
    return json.loads((run / "evaluation" / "metrics.json").read_text())


def _train(data, run, *flags) -> None:
    assert main(["train", "--data", str(data), *flags, "--quiet", "--out", str(run)]) == 0


def test_dhnn_kan_gives_formula_coefficients_and_gamma(damped, tmp_path, capsys):
    run = tmp_path / "kan"
    _train(damped, run, "--model", "dhnn", "--approximator", "kan", "--steps", "20")
    metrics = _evaluate(run, capsys)
    assert metrics["formula"].startswith("H = ")
    assert {"q**2", "p**2"} <= set(metrics["coefficients"])
    assert 0.0 < metrics["gamma_hat"] < 1.0  # γ = softplus(raw) from its start at 0.01
    assert metrics["symbolic_r2"] > 0.9


@pytest.mark.slow
def test_dhnn_kan_recovers_the_damped_duffing_law(damped, tmp_path, capsys):
    run = tmp_path / "kan"
    flags = ["--model", "dhnn", "--approximator", "kan", "--preset", "fast", "--steps", "1500"]
    _train(damped, run, *flags)
    metrics = _evaluate(run, capsys)
    # measured: γ̂ 0.1003, every coefficient within 0.2 %, no spurious term above 1e-2
    assert metrics["gamma_hat"] == pytest.approx(GAMMA, rel=0.05)
    errors = coefficient_errors(metrics["coefficients"], duffing_coefficients(ALPHA, BETA))
    assert max(errors.values()) < 0.03, errors


def test_dhnn_polynomial_from_states_recovers_the_law(damped, tmp_path, capsys):
    """The states-only road: a polynomial H identified by --fit-states (weak form, then
    latent-start shooting) reads exactly, with its friction."""
    run = tmp_path / "poly"
    _train(
        damped,
        run,
        "--model",
        "dhnn",
        "--approximator",
        "polynomial",
        "--degree",
        "4",
        "--fit-states",
    )
    metrics = _evaluate(run, capsys)
    assert metrics["formula"].startswith("H = ")
    # measured on clean data: γ̂ and the three coefficients within 1e-6, other terms < 1e-7
    assert metrics["gamma_hat"] == pytest.approx(GAMMA, rel=1e-3)
    truth = duffing_coefficients(ALPHA, BETA)
    assert {k: metrics["coefficients"][k] for k in truth} == pytest.approx(truth, rel=1e-3)
    spurious = {k: v for k, v in metrics["coefficients"].items() if k not in truth}
    assert max(abs(v) for v in spurious.values()) < 1e-3, spurious


def test_friction_lnn_gives_its_lagrangian_and_damping(damped, tmp_path, capsys):
    """An LNN with a Friction (Rayleigh force -γq̇, ``--dissipation friction``) and a
    polynomial L: the read-out gives L = q̇²/2 - αq²/2 - βq⁴/4 and the damping of that
    normalised L (measured: both within 1e-6)."""
    run = tmp_path / "lnn"
    flags = ["--model", "lnn", "--approximator", "polynomial", "--degree", "4"]
    _train(damped, run, *flags, "--dissipation", "friction", "--preset", "fast", "--steps", "300")
    metrics = _evaluate(run, capsys)
    assert metrics["formula"].startswith("L = ")
    truth = duffing_coefficients(ALPHA, BETA, kind="lagrangian")
    assert {k: metrics["coefficients"].get(k, 0.0) for k in truth} == pytest.approx(truth, rel=5e-3)
    assert metrics["gamma_hat"] == pytest.approx(GAMMA, rel=5e-3)


def test_an_unreadable_part_is_refused_in_one_line(damped, tmp_path, capsys):
    run = tmp_path / "mlp"
    _train(damped, run, "--model", "dhnn", "--approximator", "mlp", "--steps", "5")
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run), "--t1", "1", "--symbolic"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "the H network of the DissipativeHNN is an MLP" in err
    assert "--approximator kan or polynomial" in err
    assert not (run / "evaluation").exists()
