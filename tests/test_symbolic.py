"""Symbolic fitting of KAN edges, sparse polynomial regression and physics read-outs."""

import json

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn
from physnet.approximators import update_grids
from physnet.cli import main
from physnet.interpret import (
    coefficient_errors,
    duffing_coefficients,
    fit_library,
    fit_polynomial,
    fit_sparse_polynomial,
    read_damping,
    read_hamiltonian,
    read_lagrangian,
    stlsq,
    symbolic_formula,
)
from physnet.reproduce._common import DataConfig, make_data
from physnet.training import fit_function


# ----------------------------------------------------------------------- library snapping
@pytest.mark.parametrize(
    ("name", "fn", "expected"),
    [
        ("x^2", lambda x: 1.7 * (x + 0.3) ** 2 - 0.4, (1.0, 0.3, 1.7, -0.4)),
        ("sin", lambda x: 0.8 * np.sin(2.1 * x - 0.5) + 0.2, (2.1, -0.5, 0.8, 0.2)),
        ("sin", lambda x: np.sin(7.3 * x + 1.0), (7.3, 1.0, 1.0, 0.0)),  # far from a grid point
        ("exp", lambda x: 0.5 * np.exp(0.7 * x + 0.1), (0.7, 0.0, 0.5 * np.exp(0.1), 0.0)),
        ("log", lambda x: np.log(x + 2.5) - 1.0, (1.0, 2.5, 1.0, -1.0)),
        ("tanh", lambda x: 2.0 * np.tanh(1.5 * x + 0.2), (1.5, 0.2, 2.0, 0.0)),
    ],
)
def test_library_snap_finds_function_and_affine_parameters(name, fn, expected):
    x = np.linspace(-2.0, 2.0, 200)
    fit = fit_library(x, fn(x))
    assert fit.name == name
    assert fit.r2 > 1 - 1e-10
    np.testing.assert_allclose(fit.params, expected, atol=1e-6)
    assert np.max(np.abs(fit(x) - fn(x))) < 1e-6


def test_library_snap_prefers_simpler_function_and_handles_noise():
    rng = np.random.default_rng(0)
    x = np.linspace(-1.5, 1.5, 300)
    y = 2.0 * x + 0.5 + 1e-3 * rng.normal(size=x.size)  # sin/tanh with tiny a fit this too
    fit = fit_library(x, y)
    assert fit.name == "x"
    np.testing.assert_allclose(fit.params[2:], (2.0, 0.5), atol=1e-3)
    y = 0.9 * (x - 0.2) ** 2 + 1e-3 * rng.normal(size=x.size)  # cos(ax + b) with small a too
    assert fit_library(x, y).name == "x^2"


def test_library_snap_errors():
    x = np.linspace(-1, 1, 20)
    with pytest.raises(ValueError, match="library"):
        fit_library(x, x, library=["x", "gamma"])
    with pytest.raises(ValueError, match="same length"):
        fit_library(x, x[:5])


# ------------------------------------------------------------------------------- STLSQ
def test_stlsq_recovers_sparse_polynomial_from_noisy_samples():
    rng = np.random.default_rng(1)
    x = rng.uniform(-2.5, 2.5, 500)
    y = 0.35 * x**2 + 0.325 * x**4 + 0.1 + 0.01 * rng.normal(size=x.size)
    fit = fit_sparse_polynomial(x, y, degree=6, threshold=1e-2)
    c = np.asarray(fit.params)
    assert np.count_nonzero(c) == 3 and c[1] == c[3] == c[5] == c[6] == 0.0
    np.testing.assert_allclose(c[[0, 2, 4]], (0.1, 0.35, 0.325), rtol=2e-2)
    assert fit.r2 > 0.9999


def test_stlsq_keeps_columns_and_validates():
    theta = np.stack([np.ones(50), np.linspace(0, 1, 50), np.linspace(0, 1, 50) ** 2], axis=1)
    y = 1e-6 + 3.0 * theta[:, 2]
    xi = stlsq(theta, y, threshold=0.1, keep=(0,))
    assert xi[1] == 0.0 and abs(xi[2] - 3.0) < 1e-9
    with pytest.raises(ValueError, match="threshold"):
        stlsq(theta, y, threshold=1.5)


