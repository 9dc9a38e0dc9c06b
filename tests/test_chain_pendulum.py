"""The N-link chain pendulum: its equations against an independent Lagrangian derivation by
autodiff, agreement with DoublePendulum, energy and constraints conserved by the exact flow,
angle <-> Cartesian conversions, and the constrained flow equal to the angle flow."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physnet as pn
from physnet.integrators import solve
from physnet.systems import (
    CartesianChainPendulum,
    ChainConstraints,
    ChainPendulum,
    DoublePendulum,
    constraint_drift,
    project_onto_manifold,
)


def _independent_acceleration(n, m, l, g, q, qdot):
    """θ̈ from L = T - V written on the bobs' Cartesian positions, by autodiff."""

    def lagrangian(q, qdot):
        def positions(q):
            xs, ys, x, y = [], [], 0.0, 0.0
            for k in range(n):  # a loop over the rods, no matrix formula
                x, y = x + l * jnp.sin(q[k]), y - l * jnp.cos(q[k])
                xs.append(x)
                ys.append(y)
            return jnp.stack(xs), jnp.stack(ys)

        (x, y), (vx, vy) = jax.jvp(positions, (q,), (qdot,))
        return 0.5 * m * jnp.sum(vx**2 + vy**2) - m * g * jnp.sum(y)

    h = jax.hessian(lagrangian, argnums=1)(q, qdot)
    mixed = jax.jacfwd(jax.grad(lagrangian, argnums=1), argnums=0)(q, qdot)
    return jnp.linalg.solve(h, jax.grad(lagrangian, argnums=0)(q, qdot) - mixed @ qdot)


@pytest.mark.parametrize("n", [2, 3])
def test_chain_accelerations_match_an_independent_lagrangian_by_autodiff(n):
    s = ChainPendulum(n=n, mass=1.3, length=0.8, g=9.8)
    kq, kv = jax.random.split(jax.random.key(n))
    qs = jax.random.uniform(kq, (5, n), minval=0.0, maxval=2 * jnp.pi, dtype=jnp.float64)
    qdots = jax.random.uniform(kv, (5, n), minval=-5.0, maxval=5.0, dtype=jnp.float64)

    @jax.jit
    @jax.vmap
    def accelerations(q, qdot):
        want = _independent_acceleration(n, s.mass, s.length, s.g, q, qdot)
        # the closed form, and the canonical vector field's own derivative
        generic = pn.systems.AbstractSystem.acceleration(s, q, qdot)
        return want, s.acceleration(q, qdot), generic

    want, closed, generic = accelerations(qs, qdots)
    np.testing.assert_allclose(closed, want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(generic, want, rtol=1e-9, atol=1e-9)


def test_two_link_chain_is_the_double_pendulum():
    chain, double = (
        ChainPendulum(n=2, mass=0.7, length=1.3, g=9.8),
        DoublePendulum(m1=0.7, m2=0.7, l1=1.3, l2=1.3, g=9.8),
    )
    ys = double.sample_initial_states(jax.random.key(0), 6, 1.0)

    @jax.jit
    @jax.vmap
    def both(y):
        q, qdot = y[:2], double.to_velocity(y)[2:]
        return [
            (f(q), g(q))
            for f, g in [
                (chain.mass_matrix, double.mass_matrix),
                (lambda q_: chain.energy(y), lambda q_: double.energy(y)),
                (lambda q_: chain.vector_field(0.0, y), lambda q_: double.vector_field(0.0, y)),
                (lambda q_: chain.acceleration(q_, qdot), lambda q_: double.acceleration(q_, qdot)),
            ]
        ]

    for got, want in both(ys):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-11)
    assert ChainPendulum().max_potential_energy == pytest.approx(29.4)


@pytest.mark.parametrize("n", [3, 5])
def test_energy_is_conserved_by_the_exact_flow(n):
    s = ChainPendulum(n=n)
    ts = jnp.linspace(0.0, 2.0, 3)
    y0s = s.sample_initial_states(jax.random.key(1), 3, 0.5)
    paths = jax.jit(jax.vmap(lambda y: solve(s.vector_field, y, ts, substeps=400)))
    for ys in paths(y0s):
        e = jax.vmap(s.energy)(ys)
        assert float(jnp.max(jnp.abs(e - e[0]))) < 1e-8 * max(1.0, float(jnp.abs(e[0])))


