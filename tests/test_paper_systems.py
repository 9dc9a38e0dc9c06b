"""The HNN and LNN papers' systems: physics carried by the tests (energy conserved by the
exact flow, (q, q̇) <-> (q, p) inverted to round-off, double-pendulum accelerations against an
independent Lagrangian derivation by autodiff, two-body angular momentum), and no unit-mass
assumption where data or accelerations are derived from a system."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physnet as pn
from physnet.integrators import solve
from physnet.systems import (
    DoublePendulum,
    MassSpring,
    Pendulum,
    SpringChain,
    TwoBody,
    system_from_metadata,
)

NEW_SYSTEMS = [
    MassSpring(),
    Pendulum(g_over_l=6.0, mass=0.5),
    TwoBody(),
    DoublePendulum(),
    SpringChain(n=4, mass=2.0, stiffness=3.0),
]
IDS = [s.name for s in NEW_SYSTEMS]


def _y0(system, key=0):
    y = system.sample_initial_states(jax.random.key(key), 3, 0.5)
    return y


@pytest.mark.parametrize("system", NEW_SYSTEMS, ids=IDS)
def test_energy_is_conserved_by_the_exact_flow(system):
    ts = jnp.linspace(0.0, 5.0, 11)
    paths = jax.jit(jax.vmap(lambda y: solve(system.vector_field, y, ts, substeps=200)))
    for ys in paths(_y0(system)):
        e = jax.vmap(system.energy)(ys)
        assert float(jnp.max(jnp.abs(e - e[0]))) < 1e-8 * max(1.0, float(jnp.abs(e[0])))


@pytest.mark.parametrize("system", NEW_SYSTEMS, ids=IDS)
def test_velocity_and_canonical_coordinates_invert_to_round_off(system):
    for y in _y0(system, 1):
        x = system.to_velocity(y)
        back = system.to_canonical(x[: system.dof], x[system.dof :])
        np.testing.assert_allclose(back, y, rtol=0, atol=1e-13)
        # q̇ = ∂H/∂p: the velocity half is the vector field's q-part
        np.testing.assert_allclose(
            x[system.dof :], system.vector_field(0.0, y)[: system.dof], atol=1e-12
        )


@pytest.mark.parametrize("system", NEW_SYSTEMS, ids=IDS)
def test_closed_form_accelerations_equal_the_generic_flow_derivative(system):
    generic = pn.systems.AbstractSystem.acceleration
    for y in _y0(system, 2):
        x = system.to_velocity(y)
        q, qdot = x[: system.dof], x[system.dof :]
        np.testing.assert_allclose(
            system.acceleration(q, qdot), generic(system, q, qdot), rtol=1e-10, atol=1e-10
        )


def test_double_pendulum_accelerations_match_an_independent_lagrangian_by_autodiff():
    s = DoublePendulum(m1=1.3, m2=0.7, l1=0.9, l2=1.4, g=9.8)

    def lagrangian(q, qdot):  # Cartesian: positions of the bobs, velocities by a JVP
        def positions(q):
            x1, y1 = s.l1 * jnp.sin(q[0]), -s.l1 * jnp.cos(q[0])
            x2, y2 = x1 + s.l2 * jnp.sin(q[1]), y1 - s.l2 * jnp.cos(q[1])
            return jnp.stack([x1, y1, x2, y2])

        r, v = jax.jvp(positions, (q,), (qdot,))
        m = jnp.array([s.m1, s.m1, s.m2, s.m2])
        return 0.5 * jnp.sum(m * v**2) - s.g * (s.m1 * r[1] + s.m2 * r[3])

    def euler_lagrange(q, qdot):
        h = jax.hessian(lagrangian, argnums=1)(q, qdot)
        mixed = jax.jacfwd(jax.grad(lagrangian, argnums=1), argnums=0)(q, qdot)
        return jnp.linalg.solve(h, jax.grad(lagrangian, argnums=0)(q, qdot) - mixed @ qdot)

    key = jax.random.key(4)
    for k in jax.random.split(key, 5):
        kq, kv = jax.random.split(k)
        q = jax.random.uniform(kq, (2,), minval=0.0, maxval=2 * jnp.pi, dtype=jnp.float64)
        qdot = jax.random.uniform(kv, (2,), minval=-10.0, maxval=10.0, dtype=jnp.float64)
        np.testing.assert_allclose(s.acceleration(q, qdot), euler_lagrange(q, qdot), rtol=1e-10)
        np.testing.assert_allclose(s.lagrangian(q, qdot), lagrangian(q, qdot), rtol=1e-12)
    assert DoublePendulum().max_potential_energy == pytest.approx(29.4)


def test_two_body_conserves_angular_and_linear_momentum_on_near_circular_orbits():
    s = TwoBody()
    ts = jnp.linspace(0.0, 20.0, 50)
    y0s = s.sample_initial_states(jax.random.key(0), 4)
    paths = jax.jit(jax.vmap(lambda y: solve(s.vector_field, y, ts, substeps=100)))
    for y0, ys in zip(y0s, paths(y0s), strict=True):
        ang = jax.vmap(s.angular_momentum)(ys)
        assert float(jnp.max(jnp.abs(ang - ang[0]))) < 1e-8
        np.testing.assert_allclose(ys[:, 4] + ys[:, 5], 0.0, atol=1e-12)  # total p_x
        # near-circular, bound orbits (5% velocity noise: eccentricity up to ~0.2)
        r1, r2 = jax.vmap(s.positions)(ys)
        d = jnp.linalg.norm(r1 - r2, axis=-1)
        assert float(jnp.max(jnp.abs(d / d[0] - 1))) < 0.5 and float(s.energy(y0)) < 0  # bound


def test_paper_constants():
    y = jnp.array([0.7, -0.4])
    assert float(MassSpring().energy(y)) == pytest.approx(0.7**2 + 0.4**2)
    assert float(Pendulum(g_over_l=6.0, mass=0.5).energy(y)) == pytest.approx(
        3 * (1 - np.cos(0.7)) + 0.4**2
    )
    # the old pendulum is unchanged: H = p²/2 + (g/l)(1 - cos q)
    assert float(Pendulum(2.0).energy(y)) == pytest.approx(0.08 + 2 * (1 - np.cos(0.7)))
    assert system_from_metadata({"system": "pendulum", "parameters": {"g_over_l": 2.0}}) == (
        Pendulum(2.0)
    )


def test_accelerations_are_not_dp_dt_without_unit_mass():
    """Fails on the unit-mass assumption: q̈ = dp/dt would give -k q, not -(k/m) q."""
    s = MassSpring()  # m = 1/2, k = 2: q̈ = -4 q
    q, qdot = jnp.array([0.3]), jnp.array([0.1])
    np.testing.assert_allclose(pn.systems.AbstractSystem.acceleration(s, q, qdot), -1.2)
    np.testing.assert_allclose(s.acceleration(q, qdot), -1.2)

    canonical = pn.data.generate(s, 3, 1.0, 6, key=jax.random.key(0))
    with pytest.raises(pn.DataError, match="coordinates='velocity'"):
        _ = canonical.accelerations
    data = pn.data.generate(s, 3, 1.0, 6, key=jax.random.key(0), coordinates="velocity")
    q = data.states[..., :1]
    np.testing.assert_allclose(data.accelerations, -4.0 * q, rtol=1e-12)
    # the states are (q, q̇): q̇ = 2 p of the canonical data
    np.testing.assert_allclose(data.states[..., 1], 2 * canonical.states[..., 1], rtol=1e-12)
    # and the system of the velocity data evaluates energies on (q, q̇)
    wrapped = system_from_metadata(data.metadata)
    np.testing.assert_allclose(
        jax.vmap(wrapped.energy)(data.states[0]),
        jax.vmap(s.energy)(canonical.states[0]),
        rtol=1e-12,
    )


def test_double_pendulum_velocity_data_hold_the_analytic_accelerations():
    s = DoublePendulum()
    data = pn.data.generate(s, 2, 1.0, 5, key=jax.random.key(1), y0_std=0.5, coordinates="velocity")
    x = data.states.reshape(-1, 4)
    expected = jax.vmap(lambda x_: s.acceleration(x_[:2], x_[2:]))(x)
    np.testing.assert_allclose(data.accelerations.reshape(-1, 2), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "system,model",
    [
        ("mass-spring", "lnn"),
        ("two-body", "node"),
        ("double-pendulum", "lnn"),
        ("double-pendulum", "dhnn"),
        ("spring-chain", "hnn"),
        ("pendulum", "dhnn"),
    ],
)
def test_models_train_on_the_new_systems_through_the_cli(tmp_path, system, model):
    """simulate -> train -> evaluate; Lagrangian models on (q, q̇) data."""
    import json

    from physnet.cli import main

    data = tmp_path / "data.npz"
    coords = "velocity" if model == "lnn" else "canonical"
    assert (
        main(
            [
                "simulate",
                "--system",
                system,
                "--n-trajectories",
                "5",
                "--n-points",
                "8",
                "--t1",
                "1",
                "--coordinates",
                coords,
                "--out",
                str(data),
            ]
        )
        == 0
    )
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--model",
                model,
                "--width",
                "4",
                "--depth",
                "1",
                "--steps",
                "10",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert main(["evaluate", "--run", str(run), "--t1", "1"]) == 0
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert np.isfinite(metrics["energy_drift"]) and np.isfinite(metrics["rollout_rmse"])


def test_hnn_paper_recipe_data():
    """Radius-distributed initial states, noise on the states only, split by trajectory."""
    from physnet.reproduce import _papers_hnn as P

    system, train, test, _ = P.task_data(P.MASS_SPRING, seed=0)
    assert (train.n_trajectories, test.n_trajectories, train.n_times) == (25, 25, 30)
    r = np.linalg.norm(np.asarray(train.clean_states[:, 0]), axis=-1)
    assert r.min() >= 0.1 and r.max() <= 1.0
    np.testing.assert_allclose(train.derivatives, train.clean_derivatives)  # exact targets
    noise = np.asarray(train.states - train.clean_states)
    assert 0.07 < noise.std() < 0.13
    # the derivative targets are the paper's field: dq/dt = 2p, dp/dt = -2q
    y, dy = train.flat(clean=True)
    np.testing.assert_allclose(dy, np.stack([2 * y[:, 1], -2 * y[:, 0]], -1), atol=1e-12)


@pytest.mark.parametrize("folder,name", [("hnn_paper", "HNN-PAPER"), ("lnn_paper", "LNN-PAPER")])
def test_paper_experiments_are_registered_opt_in(folder, name, monkeypatch):
    from pathlib import Path

    from physnet.reproduce import EXPERIMENTS, parse_experiments

    assert name not in parse_experiments("all")
    assert parse_experiments(folder.replace("_", "-")) == [name]
    assert EXPERIMENTS[name].source  # the published numbers set beside physnet's
    root = Path(__file__).resolve().parents[1] / "experiments" / folder
    assert (root / "main.py").is_file() and (root / "README.md").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["HNN-PAPER", "LNN-PAPER"])
def test_paper_experiments_quick_run(tmp_path, name):
    from physnet.reproduce import EXPERIMENTS, run_experiment

    metrics = run_experiment(name, tmp_path / name, quick=True, echo=lambda *a: None)
    for key in EXPERIMENTS[name].source:
        assert key in metrics
    for fig in EXPERIMENTS[name].figures:
        assert (tmp_path / name / fig).is_file()


def test_l1_acceleration_loss_is_the_mean_absolute_error():
    from physnet.training import AccelerationLoss

    s = MassSpring()
    data = pn.data.generate(s, 2, 1.0, 4, key=jax.random.key(0), coordinates="velocity")
    model = lambda t, y, args=None: jnp.zeros_like(y)  # noqa: E731
    batch = AccelerationLoss("l1").prepare(data)
    expected = float(jnp.mean(jnp.abs(data.accelerations)))
    assert float(AccelerationLoss("l1")(model, batch)) == pytest.approx(expected)
    assert float(AccelerationLoss()(model, batch)) == pytest.approx(
        float(jnp.mean(data.accelerations**2))
    )
    with pytest.raises(pn.ConfigError, match="norm must be"):
        AccelerationLoss("l3")