def test_fit_polynomial_two_variables():
    rng = np.random.default_rng(2)
    xs = rng.normal(size=(400, 2))
    ys = (
        0.5 * xs[:, 1] ** 2
        + 0.25 * xs[:, 0] ** 2
        + 0.0625 * xs[:, 0] ** 4
        - 0.3 * xs[:, 0] * xs[:, 1]
    )
    fit = fit_polynomial(xs, ys + 2.0, names=("q", "p"), degree=4)
    expected = {"1": 2.0, "p**2": 0.5, "q**2": 0.25, "q**4": 0.0625, "p*q": -0.3}
    assert set(fit.coefficients) == set(expected)
    for k, v in expected.items():
        assert abs(fit.coefficients[k] - v) < 1e-9
    np.testing.assert_allclose(fit.evaluate(xs), ys + 2.0, atol=1e-9)


# ------------------------------------------------------------------- KAN -> formula
@pytest.fixture(scope="module")
def fitted_kan():
    """A [2, 1] KAN fitted to f(x, y) = x² + 0.5·y³ - 0.3 (additive, so edges are exact)."""
    rng = np.random.default_rng(3)
    xs = rng.uniform(-1.5, 1.5, size=(600, 2))
    ys = (xs[:, 0] ** 2 + 0.5 * xs[:, 1] ** 3 - 0.3)[:, None]
    kan = pn.KAN([2, 1], grid=10, rngs=nnx.Rngs(0))
    kan.update_grid(jnp.asarray(xs), margin=0.05)
    fit_function(kan, xs, ys, steps=1500, optimizer=optax.adam(2e-2))
    return kan, xs, ys[:, 0]


def test_symbolic_formula_polynomial_edges(fitted_kan):
    kan, xs, ys = fitted_kan
    result = symbolic_formula(kan, xs, names=("x", "y"), degree=4)
    assert set(result.coefficients) == {"1", "x**2", "y**3"}
    assert abs(result.coefficients["x**2"] - 1.0) < 2e-2
    assert abs(result.coefficients["y**3"] - 0.5) < 2e-2
    assert result.r2_min > 0.999 and len(result.edges) == 2
    assert "x**2" in result.formula
    errors = result.errors(xs, ys)
    assert errors["formula_vs_network_rmse"] < 1e-2
    assert errors["formula_rmse"] < 2 * errors["network_rmse"] + 1e-2
    np.testing.assert_allclose(result.evaluate(xs), ys, atol=5e-2)


def test_symbolic_formula_library_and_auto(fitted_kan):
    kan, xs, _ = fitted_kan
    lib = symbolic_formula(kan, xs, names=("x", "y"), method="library")
    assert [e.fit.name for e in lib.edges] == ["x^2", "x^3"]
    auto = symbolic_formula(kan, xs, names=("x", "y"), method="auto")
    assert auto.r2_min > 0.999


def test_symbolic_formula_multiplication_node():
    """One multiplication node fed by φ(x) ≈ x and φ(y) ≈ y composes to x·y."""
    kan = pn.KAN([2, [0, 1], 1], grid=3, rngs=nnx.Rngs(0))
    layer0 = kan.layers[0]
    # edges of the first layer: φ(x1 -> sum 1) = x1, φ(x2 -> sum 2) = x2 by the SiLU-free
    # spline part alone (a cubic spline reproduces a linear function exactly)
    layer0.scale_base[...] = jnp.zeros((2, 2))
    layer0.scale_spline[...] = jnp.ones((2, 2))
    knots = np.asarray(layer0.knots[...])
    greville = np.stack([knots[:, m + 1 : m + 4].mean(axis=1) for m in range(6)], axis=1)
    coef = np.zeros((2, 6, 2))
    coef[0, :, 0], coef[1, :, 1] = greville[0], greville[1]
    layer0.coef[...] = jnp.asarray(coef)
    layer1 = kan.layers[1]
    layer1.scale_base[...] = jnp.zeros((1, 1))
    knots1 = np.asarray(layer1.knots[...])[0]
    layer1.coef[...] = jnp.asarray([knots1[m + 1 : m + 4].mean() for m in range(6)])[None, :, None]
    layer1.scale_spline[...] = jnp.ones((1, 1))
    xs = np.random.default_rng(0).uniform(-0.9, 0.9, size=(200, 2))
    result = symbolic_formula(kan, xs, names=("x", "y"))
    assert set(result.coefficients) == {"x*y"}
    assert abs(result.coefficients["x*y"] - 1.0) < 1e-9


