"""Equilibria, their stability and the decay rate (physnet.evaluation.equilibria), checked
against hand-derived mechanics on the true fields, and through `physnet evaluate` on a
trained dissipative HNN.

Duffing (physnet's convention, SPEC.md section 2): q̈ = -α q - β q³ - γ q̇, p = q̇. At a rest
point q* (α q* + β q*³ = 0, p = 0) the Jacobian is [[0, 1], [-k, -γ]] with the stiffness
k = α + 3 β q*², so λ = (-γ ± sqrt(γ² - 4 k)) / 2. Pendulum (m l² = I): q̇ = p / I,
ṗ = -I (g/l) sin q; at q = 0 λ = ±i sqrt(g/l), at q = ±π λ = ±sqrt(g/l).
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physnet._errors import ConfigError
from physnet.cli import main
from physnet.evaluation import classify, decay_rate, equilibria, format_eigenvalues, search_box
from physnet.systems import Duffing, Pendulum


def _duffing_eigenvalues(k: float, gamma: float) -> np.ndarray:
    root = np.sqrt(complex(gamma**2 - 4 * k))
    lam = np.array([(-gamma - root) / 2, (-gamma + root) / 2])
    return lam[np.lexsort((lam.imag, lam.real))]


def _by_q(found):
    return sorted(found, key=lambda e: e.state[0])


@pytest.mark.parametrize("gamma", [0.1, 0.7])
def test_damped_duffing_rests_at_the_origin_as_a_stable_focus(gamma):
    alpha, beta = 1.3, 2.0
    found = equilibria(Duffing(alpha, beta, gamma).vector_field, 2, box=([-2, -2], [2, 2]))
    assert len(found) == 1
    (e,) = found
    np.testing.assert_allclose(e.state, [0.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(e.eigenvalues, _duffing_eigenvalues(alpha, gamma), atol=1e-8)
    assert e.kind == "stable"
    # underdamped (γ² < 4α): every mode decays at γ/2
    assert decay_rate(found) == pytest.approx(gamma / 2, abs=1e-8)


def test_overdamped_duffing_decays_at_its_slow_real_mode():
    alpha, gamma = 1.0, 3.0
    found = equilibria(Duffing(alpha, 2.0, gamma).vector_field, 2, box=([-2, -2], [2, 2]))
    assert [e.kind for e in found] == ["stable"]
    np.testing.assert_allclose(found[0].eigenvalues, _duffing_eigenvalues(alpha, gamma), atol=1e-8)
    assert np.all(found[0].eigenvalues.imag == 0)
    assert decay_rate(found) == pytest.approx((gamma - math.sqrt(gamma**2 - 4 * alpha)) / 2, 1e-8)


@pytest.mark.parametrize("gamma", [0.0, 0.2])
def test_double_well_duffing_has_a_saddle_between_two_wells(gamma):
    alpha, beta = -2.0, 0.5
    well = math.sqrt(-alpha / beta)  # 2
    system = Duffing(alpha, beta, gamma)
    found = _by_q(equilibria(system.vector_field, 2, box=([-3, -3], [3, 3])))
    assert len(found) == 3
    np.testing.assert_allclose([e.state for e in found], [[-well, 0], [0, 0], [well, 0]], atol=1e-8)
    left, middle, right = found
    assert middle.kind == "saddle"
    np.testing.assert_allclose(middle.eigenvalues, _duffing_eigenvalues(alpha, gamma), atol=1e-8)
    k_well = alpha + 3 * beta * well**2  # 4
    for e in (left, right):
        np.testing.assert_allclose(e.eigenvalues, _duffing_eigenvalues(k_well, gamma), atol=1e-8)
        assert e.kind == ("centre" if gamma == 0 else "stable")
    rate = decay_rate(found)
    assert (rate is None) if gamma == 0 else rate == pytest.approx(gamma / 2, abs=1e-8)


def test_pendulum_has_a_centre_at_the_bottom_and_saddles_at_the_top():
    g_over_l = 2.0
    system = Pendulum(g_over_l=g_over_l, mass=0.5)  # inertia 0.5: q̇ = 2 p
    found = _by_q(equilibria(system.vector_field, 2, box=([-4, -2], [4, 2])))
    np.testing.assert_allclose(
        [e.state for e in found], [[-np.pi, 0], [0, 0], [np.pi, 0]], atol=1e-8
    )
    w = math.sqrt(g_over_l)
    bottom = found[1]
    assert bottom.kind == "centre"
    np.testing.assert_allclose(bottom.eigenvalues, [-1j * w, 1j * w], atol=1e-8)
    for top in (found[0], found[2]):
        assert top.kind == "saddle"
        np.testing.assert_allclose(top.eigenvalues, [-w, w], atol=1e-8)
    assert decay_rate(found) is None  # conservative


def test_the_box_bounds_the_search():
    """Only rest points inside the box count: a box around the saddle alone finds it alone,
    and a field with no rest point finds none."""
    system = Duffing(-2.0, 0.5, 0.0)
    found = equilibria(system.vector_field, 2, box=([-1, -1], [1, 1]))
    assert [e.kind for e in found] == ["saddle"]
    drift = lambda t, y, args=None: jnp.stack([jnp.ones_like(y[0]), -y[1]])  # noqa: E731
    assert equilibria(drift, 2, box=([-1, -1], [1, 1])) == []


def test_a_box_from_samples_is_their_range_widened():
    system = Duffing(-2.0, 0.5, 0.0)
    samples = np.array([[-2.5, -1.0], [2.5, 1.0]])  # range holds the wells at ±2
    assert len(equilibria(system.vector_field, 2, samples=samples)) == 3
    narrow = np.array([[-1.0, -1.0], [1.0, 1.0]])  # widened to ±1.2: the saddle only
    assert len(equilibria(system.vector_field, 2, samples=narrow)) == 1


def test_a_four_dimensional_field():
    """Two uncoupled damped oscillators: one rest point, four eigenvalues, the slowest mode's
    rate."""

    def field(t, y, args=None):
        return jnp.stack([y[2], y[3], -4.0 * y[0] - 0.4 * y[2], -1.0 * y[1] - 0.1 * y[3]])

    (e,) = equilibria(field, 4, box=(-np.ones(4), np.ones(4)))
    assert e.kind == "stable"
    assert sorted(e.eigenvalues.real) == pytest.approx([-0.2, -0.2, -0.05, -0.05], abs=1e-8)
    assert decay_rate([e]) == pytest.approx(0.05, abs=1e-8)


@pytest.mark.parametrize(
    ("eigenvalues", "kind"),
    [
        ([-0.05 + 1j, -0.05 - 1j], "stable"),
        ([-1.0, -2.0], "stable"),
        ([0.05 + 1j, 0.05 - 1j], "unstable"),
        ([-1.0, 1.0], "saddle"),
        ([1e-9 + 1j, 1e-9 - 1j], "centre"),  # |Re λ| <= 1e-6 max(1, |λ|): on the axis
        ([1e-3 + 1j, 1e-3 - 1j], "unstable"),  # a slow spiral out is not a centre
        ([0.0, -1.0], "non-hyperbolic"),  # a zero eigenvalue
        ([-1.0, 0.0 + 1j, 0.0 - 1j], "non-hyperbolic"),  # stable and centre directions
    ],
)
def test_classify(eigenvalues, kind):
    assert classify(eigenvalues) == kind


def test_classify_tolerance_is_relative_to_the_fastest_rate():
    lam = [1e-4 + 1000j, 1e-4 - 1000j]
    assert classify(lam) == "centre"  # 1e-4 <= 1e-6 * 1000
    assert classify(lam, tol=1e-9) == "unstable"


def test_bad_box_is_refused():
    f = Duffing().vector_field
    with pytest.raises(ConfigError, match="box"):
        equilibria(f, 2, box=([1, 1], [-1, -1]))
    with pytest.raises(ConfigError, match="box"):
        equilibria(f, 2, box=([0, 0, 0], [1, 1, 1]))
    with pytest.raises(ConfigError, match="search box"):
        equilibria(f, 2)


def test_format_eigenvalues():
    assert format_eigenvalues([-0.05 - 0.999j, -0.05 + 0.999j]) == "-0.05±0.999i"
    assert format_eigenvalues([-1.0, 1.0]) == "-1, 1"
    assert format_eigenvalues([4e-17 - 2j, 4e-17 + 2j]) == "0±2i"


# --- through the CLI on a trained dissipative HNN ------------------------------------------

ALPHA, BETA, GAMMA = 1.0, 2.0, 0.1


@pytest.fixture(scope="module")
def dhnn_run(tmp_path_factory):
    """A dissipative HNN trained on clean damped Duffing data (measured: γ̂ ≈ 0.099, learned
    rest point within 2e-3 of the origin, eigenvalues within 1e-3 of the true ones)."""
    root = tmp_path_factory.mktemp("dhnn")
    data, run = root / "d.npz", root / "run"
    flags = ["--gamma", str(GAMMA), "--n-trajectories", "24", "--n-points", "30", "--seed", "1"]
    assert main(["simulate", *flags, "--out", str(data)]) == 0
    train = ["--model", "dhnn", "--preset", "fast", "--steps", "1500", "--quiet"]
    assert main(["train", "--data", str(data), *train, "--out", str(run)]) == 0
    return run


def test_evaluate_reports_the_learned_equilibrium_beside_the_true_one(dhnn_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", "--run", str(dhnn_run), "--t1", "2"]) == 0
    out, err = capsys.readouterr()
    printed = json.loads(out)  # stdout stays one JSON object
    metrics = json.loads((dhnn_run / "evaluation" / "metrics.json").read_text())
    assert printed["decay_rate"] == metrics["decay_rate"]
    # the true answers: exact, by the same routine on the system's field
    (true,) = metrics["equilibria_true"]
    assert true["kind"] == "stable"
    assert true["state"] == pytest.approx([0.0, 0.0], abs=1e-10)
    lam_true = _duffing_eigenvalues(ALPHA, GAMMA)
    assert [complex(*z) for z in true["eigenvalues"]] == pytest.approx(list(lam_true), abs=1e-10)
    assert metrics["decay_rate_true"] == pytest.approx(GAMMA / 2, abs=1e-10)
    assert metrics["gamma_true"] == GAMMA
    # the learned answers: one stable focus at the origin, rates close to the true ones
    (learned,) = metrics["equilibria"]
    assert learned["kind"] == "stable" and learned["true"] == 0
    assert learned["state"] == pytest.approx([0.0, 0.0], abs=0.02)
    assert learned["distance"] < 0.02
    assert learned["eigenvalue_error"] < 0.01  # the imaginary parts ±0.9987 to 1 %
    assert metrics["decay_rate"] == pytest.approx(GAMMA / 2, rel=0.05)  # 0.05, not 0 or 0.1
    assert metrics["state_names"] == ["q", "p"]
    # the console summary, on stderr
    assert "equilibria of the learned field in the data's range: 1" in err
    assert "stable, eigenvalues -0.05±0.999i" in err  # the true focus, printed beside
    assert "decay rate" in err and "(true 0.05)" in err


def test_learned_eigenvalues_are_those_of_the_model_jacobian(dhnn_run):
    """The routine on a learned field, exactly: at the learned rest point the dissipative
    HNN's Jacobian is [[0, 1], [-1, -γ̂]] · Hess H, whatever the training reached."""
    from physnet.runs._rundir import RunDirectory

    run = RunDirectory.open(dhnn_run)
    model = run.load_model()
    (e,) = equilibria(model, 2, box=([-1, -1], [1, 1]))
    hess = np.asarray(jax.hessian(model.energy)(jnp.asarray(e.state)))
    gamma = float(model.gamma)
    jac = np.array([[0.0, 1.0], [-1.0, -gamma]]) @ hess
    lam = np.linalg.eigvals(jac)
    lam = lam[np.lexsort((lam.imag, lam.real))]
    np.testing.assert_allclose(e.eigenvalues, lam, atol=1e-9)
    assert np.max(np.abs(np.asarray(model(0.0, jnp.asarray(e.state))))) < 1e-12
    # trace = -γ̂ H_pp: an underdamped focus decays at γ̂ H_pp / 2
    assert decay_rate([e]) == pytest.approx(gamma * hess[1, 1] / 2, rel=1e-9)


