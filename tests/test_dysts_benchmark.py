"""physnet.benchmarks on the dysts database (skipped without dysts: pip install -e ".[dysts]").

The data builder against dysts' own integrator, the true polynomial coefficients, the runner's
recorded failures, and the Hamiltonian-flag check."""

import numpy as np
import pytest

pytest.importorskip("dysts")

from physnet import ConfigError, benchmarks  # noqa: E402
from physnet.benchmarks._dysts_data import integrate  # noqa: E402


def test_the_data_builder_reproduces_dysts_own_trajectory():
    system = benchmarks.dysts_system("Lorenz")
    y0 = np.array([-9.0, -14.0, 21.0])
    ts, theirs = system.make_trajectory(
        200,
        init_cond=y0,
        pts_per_period=100,
        resample=True,
        return_times=True,
        postprocess=False,
    )  # fmt: skip  (Radau, rtol = atol = 1e-12; two periods)
    ours = integrate(system, y0, ts)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * np.abs(theirs).max())


def test_dysts_data_shapes_noise_and_parameter_overrides():
    data = benchmarks.dysts_data("Lorenz", n_train=2, n_test=1, n_points=150, noise=0.05)
    assert data.train.shape == (2, 150, 3) and data.test.shape == (1, 150, 3)
    assert data.ts[1] == pytest.approx(data.period / 100)
    residual = (data.train - data.train_clean).std(axis=(0, 1))
    np.testing.assert_allclose(residual, 0.05 * data.train_clean.std(axis=(0, 1)), rtol=0.15)
    assert not np.allclose(data.test[0, 0], data.train_clean[0, 0])  # other initial states
    moved = benchmarks.dysts_data("Lorenz", n_train=1, n_test=1, n_points=50,
                                  parameters={"rho": 35.0})  # fmt: skip
    assert moved.parameters["rho"] == 35.0 and moved.parameters["sigma"] == 10.0
    with pytest.raises(ConfigError, match="no parameter"):
        benchmarks.dysts_system("Lorenz", {"nope": 1.0})


def test_true_coefficients_are_dysts_equations_or_none():
    system = benchmarks.dysts_system("Lorenz")
    data = benchmarks.dysts_data("Lorenz", n_train=1, n_test=1, n_points=100)
    xi = benchmarks.polynomial_coefficients(system, data.train_clean, degree=2)
    # monomials of degree <= 2 in (x, y, z): 1, z, y, x, z^2, y z, y^2, x z, x y, x^2
    assert (xi != 0).sum() == 7
    assert xi[3, 0] == pytest.approx(-10.0) and xi[2, 0] == pytest.approx(10.0)
    assert xi[7, 1] == pytest.approx(-1.0) and xi[8, 2] == pytest.approx(1.0)
    thomas = benchmarks.dysts_system("Thomas")  # sin terms: not a polynomial
    orbit = integrate(thomas, thomas.ic, np.linspace(0, 10, 200))
    assert benchmarks.polynomial_coefficients(thomas, orbit) is None


def test_the_runner_records_failures_and_goes_on():
    quiet = {"peers_too": False, "methods": ("physnet-weak",), "echo": lambda s: None}
    result = benchmarks.dysts(
        ["NoSuchFlow", "Lorenz"], noises=(0.0,), n_train=1, n_test=1, n_points=20,
        parameters={"Lorenz": {"nope": 1.0}}, **quiet,
    )  # fmt: skip
    missing, bad_parameter = result["systems"]
    assert missing["status"] == "failed" and "no flow named" in missing["reason"]
    assert bad_parameter["status"] == "failed" and "no parameter" in bad_parameter["reason"]
    # 20 samples are too few for the weak form's 31-sample windows: the fit fails, recorded
    short = benchmarks.dysts(["Lorenz"], noises=(0.0,), n_train=1, n_test=1, n_points=20,
                             **quiet)  # fmt: skip
    (row,) = short["systems"][0]["rows"]
    assert "window 31 exceeds" in row["error"]
    ok = benchmarks.dysts(["Lorenz"], noises=(0.0,), n_train=2, n_test=1, n_points=300, **quiet)
    row = ok["systems"][0]["rows"][0]
    assert row["exact"] and row["coefficient_error"] < 1e-3
    assert row["vpt"] > 1.0 and row["smape"] < 5.0
    with pytest.raises(ConfigError, match="unknown method"):
        benchmarks.dysts(["Lorenz"], methods=("magic",))


def test_the_double_pendulum_flag_disagrees_with_its_divergence():
    """dysts flags DoublePendulum Hamiltonian, yet its field has a nonzero divergence (issue
    29: a wrong coefficient); a Hamiltonian flow in canonical coordinates has none."""
    (check,) = benchmarks.hamiltonian_check(["DoublePendulum"], n_points=40)
    assert not check["divergence_free"] and check["max_abs_divergence"] > 0.1


@pytest.mark.parametrize("variant", ["pysindy-stlsq-fd", "pysindy-stlsq-weak"])
def test_pysindy_variants_recover_lorenz_in_physnet_order(variant):
    """Each PySINDy variant's coefficients come back in physnet's monomial order: on clean
    Lorenz data, within 2 % of dysts' own equations (finite differences are the loose one)."""
    pytest.importorskip("pysindy")
    from physnet.benchmarks import _dysts_peers as peers
    from physnet.benchmarks._dysts_data import vector_field

    system = benchmarks.dysts_system("Lorenz")
    data = benchmarks.dysts_data("Lorenz", n_train=2, n_test=1, n_points=600)
    test = np.asarray(data.test).reshape(-1, 3)
    truth = benchmarks.polynomial_coefficients(system, data.train_clean, degree=2)
    field = vector_field(system)
    test_dot = np.stack([field(0.0, y) for y in test])
    xi = peers.fit_pysindy(variant, data.ts, np.asarray(data.train), test, test_dot, degree=2)
    assert xi.shape == truth.shape
    assert np.linalg.norm(xi - truth) / np.linalg.norm(truth) < 2e-2