def test_symbolic_refit_makes_an_exact_product_exact():
    """A multiplication KAN trained by Adam to ~1e-3 on x·y: its edges snap to linear
    functions, the composed formula is x·y plus small x, y, 1 terms with coefficients off by
    the training error; refitting the formula's coefficients gives exactly x·y (E6)."""
    from physnet.reproduce._e6 import xy_coefficient_error

    rng = np.random.default_rng(7)
    xs = rng.uniform(-1.0, 1.0, size=(300, 2))
    ys = xs[:, 0] * xs[:, 1]
    kan = pn.KAN([2, [0, 1], 1], grid=3, rngs=nnx.Rngs(0))
    fit_function(kan, xs, ys[:, None], steps=400, optimizer=optax.adam(1e-2))
    snapped = symbolic_formula(kan, xs, names=("x", "y"), method="library")
    # x -> sum 1 and y -> sum 2 linear, the cross edges ≈ 0 (not pruned here)
    assert {e.fit.name for e in snapped.edges} <= {"x", "0"}
    assert 1e-9 < xy_coefficient_error(snapped.coefficients) < 0.1
    refit = snapped.refit(xs, ys)
    assert refit.coefficients.keys() == {"x*y"}, refit.formula
    assert xy_coefficient_error(refit.coefficients) < 1e-6
    assert refit.formula == "1.0*x*y" and refit.errors(xs, ys)["formula_rmse"] < 1e-12
    assert refit.edges == snapped.edges  # the structure is the network's
    with pytest.raises(ValueError, match="ys"):
        snapped.refit(xs, ys[:10])


def test_e6_structure_formula_and_plain_formula():
    """The rank-one node readings of a sparse [2, 2, 1] KAN print as A(x + y)² + B(x - y)²,
    A, B refitted; the sum of node quadratic forms gives ≈ x·y."""
    from physnet.reproduce._e6 import structure_formula

    rng = np.random.default_rng(8)
    xs = rng.uniform(-1.0, 1.0, size=(200, 2))
    ys = xs[:, 0] * xs[:, 1]
    r = 2**-0.5
    nodes = [
        {"rank_one": True, "direction": [r, r], "eigenvalues": [0.5, 0.0]},
        {"rank_one": True, "direction": [r, -r], "eigenvalues": [-0.5, 0.0]},
    ]
    formula = structure_formula({"nodes": nodes, "structure": "..."}, xs, ys)
    assert formula == "0.25*(x + 1.0*y)**2 - 0.25*(x - 1.0*y)**2"
    nodes[0]["rank_one"] = False  # not every node is a square: the readings as they are
    assert structure_formula({"nodes": nodes, "structure": "..."}, xs, ys) == "..."


def test_symbolic_formula_errors(fitted_kan):
    kan, xs, _ = fitted_kan
    with pytest.raises(ValueError, match="method"):
        symbolic_formula(kan, xs, method="magic")
    with pytest.raises(ValueError, match="names"):
        symbolic_formula(kan, xs, names=("x",))
    with pytest.raises(ValueError, match="xs"):
        symbolic_formula(kan, xs[:, :1])
    with pytest.raises(ValueError, match="KAN"):
        symbolic_formula(pn.MLP(2, 1, rngs=nnx.Rngs(0)), xs)


# -------------------------------------------------------------------- physics read-outs
def _duffing_kan_hnn(alpha, beta, widths, grid, steps, lr, n_trajectories=30):
    system = pn.systems.Duffing(alpha, beta, 0.0)
    train, test = make_data(
        system, DataConfig(alpha=alpha, beta=beta, n_trajectories=n_trajectories)
    )
    model = pn.HNN(pn.KAN(widths, grid=grid, rngs=nnx.Rngs(0)))
    update_grids(model, train.states.reshape(-1, 2), margin=0.05)
    schedule = optax.cosine_decay_schedule(lr, steps, 1e-3)
    pn.fit(model, train, steps=steps, optimizer=optax.adam(schedule), progress=False)
    return model, train, test


def test_kan_hnn_recovers_duffing_hamiltonian_within_one_percent():
    """H = a q² + b q⁴ + c p² with a, b, c within 1% of α/2, β/4, 1/2 (α, β not the source's)."""
    alpha, beta = 0.7, 1.3
    model, train, _ = _duffing_kan_hnn(alpha, beta, [2, 1], grid=10, steps=1000, lr=3e-2)
    truth = duffing_coefficients(alpha, beta)
    for method in ("direct", "symbolic"):
        readout = read_hamiltonian(model, train, method=method)
        assert set(readout.coefficients) == set(truth), readout.formula
        errors = coefficient_errors(readout.coefficients, truth)
        assert max(errors.values()) < 1e-2, (method, errors)
        assert readout.r2 > 0.9999
        assert readout.formula.startswith("H = ")


@pytest.mark.slow
def test_deep_kan_hnn_recovers_duffing_hamiltonian_directly():
    """A [2, 5, 1] KAN-HNN: the direct polynomial read-out is within 1% (the edge-by-edge
    composition has degree-16 cross terms, see read_hamiltonian)."""
    alpha, beta = 1.0, 2.0
    model, train, _ = _duffing_kan_hnn(alpha, beta, [2, 5, 1], grid=10, steps=3000, lr=1e-2)
    readout = read_hamiltonian(model, train)
    errors = coefficient_errors(readout.coefficients, duffing_coefficients(alpha, beta))
    assert max(errors.values()) < 1e-2, errors