@pytest.mark.parametrize("n", [1, 3, 5])
def test_cartesian_conversions_invert_and_land_on_the_manifold(n):
    s = ChainPendulum(n=n, mass=1.5, length=0.7)
    c = s.cartesian()
    ys = s.sample_initial_states(jax.random.key(2), 4, 1.0)

    @jax.jit
    @jax.vmap
    def convert(y):
        z = s.to_cartesian(y)
        return z, s.from_cartesian(z), c.constraints(z[: 2 * n]), c.energy(z), s.energy(y)

    zs, back, phi, e_cart, e_angle = convert(ys)
    assert zs.shape == (4, 4 * n)
    assert float(jnp.max(jnp.abs(phi))) < 1e-14
    np.testing.assert_allclose(jnp.cos(back[:, :n]), jnp.cos(ys[:, :n]), atol=1e-13)
    np.testing.assert_allclose(jnp.sin(back[:, :n]), jnp.sin(ys[:, :n]), atol=1e-13)
    np.testing.assert_allclose(back[:, n:], ys[:, n:], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(e_cart, e_angle, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3])
def test_constrained_cartesian_flow_equals_the_angle_flow(n):
    """Two different formulations (angles; Cartesian + projected Hamilton's equations) give the
    same motion, and the constrained flow keeps H and φ to integrator accuracy."""
    s = ChainPendulum(n=n)
    c = s.cartesian()
    ts = jnp.linspace(0.0, 2.0, 9)
    y0 = s.sample_initial_states(jax.random.key(3), 1, 0.8)[0]

    @jax.jit
    def flows(y0):
        angle = solve(s.vector_field, y0, ts, substeps=200)
        cart = solve(c.vector_field, s.to_cartesian(y0), ts, substeps=200)
        drift = constraint_drift(c.constraints, cart)
        return jax.vmap(s.to_cartesian)(angle), cart, jax.vmap(c.energy)(cart), drift

    mapped, cart, e, drift = flows(y0)
    np.testing.assert_allclose(cart, mapped, atol=1e-7)
    assert float(jnp.max(jnp.abs(e - e[0]))) < 1e-8 * max(1.0, float(jnp.abs(e[0])))
    assert float(jnp.max(drift)) < 1e-8


def test_projection_keeps_states_on_the_manifold_to_round_off():
    s = ChainPendulum(n=3, mass=2.0)
    c = s.cartesian()
    z = s.to_cartesian(s.sample_initial_states(jax.random.key(4), 1, 1.0)[0])
    metric = jnp.eye(6) / s.mass
    # on the manifold: projection changes nothing (to round-off)
    np.testing.assert_allclose(
        project_onto_manifold(c.constraints, z, metric=metric), z, atol=1e-14
    )
    # off the manifold: brought back to round-off, positions and momenta alike
    off = z + 1e-2 * jax.random.normal(jax.random.key(5), z.shape)
    on = project_onto_manifold(c.constraints, off, metric=metric)
    assert float(jnp.max(jnp.abs(c.constraints(on[:6])))) < 1e-14
    velocity_constraint = jax.jvp(c.constraints, (on[:6],), (on[6:] / s.mass,))[1]
    assert float(jnp.max(jnp.abs(velocity_constraint))) < 1e-13


def test_bad_chain_arguments_are_one_line_errors():
    with pytest.raises(pn.ConfigError, match="n must be an integer >= 1, got 2.5"):
        ChainPendulum(n=2.5)
    with pytest.raises(pn.ConfigError, match="length"):
        ChainConstraints(2, -1.0)
    assert pn.systems.SYSTEMS["chain-pendulum"] is ChainPendulum
    assert pn.systems.SYSTEMS["chain-pendulum-cartesian"] is CartesianChainPendulum