def test_without_a_known_system_only_the_learned_answers(dhnn_run):
    """Measured data (no system): the learned equilibria and decay rate, no true ones."""
    from physnet.runs._evaluate import equilibrium_metrics
    from physnet.runs._rundir import RunDirectory
    from physnet.runs._summary import evaluation_summary

    run = RunDirectory.open(dhnn_run)
    metrics = equilibrium_metrics(run.load_model(), run.train_test()[1], None)
    assert not {"equilibria_true", "decay_rate_true", "gamma_true"} & set(metrics)
    (learned,) = metrics["equilibria"]
    assert learned["kind"] == "stable" and "true" not in learned
    assert metrics["decay_rate"] == pytest.approx(GAMMA / 2, rel=0.05)
    text = evaluation_summary(metrics, metrics["state_names"])
    assert "stable, eigenvalues" in text and "true" not in text


def test_a_forced_model_gives_the_equilibria_of_its_unforced_part(dhnn_run):
    """A port-Hamiltonian model with a Fourier force F(t) has no fixed points; evaluate reports
    those of its unforced field (J - R)∇H instead, and says so."""

    import physnet as pn
    from physnet.runs._evaluate import equilibrium_metrics
    from physnet.runs._rundir import RunDirectory

    run = RunDirectory.open(dhnn_run)
    test = run.train_test()[1]
    model = pn.PortHNN(run.load_model().hamiltonian, gamma_init=0.2)  # the trained H
    metrics = equilibrium_metrics(model, test, None)
    assert "unforced part" in metrics["equilibria_note"]
    lo, hi = search_box(test.states[test.mask])
    expected = equilibria(lambda t, y, args=None: model.autonomous_field(y), 2, box=(lo, hi))
    assert len(metrics["equilibria"]) == len(expected) >= 1
    for row, e in zip(metrics["equilibria"], expected, strict=True):
        assert row["state"] == pytest.approx(list(e.state), abs=1e-10)
        hess = np.asarray(jax.hessian(model.energy)(jnp.asarray(e.state)))
        lam = np.linalg.eigvals(np.array([[0.0, 1.0], [-1.0, -0.2]]) @ hess)
        lam = lam[np.lexsort((lam.imag, lam.real))]
        assert [complex(*z) for z in row["eigenvalues"]] == pytest.approx(list(lam), abs=1e-6)
    # the forced field itself is not at rest there
    y = jnp.asarray(expected[0].state)
    assert float(jnp.max(jnp.abs(model(1.0, y) - model(0.0, y)))) > 1e-6
