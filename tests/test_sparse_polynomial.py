"""fit_sparse_polynomial_ode: exact recovery of a known sparse polynomial field (the Lorenz
system, written here) from states alone, its terms named, and the threshold selection."""

import numpy as np
import pytest
from flax import nnx
from scipy.integrate import solve_ivp

import physnet as pn
from physnet.training import fit_sparse_polynomial_ode

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
TRUE_TERMS = [
    {"x": -SIGMA, "y": SIGMA},
    {"x": RHO, "y": -1.0, "x z": -1.0},
    {"z": -BETA, "x y": 1.0},
]


def lorenz(t, s):
    x, y, z = s
    return [SIGMA * (y - x), x * (RHO - z) - y, x * y - BETA * z]


@pytest.fixture(scope="module")
def orbits():
    """4 trajectories of 600 points, dt = 0.01, on the attractor (transient of 5 dropped)."""
    rng = np.random.default_rng(0)
    ts = np.linspace(0.0, 6.0, 601)
    out = []
    for _ in range(4):
        y0 = solve_ivp(lorenz, (0, 5), rng.normal(size=3) * 5, rtol=1e-12, atol=1e-12).y[:, -1]
        out.append(solve_ivp(lorenz, (0, 6), y0, t_eval=ts, rtol=1e-12, atol=1e-12).y.T)
    return ts, np.stack(out)


def _assert_lorenz(fit, rtol):
    terms = fit.terms()
    for found, true in zip(terms, TRUE_TERMS, strict=True):
        assert set(found) == set(true), (found, true)
        for name, c in true.items():
            assert found[name] == pytest.approx(c, rel=rtol), (name, found[name], c)


@pytest.mark.parametrize("form, rtol", [("weak", 1e-4), ("strong", 1e-3)])
@pytest.mark.parametrize("selection", ["cv", "aicc"])
def test_clean_lorenz_is_recovered_exactly_with_named_terms(orbits, form, rtol, selection):
    ts, states = orbits
    fit = fit_sparse_polynomial_ode(
        ts, states[:3], degree=3, form=form, selection=selection, names=("x", "y", "z")
    )
    _assert_lorenz(fit, rtol)
    assert fit.support.sum() == 7  # of 3 x 20 monomials
    assert fit.equations(3)[0] == "dx/dt = 10 y - 10 x"  # by total degree, then exponents


def test_selection_on_held_out_trajectories_recovers_the_support_under_noise(orbits):
    ts, states = orbits
    rng = np.random.default_rng(1)
    noisy = states[:3] + 0.01 * states.std(axis=(0, 1)) * rng.standard_normal(states[:3].shape)
    fit = fit_sparse_polynomial_ode(
        ts, noisy, degree=3, form="weak", selection="aicc", validation=(ts, states[3:]),
        names=("x", "y", "z"),
    )  # fmt: skip
    _assert_lorenz(fit, 5e-2)  # exact support; the small -y of dy/dt within 5 %
    # the smallest threshold alone keeps spurious terms: the selection is what removes them
    loose = fit_sparse_polynomial_ode(ts, noisy, degree=3, form="weak", thresholds=[1e-4])
    assert loose.support.sum() > 7
    assert (fit.thresholds > 1e-4).all()


def test_the_fit_is_a_polynomial_approximator_of_the_same_field(orbits):
    ts, states = orbits
    fit = fit_sparse_polynomial_ode(ts, states[:2], degree=3, form="weak")
    poly = fit.to_polynomial(rngs=nnx.Rngs(0))
    y = np.array([1.0, -2.0, 20.0])
    np.testing.assert_allclose(np.asarray(poly(y)), fit.vector_field(y), rtol=1e-12)
    np.testing.assert_allclose(fit.vector_field(y), lorenz(0.0, y), rtol=1e-4)
    model = pn.NeuralODE(poly)
    np.testing.assert_allclose(np.asarray(model(0.0, y)), fit.vector_field(y), rtol=1e-12)


def test_bad_input_gives_one_clear_line(orbits):
    ts, states = orbits
    with pytest.raises(pn.ConfigError, match="form must be one of strong, weak"):
        fit_sparse_polynomial_ode(ts, states, form="mild")
    with pytest.raises(pn.ConfigError, match="selection must be one of"):
        fit_sparse_polynomial_ode(ts, states, selection="bic")
    bad = states.copy()
    bad[0, 3, 1] = np.nan
    with pytest.raises(pn.DataError, match="NaN or inf"):
        fit_sparse_polynomial_ode(ts, bad)
    with pytest.raises(pn.DataError, match="ts must be increasing"):
        fit_sparse_polynomial_ode(ts[::-1], states)


def henon_heiles(t, s):
    x, y, px, py = s
    return [px, py, -x - 2 * x * y, -y - x**2 + y**2]


def _energy(s):
    x, y, px, py = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
    return 0.5 * (px**2 + py**2 + x**2 + y**2) + x**2 * y - y**3 / 3


@pytest.fixture(scope="module")
def one_shell():
    """Hénon-Heiles, 4 trajectories cut from one orbit: every state on the energy shell
    H = E, so on these data (H - E)·m is zero for m in {1, x, y, px, py} and the degree-4
    library has five exactly dependent columns."""
    ts = np.linspace(0.0, 40.0, 801)
    sol = solve_ivp(henon_heiles, (0, 4 * 40.0), [0.1, -0.2, 0.3, 0.25], rtol=1e-12, atol=1e-12,
                    dense_output=True)  # fmt: skip
    states = np.stack([sol.sol(ts + 40.0 * k).T for k in range(4)])
    return ts, states, float(_energy(states[0, 0]))


@pytest.mark.parametrize("form", ["weak", "strong"])
def test_data_on_one_energy_shell_give_the_lowest_degree_field_and_the_shell(one_shell, form):
    """Without leaving the dependent columns out, least squares adds an arbitrary multiple
    of (H - E)·m to every equation (the dysts Hénon-Heiles case: coefficient error 8e2)."""
    ts, states, energy = one_shell
    names = ("x", "y", "px", "py")
    fit = fit_sparse_polynomial_ode(ts, states, degree=4, form=form, selection="aicc", names=names)
    true = [
        {"px": 1.0},
        {"py": 1.0},
        {"x": -1.0, "x y": -2.0},
        {"y": -1.0, "x^2": -1.0, "y^2": 1.0},
    ]
    for found, want in zip(fit.terms(), true, strict=True):
        assert set(found) == set(want), (found, want)
        for name, c in want.items():
            assert found[name] == pytest.approx(c, rel=1e-4)
    assert len(fit.relations) == 5
    # the first relation is the energy shell itself: H - E = 0, scaled to its left-out monomial
    shell = fit.relations[0]
    ((leading, one),) = [(k, v) for k, v in shell.items() if v == 1.0]
    scale = {"x^2 y": 1.0, "y^3": -1 / 3}[leading]
    want = {"1": -energy, "x^2": 0.5, "y^2": 0.5, "px^2": 0.5, "py^2": 0.5, "x^2 y": 1.0,
            "y^3": -1 / 3}  # fmt: skip
    assert set(shell) == set(want)
    for name, c in want.items():
        assert shell[name] == pytest.approx(c / scale, rel=1e-6, abs=1e-9)
    assert fit.relation_equations()[0].endswith("= 0")
    # with every column kept (dependence_tol=0) the same data give a wrong field
    kept = fit_sparse_polynomial_ode(
        ts, states, degree=4, form=form, selection="aicc", names=names, dependence_tol=0
    )
    assert not kept.relations
    assert [set(t) for t in kept.terms()] != [set(t) for t in true]
