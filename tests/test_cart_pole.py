"""The cart-pole: equations against an independent autodiff Lagrangian, the energy balance
under the input, and control of it with physnet.control."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physnet as pn
from physnet.control import LQR, closed_loop, settling_time
from physnet.models import euler_lagrange_acceleration

SYSTEM = pn.systems.CartPole(
    cart_mass=1.3, pole_mass=0.2, length=0.7, gravity=9.81, cart_friction=0.05, pole_friction=0.02
)


def _lagrangian(q, qdot):
    """L = T - V written from the bob's Cartesian position (x + l sin θ, -l cos θ)."""
    big, m, l, g = 1.3, 0.2, 0.7, 9.81
    bob_velocity = jnp.array([qdot[0] + l * jnp.cos(q[1]) * qdot[1], l * jnp.sin(q[1]) * qdot[1]])
    kinetic = 0.5 * big * qdot[0] ** 2 + 0.5 * m * bob_velocity @ bob_velocity
    return kinetic - m * g * (-l * jnp.cos(q[1]))


def _states(n=6):
    return jax.random.normal(jax.random.key(0), (n, 5)) * jnp.array([[1.0, 2.0, 1.0, 2.0, 1.0]])


def test_closed_form_and_hamiltonian_field_match_an_autodiff_lagrangian():
    for s in _states():
        q, qdot, u = s[:2], s[2:4], s[4:]
        force = jnp.array([u[0] - 0.05 * qdot[0], -0.02 * qdot[1]])
        reference = euler_lagrange_acceleration(_lagrangian, q, qdot, force)
        np.testing.assert_allclose(SYSTEM.acceleration(q, qdot, u), reference, rtol=1e-10)
        assert float(SYSTEM.lagrangian(q, qdot)) == pytest.approx(float(_lagrangian(q, qdot)))
        # the canonical field (from H) gives the same motion: ṗ = d/dt (M q̇)
        y = SYSTEM.to_canonical(q, qdot)
        f = SYSTEM.vector_field(0.0, y, u)
        np.testing.assert_allclose(f[:2], qdot, rtol=1e-12, atol=1e-12)
        mdot = jax.jvp(SYSTEM.mass_matrix, (q,), (qdot,))[1]
        expected_pdot = SYSTEM.mass_matrix(q) @ reference + mdot @ qdot
        np.testing.assert_allclose(f[2:], expected_pdot, rtol=1e-10, atol=1e-12)


def test_energy_balance_under_the_input():
    """dH/dt = ẋ u - b_x ẋ² - b_θ θ̇², exactly, at random states and inputs."""
    for s in _states():
        q, qdot, u = s[:2], s[2:4], s[4:]
        y = SYSTEM.to_canonical(q, qdot)
        power = jax.grad(SYSTEM.energy)(y) @ SYSTEM.vector_field(0.0, y, u)
        expected = qdot[0] * u[0] - 0.05 * qdot[0] ** 2 - 0.02 * qdot[1] ** 2
        assert float(power) == pytest.approx(float(expected), rel=1e-10, abs=1e-12)
        g = SYSTEM.input_matrix(y)
        free = SYSTEM.vector_field(0.0, y, None)
        np.testing.assert_allclose(SYSTEM.vector_field(0.0, y, u) - free, g @ u, atol=1e-12)


def test_free_cart_pole_conserves_energy_and_momentum_without_friction():
    system = pn.systems.CartPole()
    y0 = system.to_canonical(jnp.array([0.0, 2.0]), jnp.array([0.3, 0.0]))
    ys = pn.integrators.solve(system.vector_field, y0, jnp.linspace(0.0, 5.0, 101), substeps=20)
    energy = jax.vmap(system.energy)(ys)
    assert float(jnp.max(jnp.abs(energy - energy[0]))) < 1e-7
    np.testing.assert_allclose(ys[:, 2], y0[2], atol=1e-10)  # p_x: no horizontal force


def test_lqr_balances_the_upright_pole_on_the_true_cart_pole():
    system = pn.systems.CartPole()
    upright = jnp.array([0.0, jnp.pi, 0.0, 0.0])
    lqr = LQR(system, upright, q=np.diag([1.0, 10.0, 1.0, 1.0]), r=[[0.1]], periodic=(1,))
    assert np.max(np.linalg.eigvals(lqr.a).real) > 0 and np.max(lqr.eigenvalues.real) < 0
    start = upright + jnp.array([0.2, 0.15, 0.0, 0.0])
    ts, ys, _ = closed_loop(system, lqr, start, period=0.01, n_samples=600)
    assert settling_time(ts, ys, upright, [0.05, 0.02, 0.05, 0.05], periodic=(1,)) < 6.0


class _ReversedForce(pn.systems.CartPole):
    """A wrong model of the cart-pole: the force pushes the cart the other way."""

    def vector_field(self, t, y, args=None):
        return super().vector_field(t, y, None if args is None else -args)


def test_control_study_reference_row_and_its_true_loop_check():
    """The cart-pole control study (experiments/control/cart_pole.py): the LQR of the true
    field balances the true cart-pole from every stated start, and a design on a model whose
    input has the wrong sign is flagged by the true loop's eigenvalues and fails every start."""
    import dataclasses

    from physnet.reproduce._control_cart_pole import (
        CartPoleControlConfig,
        evaluate_design,
        table,
    )

    cfg = dataclasses.replace(CartPoleControlConfig(), duration=5.0, settle_by=4.0)
    row, trials = evaluate_design("true", None, pn.systems.CartPole(), cfg)
    assert row["successes"] == len(cfg.starts) == 4
    lqr = LQR(pn.systems.CartPole(), jnp.array([0.0, jnp.pi, 0.0, 0.0]),
              q=np.diag(cfg.lqr_weights), r=[[cfg.input_weight]], periodic=(1,))  # fmt: skip
    assert row["true_loop_max_real"] == pytest.approx(float(np.max(lqr.eigenvalues.real)))
    assert row["true_loop_max_real"] < 0
    assert all(abs(t["final_x"]) < cfg.tolerance[0] for t in trials)
    wrong, wrong_trials = evaluate_design("reversed", 0, _ReversedForce(), cfg)
    np.testing.assert_allclose(wrong["gain"], -np.asarray(row["gain"]), rtol=1e-9)
    assert wrong["true_loop_max_real"] > 0 and wrong["successes"] == 0
    text = table(
        [row, wrong], trials + wrong_trials, dataclasses.replace(cfg, models=("reversed",))
    )
    assert "| true | 4 of 4 |" in text and "| reversed | 0 of 4 |" in text
