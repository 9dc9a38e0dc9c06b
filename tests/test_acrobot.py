"""The Acrobot: equations against an independent autodiff Lagrangian, energy conserved by the
free flow, the energy balance under the elbow torque, a positive-definite mass matrix, LQR
balancing of the upright links, and the command line."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _cli import run_cli

import physnet as pn
from physnet.control import LQR, closed_loop, settling_time
from physnet.data import Trajectories
from physnet.models import euler_lagrange_acceleration

# not the defaults, so that every constant's place in the equations is checked
M1, M2, L1, L2, LC1, LC2, I1, I2, G = 1.2, 0.8, 1.1, 1.4, 0.45, 0.6, 0.3, 0.2, 9.81
SYSTEM = pn.systems.Acrobot(m1=M1, m2=M2, l1=L1, l2=L2, lc1=LC1, lc2=LC2, i1=I1, i2=I2, g=G)


def _lagrangian(q, qdot):
    """L = T - V from the links' centres of mass in the plane (y up, pivot at the origin) and
    their rotation rates θ̇1 and θ̇1 + θ̇2, written without the mass matrix."""

    def centres(q):
        a1, a2 = q[0], q[0] + q[1]
        c1 = jnp.array([LC1 * jnp.sin(a1), -LC1 * jnp.cos(a1)])
        c2 = jnp.array(
            [L1 * jnp.sin(a1) + LC2 * jnp.sin(a2), -L1 * jnp.cos(a1) - LC2 * jnp.cos(a2)]
        )
        return c1, c2

    (c1, c2), (v1, v2) = jax.jvp(centres, (q,), (qdot,))
    kinetic = 0.5 * (
        M1 * v1 @ v1 + M2 * v2 @ v2 + I1 * qdot[0] ** 2 + I2 * (qdot[0] + qdot[1]) ** 2
    )
    return kinetic - G * (M1 * c1[1] + M2 * c2[1])


def _states(n=8):
    scale = jnp.array([[3.0, 3.0, 2.0, 2.0, 3.0]])
    return jax.random.normal(jax.random.key(0), (n, 5), dtype=jnp.float64) * scale


def test_closed_form_and_hamiltonian_field_match_an_autodiff_lagrangian():
    for s in _states():
        q, qdot, u = s[:2], s[2:4], s[4:]
        reference = euler_lagrange_acceleration(_lagrangian, q, qdot, jnp.array([0.0, u[0]]))
        np.testing.assert_allclose(SYSTEM.acceleration(q, qdot, u), reference, rtol=1e-10)
        assert float(SYSTEM.lagrangian(q, qdot)) == pytest.approx(float(_lagrangian(q, qdot)))
        # the mass matrix is the Hessian of L in q̇
        np.testing.assert_allclose(
            SYSTEM.mass_matrix(q), jax.hessian(_lagrangian, 1)(q, qdot), rtol=1e-12
        )
        # the canonical field (from H) gives the same motion: ṗ = d/dt (M q̇)
        y = SYSTEM.to_canonical(q, qdot)
        f = SYSTEM.vector_field(0.0, y, u)
        np.testing.assert_allclose(f[:2], qdot, rtol=1e-12, atol=1e-12)
        mdot = jax.jvp(SYSTEM.mass_matrix, (q,), (qdot,))[1]
        expected_pdot = SYSTEM.mass_matrix(q) @ reference + mdot @ qdot
        np.testing.assert_allclose(f[2:], expected_pdot, rtol=1e-10, atol=1e-12)
        # and the velocity-coordinate system the same q̈ without the torque
        x = jnp.concatenate([q, qdot])
        free = euler_lagrange_acceleration(_lagrangian, q, qdot, jnp.zeros(2))
        v = SYSTEM.in_velocity_coordinates().vector_field(0.0, x)
        np.testing.assert_allclose(v[2:], free, rtol=1e-10, atol=1e-12)


def test_the_torque_acts_on_the_elbow_only():
    """A torque on a hanging Acrobot at rest turns the two links opposite ways (the elbow
    pushes on the upper link as much as on the lower), and ṗ1 stays zero."""
    y = jnp.zeros(4)
    f = SYSTEM.vector_field(0.0, y, jnp.array([1.0]))
    np.testing.assert_allclose(f, [0.0, 0.0, 0.0, 1.0], atol=1e-15)
    acc = SYSTEM.acceleration(jnp.zeros(2), jnp.zeros(2), jnp.array([1.0]))
    assert float(acc[0]) < 0.0 < float(acc[1])


def test_energy_balance_under_the_torque():
    """dH/dt = (∇H)ᵀ G u = θ̇2 u exactly at random states and inputs (no loss: passive)."""
    for s in _states():
        q, qdot, u = s[:2], s[2:4], s[4:]
        y = SYSTEM.to_canonical(q, qdot)
        grad = jax.grad(SYSTEM.energy)(y)
        power = grad @ SYSTEM.vector_field(0.0, y, u)
        g = SYSTEM.input_matrix(y)
        assert float(power) == pytest.approx(float(grad @ g @ u), rel=1e-10, abs=1e-12)
        assert float(power) == pytest.approx(float(qdot[1] * u[0]), rel=1e-10, abs=1e-12)
        free = SYSTEM.vector_field(0.0, y, None)
        np.testing.assert_allclose(SYSTEM.vector_field(0.0, y, u) - free, g @ u, atol=1e-12)
        assert abs(float(grad @ free)) < 1e-10


def test_free_acrobot_conserves_energy_to_integrator_accuracy():
    """The exact flow with u = 0 conserves H; RK4's error falls as dt⁴ (a factor of 16 per
    halving), so the drift is the integrator's, not the equations'."""
    y0 = SYSTEM.to_canonical(jnp.array([2.5, -1.0]), jnp.array([0.5, 3.0]))  # chaotic
    ts = jnp.linspace(0.0, 5.0, 101)
    drifts = []
    for substeps in (20, 40):
        ys = pn.integrators.solve(SYSTEM.vector_field, y0, ts, substeps=substeps)
        energy = jax.vmap(SYSTEM.energy)(ys)
        drifts.append(float(jnp.max(jnp.abs(energy - energy[0]))))
    assert drifts[1] < 1e-6 and drifts[0] / drifts[1] > 10.0
    assert float(jnp.ptp(ys[:, 1])) > 1.0  # it moved


def test_mass_matrix_is_positive_definite_and_depends_on_the_elbow_only():
    theta2 = jnp.linspace(-jnp.pi, jnp.pi, 73)
    for t2 in theta2:
        m = SYSTEM.mass_matrix(jnp.array([0.7, t2]))
        np.testing.assert_allclose(m, m.T, atol=0)
        assert float(jnp.min(jnp.linalg.eigvalsh(m))) > 0.0
        np.testing.assert_allclose(m, SYSTEM.mass_matrix(jnp.array([-2.0, t2])), rtol=1e-15)
    # det M = d1 d22 - d2², smallest with the links folded straight (cos θ2 = ±1)
    dets = jax.vmap(lambda t2: jnp.linalg.det(SYSTEM.mass_matrix(jnp.array([0.0, t2]))))(theta2)
    assert float(jnp.min(dets)) > 0.0
    with pytest.raises(pn.ConfigError, match="lc2"):
        pn.systems.Acrobot(lc2=0.0)
    with pytest.raises(pn.ConfigError, match="i1"):
        pn.systems.Acrobot(i1=-1.0)


def test_lqr_balances_the_upright_acrobot_with_the_elbow_torque():
    """The upright links are unstable but controllable from the elbow alone: LQR on the true
    Acrobot (Sutton & Barto's constants) brings a nudged state back."""
    system = pn.systems.Acrobot()
    upright = jnp.array([jnp.pi, 0.0, 0.0, 0.0])
    lqr = LQR(system, upright, q=np.eye(4), r=[[1.0]], periodic=(0, 1))
    assert np.max(np.linalg.eigvals(lqr.a).real) > 0 and np.max(lqr.eigenvalues.real) < 0
    start = upright + jnp.array([0.05, -0.05, 0.0, 0.0])
    ts, ys, us = closed_loop(system, lqr, start, period=0.01, n_samples=800)
    assert settling_time(ts, ys, upright, [0.01, 0.01, 0.05, 0.05], periodic=(0, 1)) < 6.0
    # without the controller the same start falls
    free = pn.integrators.solve(system.vector_field, start, ts, substeps=4)
    assert float(jnp.max(jnp.abs(free[:, 0] - jnp.pi))) > 1.0


def test_simulate_acrobot_with_an_input_on_the_command_line(tmp_path, capsys):
    data = tmp_path / "acro.npz"
    code, _, err = run_cli(
        capsys, "simulate", "--system", "acrobot", "--input", "multisine", "--input-rms", 2,
        "--lc2", 0.6, "--n-trajectories", 3, "--t1", 3, "--n-points", 301, "--seed", 4,
        "--out", data,
    )  # fmt: skip
    assert code == 0, err
    loaded = Trajectories.load(data)
    assert loaded.metadata["system"] == "acrobot" and loaded.inputs.shape == (3, 301, 1)
    system = pn.systems.system_from_metadata(loaded.metadata)
    assert system == pn.systems.Acrobot(lc2=0.6)
    # the recorded energy changes by the torque's work: H(t) - H(0) = ∫ θ̇2 u dt
    ts = np.asarray(loaded.ts)
    for b in range(3):
        ys, u = loaded.states[b], loaded.inputs[b, :, 0]
        energy = np.asarray(jax.vmap(system.energy)(ys))
        theta2_dot = np.asarray(jax.vmap(system.to_velocity)(ys))[:, 3]
        power = theta2_dot * u
        work = np.concatenate([[0.0], np.cumsum(0.5 * (power[1:] + power[:-1]) * np.diff(ts))])
        assert np.max(np.abs(work)) > 0.1  # the input did work
        np.testing.assert_allclose(energy - energy[0], work, atol=2e-3 * np.max(np.abs(work)))
