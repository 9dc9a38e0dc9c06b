"""The single solver entry ``physnet.integrators.solve`` and its callers."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import physnet as pn
from physnet.integrators import SOLVERS, get_adjoint, get_solver, solve, substep_times
from physnet.training import _trajectory_loss

SYSTEM = pn.systems.HarmonicOscillator(1.0)
Y0 = jnp.array([1.0, 0.5])
# non-uniform recording times, as measured data bring them
TS = jnp.array([0.0, 0.13, 0.4, 0.45, 0.9, 1.3, 1.37, 2.0])

# (substeps, tolerance on the max error against the exact solution) per registered name
ACCURACY = {
    "euler": (2000, 2e-3),
    "midpoint": (100, 1e-4),
    "heun3": (100, 1e-6),
    "rk4": (20, 1e-8),
    "leapfrog": (100, 1e-4),
    "implicit-midpoint": (100, 1e-4),
    "tsit5": (1, 1e-8),
    "dopri5": (1, 1e-8),
    "dopri8": (1, 1e-8),
    "heun": (1, 1e-8),
    "bosh3": (1, 1e-8),
}


def test_every_registered_solver_is_covered():
    assert set(SOLVERS) == set(ACCURACY)


@pytest.mark.parametrize("name", list(ACCURACY))
def test_every_solver_matches_the_exact_solution_on_nonuniform_times(name):
    substeps, tol = ACCURACY[name]
    ys = solve(SYSTEM.vector_field, Y0, TS, solver=name, substeps=substeps)
    exact = SYSTEM.solution(Y0, TS)
    assert ys.shape == (TS.shape[0], 2)
    np.testing.assert_array_equal(ys[0], Y0)
    assert float(jnp.max(jnp.abs(ys - exact))) < tol, name


@pytest.mark.parametrize("solver, order", [("rk4", 4), ("leapfrog", 2), (diffrax.Euler(), 1)])
def test_convergence_order_on_nonuniform_times(solver, order):
    """Fixed-step methods take ``substeps`` equal steps in every recording interval, so the
    error at every recorded time falls as substeps^-order even on an uneven grid."""
    exact = SYSTEM.solution(Y0, TS)
    errors = []
    substeps = np.array([4, 8, 16, 32])
    for n in substeps:
        ys = solve(SYSTEM.vector_field, Y0, TS, solver=solver, substeps=int(n))
        errors.append(float(jnp.max(jnp.abs(ys - exact))))
    slope = -np.polyfit(np.log(substeps), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.15, (solver, slope, errors)


def test_substep_times_contain_the_recording_times():
    grid = substep_times(TS, 3)
    assert grid.shape == (3 * (TS.shape[0] - 1) + 1,)
    np.testing.assert_array_equal(grid[::3], TS)
    np.testing.assert_allclose(np.diff(grid[:4]), np.full(3, 0.13 / 3), rtol=1e-12)


def test_single_time_returns_the_initial_state():
    for name in ("rk4", "tsit5", "heun"):
        ys = solve(SYSTEM.vector_field, Y0, TS[:1], solver=name)
        np.testing.assert_array_equal(ys, Y0[None])


def test_registry_errors_name_the_value_and_the_choices():
    with pytest.raises(pn.ConfigError, match=r"unknown solver 'rk5'.*rk4.*leapfrog.*tsit5"):
        solve(SYSTEM.vector_field, Y0, TS, solver="rk5")
    with pytest.raises(pn.ConfigError, match="unknown solver"):
        get_solver(3)
    assert isinstance(get_solver("tsit5"), diffrax.Tsit5)
    stepper = pn.integrators.Leapfrog()
    assert get_solver(stepper) is stepper


def test_adjoint_only_for_diffrax_solvers():
    with pytest.raises(pn.ConfigError, match="diffrax solvers only"):
        solve(SYSTEM.vector_field, Y0, TS, solver="rk4", adjoint="backsolve")
    with pytest.raises(pn.ConfigError, match=r"unknown adjoint 'forward'.*recursive, backsolve"):
        solve(SYSTEM.vector_field, Y0, TS, solver="tsit5", adjoint="forward")
    assert get_adjoint(None, get_solver("rk4")) is None
    assert isinstance(get_adjoint(None, diffrax.Tsit5()), diffrax.RecursiveCheckpointAdjoint)
    assert isinstance(get_adjoint("backsolve", diffrax.Tsit5()), diffrax.BacksolveAdjoint)
    with pytest.raises(pn.ConfigError, match="substeps"):
        solve(SYSTEM.vector_field, Y0, TS, substeps=0)
    with pytest.raises(pn.ConfigError, match="ts must be a 1-D"):
        solve(SYSTEM.vector_field, Y0, TS[None])


def test_adjoints_give_the_same_gradient():
    """Backsolve (continuous adjoint) and recursive (backprop) agree, with the parameter
    passed as ``args``; a physnet stepper is differentiated through its scan."""

    def field(t, y, omega):
        return jnp.stack([y[1], -(omega**2) * y[0]])

    def loss(omega, **options):
        return jnp.sum(solve(field, Y0, TS, args=omega, **options)[-1] ** 2)

    tight = dict(solver="tsit5", rtol=1e-12, atol=1e-12)
    g_recursive = jax.grad(lambda w: loss(w, adjoint="recursive", **tight))(1.3)
    g_backsolve = jax.grad(lambda w: loss(w, adjoint="backsolve", **tight))(1.3)
    g_rk4 = jax.grad(lambda w: loss(w, solver="rk4", substeps=50))(1.3)
    np.testing.assert_allclose(g_backsolve, g_recursive, rtol=1e-7)
    np.testing.assert_allclose(g_rk4, g_recursive, rtol=1e-7)


def test_failed_solve_is_non_finite_without_throw():
    ys = solve(SYSTEM.vector_field, Y0, TS, solver="tsit5", max_steps=2, throw=False)
    assert not bool(jnp.all(jnp.isfinite(ys)))
    ok = solve(SYSTEM.vector_field, Y0, TS, solver="tsit5", throw=False)
    assert bool(jnp.all(jnp.isfinite(ok)))


@pytest.mark.parametrize("solver", ["rk4", "tsit5", "heun"])
def test_rollout_is_vmapped_solve(solver):
    model = pn.HNN(pn.MLP(2, 1, width=8, rngs=nnx.Rngs(0)))
    y0 = jnp.array([[0.1, 0.2], [0.3, -0.4]])
    options = dict(solver=solver, substeps=3)
    expected = jax.jit(jax.vmap(lambda y: solve(model, y, TS, **options)))(y0)
    np.testing.assert_array_equal(pn.rollout(model, y0, TS, **options), expected)
    expected = jax.vmap(lambda y: solve(SYSTEM.vector_field, y, TS, **options))(y0)
    got = pn.rollout(SYSTEM.vector_field, y0, TS, **options)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("options", [{"solver": "rk4", "substeps": 2}, {"solver": "tsit5"}])
def test_trajectory_loss_integrates_with_solve(monkeypatch, options):
    model = pn.HNN(pn.MLP(2, 1, width=8, rngs=nnx.Rngs(1)))
    states = jax.vmap(lambda y: SYSTEM.solution(y, TS))(jnp.array([[1.0, 0.0], [0.0, 0.7]]))
    data = pn.Trajectories(ts=TS, states=states)
    loss = pn.TrajectoryLoss(window=3, **options)
    batch = loss.prepare(data)
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return solve(*args, **kwargs)

    monkeypatch.setattr(_trajectory_loss, "solve", spy)
    pred = loss.predict(model, batch)
    assert calls and calls[0]["solver"] is loss.solver and calls[0]["throw"] is False
    # each window equals solve from its first observed state on its own (uneven) times
    for k in range(batch["ts"].shape[0]):
        expected = solve(
            model,
            batch["ys"][k, 0],
            batch["ts"][k],
            solver=loss.solver,
            substeps=loss.substeps,
            rtol=loss.rtol,
            atol=loss.atol,
        )
        np.testing.assert_allclose(pred[k], expected, rtol=1e-12, atol=1e-14)
