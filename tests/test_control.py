"""Control with a model (physnet.control): energy shaping, LQR, MPC, the closed loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physnet as pn
from physnet.control import (
    LQR,
    MPC,
    AbstractController,
    EnergyShaping,
    Switched,
    closed_loop,
    quadratic_cost,
    settling_time,
)
from physnet.signals import Interpolated

UPRIGHT = jnp.array([jnp.pi, 0.0])


class ZeroInput(AbstractController):
    input_size = 1

    def feedback(self, y):
        return jnp.zeros((1,))


def test_energy_shaping_with_the_true_h_and_g_brings_h_monotonically_to_the_target():
    """dH/dt = -k (H - H*) ω² on the undamped pendulum: |H - H*| never grows (a wrong sign of
    the law makes it grow), and it ends near 0."""
    system = pn.systems.DrivenPendulum()
    law = EnergyShaping(system, UPRIGHT, gain=0.05, bound=100.0)
    assert float(law.target_energy) == pytest.approx(2 * 9.81)

    def gap_along(law, t1):
        """|H - H*| along the continuous closed loop u = κ(y(t))."""
        field = lambda t, y, args: system.vector_field(t, y, law.feedback(y))  # noqa: E731
        ts = jnp.linspace(0.0, t1, 1001)
        ys = pn.integrators.solve(field, jnp.array([0.3, 0.0]), ts, substeps=10)
        us = jax.vmap(law.feedback)(ys)
        return np.abs(np.asarray(jax.vmap(system.energy)(ys)) - 2 * 9.81), us

    gap, us = gap_along(law, 10.0)
    assert np.max(np.abs(us)) < 100.0  # never saturated
    assert np.all(np.diff(gap) <= 1e-10 * gap[0])
    assert gap[-1] < 0.02 * gap[0]
    law.gain = -0.05  # the wrong sign pumps energy the wrong way
    gap_wrong, _ = gap_along(law, 1.0)
    assert gap_wrong[-1] > gap_wrong[0]
    # the digital loop (held inputs) gets there as well
    law.gain = 0.05
    ts, ys, _ = closed_loop(system, law, jnp.array([0.3, 0.0]), period=0.005, n_samples=2000)
    assert abs(float(system.energy(ys[-1])) - 2 * 9.81) < 0.02 * gap[0]


def test_energy_shaping_reads_h_and_g_of_a_port_model():
    model = pn.build_model("port-hnn", 2, "mlp", seed=0, input_size=1, input_form="known")
    law = EnergyShaping(model, UPRIGHT, gain=1.0, bound=2.0)
    y = jnp.array([0.4, -0.7])
    expected = jax.grad(model.energy)(y)[1]  # G = (0, 1)ᵀ: the output is ∂H/∂p
    assert float(law.output(y)[0]) == pytest.approx(float(expected))
    u = law.feedback(y)
    assert u.shape == (1,) and abs(float(u[0])) <= 2.0


def test_lqr_stabilises_the_upright_pendulum():
    system = pn.systems.DrivenPendulum(friction=0.1)
    lqr = LQR(system, UPRIGHT, q=np.diag([10.0, 1.0]), r=[[1.0]], periodic=(0,))
    # the linearisation: q̈ = g sin-slope (+9.81 at the top) - b q̇ + u
    np.testing.assert_allclose(lqr.a, [[0.0, 1.0], [9.81, -0.1]], atol=1e-12)
    np.testing.assert_allclose(lqr.b, [[0.0], [1.0]], atol=1e-12)
    assert np.max(np.linalg.eigvals(lqr.a).real) > 0  # upright is unstable open-loop
    assert np.max(lqr.eigenvalues.real) < 0
    a, b, p, k = lqr.a, lqr.b, lqr.riccati, lqr.gain
    residual = a.T @ p + p @ a - p @ b @ k + np.diag([10.0, 1.0])
    np.testing.assert_allclose(residual, 0.0, atol=1e-9)
    ts, ys, _ = closed_loop(
        system, lqr, UPRIGHT + jnp.array([-0.3, 0.2]), period=0.01, n_samples=500
    )
    assert float(jnp.max(jnp.abs(ys[-1] - UPRIGHT))) < 1e-3
    assert settling_time(ts, ys, UPRIGHT, [0.1, 0.2], periodic=(0,)) < 5.0


def test_swing_up_from_hanging_with_energy_shaping_and_lqr_on_the_true_model():
    system = pn.systems.DrivenPendulum(friction=0.1)
    lqr = LQR(system, UPRIGHT, q=np.diag([10.0, 1.0]), r=[[1.0]], periodic=(0,), bound=3.0)
    law = Switched(lqr, EnergyShaping(system, UPRIGHT, gain=1.0, bound=3.0), level=2.0)
    ts, ys, us = closed_loop(system, law, jnp.array([0.1, 0.0]), period=0.02, n_samples=500)
    assert np.max(np.abs(np.asarray(us))) <= 3.0
    assert settling_time(ts, ys, UPRIGHT, [0.1, 0.2], periodic=(0,)) < 10.0


def test_mpc_on_a_linear_system_costs_less_than_no_input():
    system = pn.systems.MassSpringDamper(damping=0.1)
    cost = quadratic_cost(jnp.zeros(2), [1.0, 1.0], [0.1])
    mpc = MPC(system, cost, period=0.1, horizon=15, bound=2.0, iterations=30, learning_rate=0.2)
    y0 = jnp.array([1.0, 0.0])

    def total(controller):
        _, ys, us = closed_loop(system, controller, y0, period=0.1, n_samples=60)
        return float(0.1 * jnp.sum(jax.vmap(cost)(ys[1:], us)))

    assert total(mpc) < 0.6 * total(ZeroInput())


def test_held_pieces_are_a_zero_order_hold_and_differentiable():
    knots = jnp.array([0.0, 0.5, 1.0, 1.5])
    u = jnp.array([[1.0], [-2.0], [3.0]])
    signal = Interpolated.held(knots, u)
    reference = Interpolated.from_samples(knots, jnp.concatenate([u, u[-1:]]), "zoh")
    for t in [0.0, 0.2, 0.5, 0.7, 1.2, 1.5, 2.0]:
        assert float(signal(t)[0]) == pytest.approx(float(reference(t)[0]))
    g = jax.grad(lambda v: Interpolated.held(knots, v)(0.7)[0])(u)
    np.testing.assert_allclose(g, [[0.0], [1.0], [0.0]])


def test_bad_inputs_are_refused_in_one_line():
    free = pn.build_model("port-hnn", 2, "mlp", seed=0)
    node = pn.build_model("node", 2, "mlp", seed=0)
    cost = quadratic_cost(jnp.zeros(2), [1.0, 1.0], [0.1])
    cases = [
        lambda: EnergyShaping(free, UPRIGHT, gain=1.0, bound=1.0),
        lambda: EnergyShaping(pn.systems.Pendulum(), UPRIGHT, gain=1.0, bound=1.0),
        lambda: LQR(node, UPRIGHT, q=np.eye(2), r=[[1.0]]),
        lambda: MPC(node, cost, period=0.1, horizon=5, bound=1.0),
        lambda: LQR(pn.systems.DrivenPendulum(), UPRIGHT, q=np.eye(3), r=[[1.0]]),
        lambda: closed_loop(pn.systems.Pendulum(), ZeroInput(), UPRIGHT, period=0.1, n_samples=2),
        lambda: closed_loop(
            pn.systems.DrivenPendulum(), ZeroInput(), jnp.zeros(3), period=0.1, n_samples=2
        ),
        lambda: EnergyShaping(pn.systems.DrivenPendulum(), UPRIGHT, gain=-1.0, bound=1.0),
    ]
    for case in cases:
        with pytest.raises(pn.ConfigError) as info:
            case()
        assert "\n" not in str(info.value)
    wide = ZeroInput()
    wide.input_size = 2
    with pytest.raises(pn.ConfigError, match="2 input"):
        closed_loop(pn.systems.DrivenPendulum(), wide, UPRIGHT, period=0.1, n_samples=2)


def test_settling_time_reads_the_last_entry_into_the_tolerance():
    ts = jnp.arange(5.0)
    ys = jnp.array([[0.0, 0.0], [3.1, 0.0], [0.0, 0.0], [3.1, 0.1], [-3.15, 0.0]])
    assert settling_time(ts, ys, UPRIGHT, [0.1, 0.2], periodic=(0,)) == 3.0
    assert settling_time(ts, ys[:3], UPRIGHT, [0.1, 0.2], periodic=(0,)) == float("inf")