def test_read_lagrangian_normalises_scale():
    """L_θ = 3·(q̇²/2 - α/2 q² - β/4 q⁴) + 0.7 reads as the Duffing L (scale 1/3)."""
    alpha, beta = 0.5, 0.25
    rng = np.random.default_rng(4)
    xs = rng.uniform(-2.0, 2.0, size=(800, 2))
    ls = 3.0 * (0.5 * xs[:, 1] ** 2 - alpha / 2 * xs[:, 0] ** 2 - beta / 4 * xs[:, 0] ** 4) + 0.7
    kan = pn.KAN([2, 1], grid=10, rngs=nnx.Rngs(1))
    kan.update_grid(jnp.asarray(xs), margin=0.05)
    fit_function(kan, xs, ls[:, None], steps=1500, optimizer=optax.adam(2e-2))
    model = pn.LNN(kan)
    # the KAN was fitted to L's values, not to its dynamics: read the values ("dynamics"
    # would read the equations of motion of this spline, which are only as good as its
    # second derivatives)
    readout = read_lagrangian(model, xs, method="direct")
    truth = duffing_coefficients(alpha, beta, kind="lagrangian")
    errors = coefficient_errors(readout.coefficients, truth)
    assert max(errors.values()) < 1e-2, readout.formula
    assert abs(readout.scale - 1 / 3) < 1e-2
    # the kinetic reference term is part of the model's L
    model = pn.LNN(kan, kinetic=1.0)
    raw = read_lagrangian(model, xs, method="direct", normalize=False)
    assert abs(raw.coefficients["qdot**2"] - 2.0) < 2e-2


class _PolynomialLagrangian(pn.approximators.AbstractApproximator):
    """L(q, q̇) = Σ_k c_k q^a_k q̇^b_k with fixed terms (a test approximator)."""

    def __init__(self, terms):
        self.exponents = tuple((a, b) for a, b, _ in terms)
        self.c = nnx.Param(jnp.asarray([c for _, _, c in terms], dtype=jnp.float64))
        self.in_features, self.out_features = 2, 1

    def __call__(self, x):
        q, v = x[0], x[1]
        c = self.c[...]
        return jnp.stack([sum(c[k] * q**a * v**b for k, (a, b) in enumerate(self.exponents))])

    def config(self):
        return {}


def test_read_lagrangian_removes_total_derivatives_and_reads_the_dynamics():
    """L_θ = 3·(Duffing L) + 0.3 q²q̇ + 0.2 q̇ + 0.7: the f(q)·q̇ terms are d/dt F(q) and change
    no equation of motion. "direct" reports them as gauge terms; "dynamics" cannot see them;
    both read the Duffing L (α, β not the source's) exactly up to the scale 3."""
    alpha, beta = 0.8, 0.3
    terms = [
        (0, 2, 1.5),
        (2, 0, -1.5 * alpha),
        (4, 0, -0.75 * beta),
        (2, 1, 0.3),
        (0, 1, 0.2),
        (0, 0, 0.7),
    ]
    model = pn.LNN(_PolynomialLagrangian(terms))
    xs = np.random.default_rng(5).normal(size=(500, 2))
    truth = duffing_coefficients(alpha, beta, kind="lagrangian")
    direct = read_lagrangian(model, xs, method="direct")
    assert direct.coefficients == pytest.approx(truth, rel=1e-8)
    assert direct.gauge_terms == pytest.approx({"q**2*qdot": 0.1, "qdot": 0.2 / 3}, rel=1e-8)
    assert abs(direct.scale - 1 / 3) < 1e-10 and "qdot**2" in direct.formula
    dynamics = read_lagrangian(model, xs)  # the default
    assert dynamics.method == "dynamics" and dynamics.gauge_terms == {}
    assert dynamics.coefficients == pytest.approx(truth, rel=1e-8)
    assert abs(dynamics.scale - 1 / 3) < 1e-10 and dynamics.r2 > 1 - 1e-12
    raw = read_lagrangian(model, xs, normalize=False)  # the model's own scale
    assert raw.coefficients["qdot**2"] == pytest.approx(1.5, rel=1e-10)
    with pytest.raises(ValueError, match="method"):
        read_lagrangian(model, xs, method="values")


