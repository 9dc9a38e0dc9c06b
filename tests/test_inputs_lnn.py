"""The Lagrangian model with generalised forces Q = B(q)u: the energy balance, the true
driven pendulum, checkpoints and the command line on (q, q̇) data with inputs."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _cli import run_cli
from flax import nnx

import physnet as pn
from physnet.models import Friction, KnownInputPort, LearnedInputPort


def _lnn(port, seed=0):
    return pn.LNN(
        pn.MLP(4, 1, width=16, depth=2, activation="softplus", rngs=nnx.Rngs(seed)),
        kinetic=1.0,
        dissipation=Friction(0.3),
        input_port=port,
    )


@pytest.mark.parametrize("form", ["constant", "of-q"])
def test_energy_balance_is_exact_for_random_parameters(form):
    """dE/dt = ∇E·f(y, u) = q̇ᵀQ_friction + q̇ᵀB(q)u, whatever L, γ and B."""
    approx = None
    if form == "of-q":
        approx = pn.MLP(2, 4, width=8, depth=1, rngs=nnx.Rngs(3))
    model = _lnn(LearnedInputPort(2, 2, approximator=approx, gain_init=0.7), seed=1)
    assert model.input_size == 2
    for k in jax.random.split(jax.random.key(0), 5):
        ky, ku = jax.random.split(k)
        y = jax.random.normal(ky, (4,))
        u = jax.random.normal(ku, (2,))
        q, qdot = y[:2], y[2:]
        power = jax.grad(model.energy)(y) @ model(0.0, y, u)
        b = model.input_port.gain_matrix(q)
        expected = qdot @ model.generalised_force(q, qdot) + qdot @ (b @ u)
        assert float(power) == pytest.approx(float(expected), rel=1e-9, abs=1e-11)
        # the input's power: the difference with and without u is exactly q̇ᵀB u
        free = jax.grad(model.energy)(y) @ model(0.0, y, None)
        assert float(power - free) == pytest.approx(float(qdot @ (b @ u)), rel=1e-9, abs=1e-11)


def test_known_port_gives_the_driven_pendulum_for_its_lagrangian():
    """L = q̇²/2 + g cos q with Q = -b q̇ + u is the true driven pendulum in (q, q̇)."""
    system = pn.systems.DrivenPendulum(friction=0.1)
    lagrangian = lambda q, qdot: 0.5 * qdot @ qdot + 9.81 * jnp.cos(q[0])  # noqa: E731
    y = jnp.array([0.7, -1.3])
    u = jnp.array([0.4])
    force = -0.1 * y[1:] + KnownInputPort.on_momenta(1).matrix(y)[1:] @ u
    qdd = pn.models.euler_lagrange_acceleration(lagrangian, y[:1], y[1:], force)
    true = system.acceleration(y[0], y[1], u)
    assert float(qdd[0]) == pytest.approx(float(true), rel=1e-12)
    model = _lnn(KnownInputPort.on_momenta(2))
    assert model(0.0, jnp.ones(4), jnp.array([1.0, 0.0])).shape == (4,)


def test_a_port_acting_on_positions_and_a_wrong_size_are_refused():
    with pytest.raises(pn.ConfigError, match="acting on the accelerations"):
        _lnn(KnownInputPort([[1.0], [0.0], [0.0], [1.0]]))
    with pytest.raises(pn.ConfigError, match="2 degree"):
        _lnn(LearnedInputPort(1, 1))
    with pytest.raises(pn.ConfigError, match="LNN: input_form='known'"):
        pn.build_model("lnn", 4, "mlp", input_size=1, input_form="known")


def test_checkpoint_round_trip_keeps_the_port(tmp_path):
    model = pn.build_model(
        "lnn", 2, "mlp", seed=0, input_size=1, activation="softplus", kinetic=1.0
    )
    assert isinstance(model.input_port, LearnedInputPort)
    pn.save_model(model, tmp_path / "m")
    back = pn.load_model(tmp_path / "m")
    y, u = jnp.array([0.3, -0.2]), jnp.array([0.5])
    np.testing.assert_allclose(back(0.0, y, u), model(0.0, y, u), rtol=1e-14)


def test_cli_trains_an_lnn_on_velocity_data_with_inputs(tmp_path, capsys):
    data, run = tmp_path / "d.npz", tmp_path / "run"
    code, _, err = run_cli(
        capsys, "simulate", "--system", "driven-pendulum", "--input", "0.5*sin(1.3*t)",
        "--coordinates", "velocity", "--n-trajectories", 6, "--t1", 3, "--n-points", 31,
        "--out", data,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "train", "--data", data, "--model", "lnn", "--steps", 20, "--width", 8,
        "--quiet", "--out", run,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["model"] == "lnn"
    model = pn.load_model(run / "checkpoint")
    assert isinstance(model, pn.LNN) and model.input_size == 1


def test_model_auto_on_velocity_data_with_inputs_ranks_the_structures_with_a_port(tmp_path, capsys):
    data = tmp_path / "d.npz"
    code, _, err = run_cli(
        capsys, "simulate", "--system", "driven-pendulum", "--input", "0.5*sin(1.3*t)",
        "--coordinates", "velocity", "--n-trajectories", 6, "--t1", 3, "--n-points", 31,
        "--out", data,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(
        capsys, "train", "--data", data, "--model", "auto", "--steps", 10, "--quiet",
        "--out", tmp_path / "run",
    )  # fmt: skip
    assert code == 0, err
    table = out + err
    for ranked in ("lnn+friction", "node", "port-hnn"):
        assert any(line.startswith(ranked + " ") and " yes " in line for line in table.splitlines())
    assert "HNN has no input port" in table
    chosen = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert chosen in ("lnn", "node", "port-hnn")