def test_read_lagrangian_dynamics_ignores_what_the_data_cannot_see():
    """L_θ = -2·(Duffing L) + 5 q²q̇ - 2 q³q̇: a negative scale (mass matrix -2) and large
    total-derivative terms; the dynamics read-out gives the Duffing coefficients exactly,
    with the scale -1/2."""
    alpha, beta = 1.3, 0.6
    terms = [(0, 2, -1.0), (2, 0, alpha), (4, 0, beta / 2), (2, 1, 5.0), (3, 1, -2.0)]
    model = pn.LNN(_PolynomialLagrangian(terms))
    xs = np.random.default_rng(6).uniform(-1.5, 1.5, size=(400, 2))
    readout = read_lagrangian(model, xs)
    truth = duffing_coefficients(alpha, beta, kind="lagrangian")
    assert readout.coefficients == pytest.approx(truth, rel=1e-8)
    assert abs(readout.scale + 0.5) < 1e-10


def test_e5_quick_smoke(tmp_path):
    """E5 end to end on tiny settings, grid refinement included: finite metrics, the formula
    and its coefficients, the direct read-out with its gauge terms, Figure 14."""
    import dataclasses

    from physnet.reproduce._e5 import E5_QUICK, e5

    cfg = dataclasses.replace(
        E5_QUICK, iterations=10, chunk=10, refine_grid=10, refine_iterations=10, stop_loss=0.0
    )
    metrics = e5(cfg, tmp_path)
    assert metrics["grid_final"] == 10 and metrics["steps"] == 20
    assert metrics["steps_refined"] == 10
    assert np.isfinite(metrics["train_mse"]) and np.isfinite(metrics["test_mse"])
    assert metrics["formula"].startswith("L = ") and metrics["coefficients"]["qdot**2"] == 0.5
    assert set(metrics["coefficient_errors"]) >= {"q**2", "q**4", "qdot**2"}
    assert metrics["coefficients_direct"]["qdot**2"] == pytest.approx(0.5)
    assert isinstance(metrics["gauge_terms"], dict)
    assert all(k == "qdot" or k.endswith("*qdot") for k in metrics["gauge_terms"])
    assert (tmp_path / "fig14_kan_lagrangian.png").is_file()


def test_read_damping_and_model_errors():
    model = pn.DissipativeHNN(pn.KAN([2, 1], rngs=nnx.Rngs(0)), gamma_init=0.3)
    assert abs(read_damping(model) - 0.3) < 1e-12
    box = [(-1.0, 1.0), (-1.0, 1.0)]
    assert read_hamiltonian(model, box, points=11).quantity == "H"
    with pytest.raises(ValueError, match="LNN"):
        read_lagrangian(model, box)
    with pytest.raises(ValueError, match="DissipativeHNN"):
        read_damping(pn.HNN(pn.KAN([2, 1], rngs=nnx.Rngs(0))))
    with pytest.raises(ValueError, match="symbolic"):
        read_hamiltonian(pn.HNN(pn.MLP(2, 1, rngs=nnx.Rngs(0))), box, method="symbolic")


def test_coefficient_errors_reports_spurious_terms():
    truth = duffing_coefficients(1.0, 2.0)
    assert truth == {"q**2": 0.5, "q**4": 0.5, "p**2": 0.5}
    errors = coefficient_errors({"q**2": 0.505, "q**4": 0.5, "p*q": 0.01, "1": 3.0}, truth)
    assert errors == pytest.approx({"q**2": 0.01, "q**4": 0.0, "p**2": 1.0, "p*q": 0.02})


# ----------------------------------------------------------------------------------- CLI
def test_cli_evaluate_symbolic(tmp_path):
    data = tmp_path / "d.npz"
    args = ["--n-trajectories", "10", "--n-points", "20", "--alpha", "0.7", "--beta", "1.3"]
    assert main(["simulate", *args, "--out", str(data)]) == 0
    run = tmp_path / "run"
    train = ["train", "--data", str(data), "--model", "hnn", "--approximator", "kan"]
    assert main([*train, "--steps", "20", "--quiet", "--out", str(run)]) == 0
    assert main(["evaluate", "--run", str(run), "--t1", "1", "--symbolic"]) == 0
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert metrics["formula"].startswith("H = ")
    assert isinstance(metrics["coefficients"], dict) and metrics["coefficients"]
    mlp = tmp_path / "mlp"
    train = ["train", "--data", str(data), "--model", "hnn", "--approximator", "mlp"]
    assert main([*train, "--steps", "5", "--quiet", "--out", str(mlp)]) == 0
    assert main(["evaluate", "--run", str(mlp), "--t1", "1", "--symbolic"]) == 2
    assert not (mlp / "evaluation").exists()
