"""The empirical NTK (physnet.analysis): exact on linear models, equal to direct Jacobian
products, operator kernels matching finite differences, read-outs and training parts."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import physnet as pn
from physnet.analysis import (
    ComponentLoss,
    KernelDrift,
    WeightedLoss,
    condition_number,
    convergence_times,
    decay_exponent,
    effective_rank,
    field_error_spectrum,
    ntk,
    observed_convergence_times,
    parameter_jacobian,
    rollout_error_spectrum,
    spectrum,
    trace_ratio_weights,
)


class Features(nnx.Module):
    """H(x) = φ(x)·w with fixed random Fourier features φ: linear in its parameters."""

    def __init__(self, d, n, *, rngs):
        k1, k2, k3 = jax.random.split(rngs.params(), 3)
        self.freq = nnx.Variable(jax.random.normal(k1, (n, d)))
        self.phase = nnx.Variable(jax.random.uniform(k2, (n,)) * 6.0)
        self.w = nnx.Param(jax.random.normal(k3, (n,)))

    def features(self, x):
        return jnp.cos(self.freq[...] @ x + self.phase[...])

    def __call__(self, x):
        return jnp.dot(self.features(x), self.w[...])[None]


def _states(n=12, d=2, seed=1):
    return jax.random.normal(jax.random.key(seed), (n, d))


def test_linear_model_kernel_is_phi_phi_transpose():
    model = Features(2, 30, rngs=nnx.Rngs(0))
    xs = _states()
    result = ntk(model, xs, operator=lambda m, x: m(x))
    phi = np.asarray(jax.vmap(model.features)(xs))
    np.testing.assert_allclose(result.matrix, phi @ phi.T, rtol=1e-12, atol=1e-12)
    assert result.n_params == 30


def test_linear_model_hamiltonian_operator_kernel_is_exact():
    """T[H] = J∇H is linear in w: K_T = (J∇φ)(J∇φ)ᵀ with ∇φ computed separately."""
    model = Features(2, 30, rngs=nnx.Rngs(0))
    xs = _states()
    op = lambda m, x: pn.models.symplectic_gradient(lambda y: m(y)[0], x)  # noqa: E731
    result = ntk(model, xs, operator=op)
    grads = jax.vmap(jax.jacobian(model.features))(xs)  # (S, n, 2): dφ_k/dx
    jgrad = np.stack([grads[:, :, 1], -grads[:, :, 0]], axis=1)  # (S, 2, n)
    rows = jgrad.reshape(-1, 30)
    np.testing.assert_allclose(result.matrix, rows @ rows.T, rtol=1e-11, atol=1e-11)


def test_output_kernel_equals_direct_jacobian_product():
    approx = pn.MLP(2, 3, width=8, depth=2, rngs=nnx.Rngs(0))
    xs = _states(10)
    result = ntk(approx, xs, operator="output", chunk_rows=7)
    params = nnx.state(approx, nnx.Param)
    graphdef, _, rest = nnx.split(approx, nnx.Param, ...)
    leaves, treedef = jax.tree.flatten(params)

    def f(leaves, x):
        return nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves), rest)(x)

    jac = [jax.jacrev(f)(leaves, x) for x in xs]  # per sample: list over leaves (3, *leaf)
    rows = np.concatenate(
        [np.concatenate([np.reshape(j, (3, -1)) for j in js], axis=1) for js in jac]
    )
    np.testing.assert_allclose(result.matrix, rows @ rows.T, rtol=1e-10, atol=1e-10)
    assert result.component(1).shape == (10, 10)
    np.testing.assert_allclose(result.component(1), (rows @ rows.T)[1::3, 1::3])


@pytest.mark.parametrize("kind", ["hnn", "lnn"])
def test_operator_kernel_matches_finite_differences(kind):
    if kind == "hnn":
        model = pn.HNN(pn.MLP(2, 1, width=6, depth=2, rngs=nnx.Rngs(1)))
        operator = "vector_field"
    else:
        model = pn.LNN(
            pn.MLP(2, 1, width=6, depth=2, activation="softplus", rngs=nnx.Rngs(1)), kinetic=1.0
        )
        operator = "acceleration"
    xs = _states(5)
    result = ntk(model, xs, operator=operator)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    theta, unravel = jax.flatten_util.ravel_pytree(params)
    op = pn.analysis.OPERATORS[operator]

    def values(th):
        m = nnx.merge(graphdef, unravel(th), rest)
        return jax.vmap(lambda x: op(m, x))(xs).reshape(-1)

    h = 1e-6
    eye = jnp.eye(theta.shape[0])
    fd = jax.jit(jax.vmap(lambda e: (values(theta + h * e) - values(theta - h * e)) / (2 * h)))
    fd = np.asarray(fd(eye)).T
    np.testing.assert_allclose(result.matrix, fd @ fd.T, rtol=1e-6, atol=1e-8)
    jac = parameter_jacobian(model, xs, operator).reshape(fd.shape)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)


def test_terms_blocks_and_trace_ratio_weights():
    approx = pn.MLP(1, 1, width=8, depth=1, rngs=nnx.Rngs(0))
    laplace = lambda f, x: -jax.hessian(lambda z: f(z)[0])(x)[0]  # noqa: E731
    xr, xb = jnp.linspace(-1, 1, 9)[:, None], jnp.array([[-1.0], [1.0]])
    result = ntk(
        approx,
        {"residual": xr, "boundary": xb},
        operator={"residual": laplace, "boundary": "output"},
    )
    assert result.matrix.shape == (11, 11)
    assert result.block("residual").shape == (9, 9)
    assert result.block("residual", "boundary").shape == (9, 2)
    np.testing.assert_allclose(
        result.block("boundary", "residual"), result.block("residual", "boundary").T
    )
    traces = result.traces()
    weights = trace_ratio_weights(traces)
    total = traces["residual"] + traces["boundary"]
    assert weights["residual"] == pytest.approx(total / traces["residual"])
    assert weights["boundary"] * traces["boundary"] == pytest.approx(total)


def test_spectral_readouts():
    lam = np.arange(1, 51, dtype=float) ** -2.0
    v = np.linalg.qr(np.random.default_rng(0).normal(size=(50, 50)))[0]
    k = (v * lam) @ v.T
    s = spectrum(k)
    np.testing.assert_allclose(s.eigenvalues, lam, rtol=1e-8)
    assert decay_exponent(s) == pytest.approx(2.0, rel=1e-6)
    assert condition_number(s) == pytest.approx(2500.0, rel=1e-6)
    assert effective_rank(np.ones(7)) == pytest.approx(7.0)
    assert effective_rank(np.array([1.0, 0, 0])) == pytest.approx(1.0)
    np.testing.assert_allclose(convergence_times(lam[:2], 0.1, n_residuals=10), [50.0, 200.0])
    coeffs = np.exp(-np.outer(np.arange(20), [0.5, 0.1]))
    np.testing.assert_array_equal(observed_convergence_times(np.arange(20), coeffs), [2, 10])


def test_gradient_descent_follows_the_predicted_mode_times():
    """Lazy regime: for a linear model GD's residual modes decay exactly as predicted."""
    model = Features(1, 40, rngs=nnx.Rngs(3))
    xs = jnp.linspace(-2, 2, 20)[:, None]
    ys = np.sin(2 * np.asarray(xs))
    result = ntk(model, xs, operator=lambda m, x: m(x))
    s = spectrum(result)
    lr = 0.2 / s.eigenvalues[0] * 20 / 2
    data = pn.Trajectories.from_arrays(np.arange(20.0), np.asarray(xs), ys)
    hook = KernelDrift(xs, operator=lambda m, x: m(x), every=1, kernel_every=30, targets=ys)

    class Loss(pn.training.AbstractLoss):
        name = "plain"

        def prepare(self, data, *, clean=False):
            return {"x": xs, "y": jnp.asarray(ys)}

        def __call__(self, m, batch):
            return jnp.mean((jax.vmap(m)(batch["x"]) - batch["y"]) ** 2)

    pn.fit(model, data, steps=60, optimizer=optax.sgd(lr), loss=Loss(), hooks=[hook], chunk_size=60)
    c = np.asarray(hook.coefficients)
    factor = 1 - 2 * lr * s.eigenvalues[:3] / 20
    np.testing.assert_allclose(c[10, :3], c[0, :3] * factor**10, rtol=1e-8, atol=1e-12)
    assert max(hook.drift) < 1e-12  # linear model: the kernel does not move


def test_weighted_component_loss_trains_with_fit():
    sys = pn.systems.Duffing()
    data = pn.data.generate(sys, n_trajectories=3, t1=1.0, n_points=10, key=jax.random.key(0))
    model = pn.HNN(pn.MLP(2, 1, width=8, depth=1, rngs=nnx.Rngs(0)))
    result = ntk(model, data, samples=12)
    weights = trace_ratio_weights(result.traces(), ["loss[0]", "loss[1]"])
    loss = WeightedLoss({"loss[0]": ComponentLoss([0]), "loss[1]": ComponentLoss([1])}, weights)
    batch = loss.prepare(data)
    plain = pn.training.DerivativeLoss()
    equal = WeightedLoss({"a": ComponentLoss([0]), "b": ComponentLoss([1])}, {"a": 0.5, "b": 0.5})
    assert float(equal(model, equal.prepare(data))) == pytest.approx(
        float(plain(model, plain.prepare(data))), rel=1e-12
    )
    hook = KernelDrift(data, every=5, samples=8)
    history = pn.fit(model, data, optimizer="source", steps=10, loss=loss, hooks=[hook])
    assert np.isfinite(history.final_train_loss()) and float(loss(model, batch)) > 0
    assert hook.steps == [0, 5, 10] and hook.drift[0] == 0.0 and hook.drift[-1] > 0


def test_errors_name_the_problem():
    model = pn.HNN(pn.MLP(2, 1, width=4, depth=1, rngs=nnx.Rngs(0)))
    with pytest.raises(pn.ConfigError, match="unknown operator"):
        ntk(model, _states(), operator="laplacian")
    with pytest.raises(pn.DataError, match="shape"):
        ntk(model, np.zeros((2, 2, 2)))
    with pytest.raises(pn.ConfigError, match="unknown term"):
        ntk(model, _states()).block("boundary")
    with pytest.raises(pn.ConfigError, match="weights for unknown"):
        WeightedLoss({"a": "derivative"}, {"b": 1.0})


def test_error_spectra():
    ts = np.linspace(0, 1, 64, endpoint=False)
    true = np.stack([np.sin(2 * np.pi * 3 * ts), np.cos(2 * np.pi * 3 * ts)], -1)
    pred = true + 0.1 * np.sin(2 * np.pi * 10 * ts)[:, None]
    s = rollout_error_spectrum(pred, true, ts)
    assert s.frequencies[np.argmax(s.error)] == pytest.approx(10.0)
    assert s.frequencies[np.argmax(s.reference)] == pytest.approx(3.0)
    grid = (np.linspace(-1, 1, 16, endpoint=False),)
    f = lambda t, x: jnp.sin(2 * np.pi * x)  # noqa: E731
    g = lambda t, x: jnp.sin(2 * np.pi * x) + 0.1 * jnp.cos(2 * np.pi * 4 * x)  # noqa: E731
    fs = field_error_spectrum(g, f, grid)
    assert fs.frequencies[np.argmax(fs.error)] == pytest.approx(4.0)
    grid2 = (grid[0], grid[0])
    fs2 = field_error_spectrum(lambda t, x: g(t, x[:1]), lambda t, x: f(t, x[:1]), grid2)
    assert fs2.frequencies[np.argmax(fs2.error)] == pytest.approx(4.0)


@pytest.mark.slow
def test_ntk_experiment_quick_runs(tmp_path):
    """experiments/ntk/run.py --quick writes its tables (a smoke run, ~1 min on 2 cores)."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments" / "ntk" / "run.py"
    spec = importlib.util.spec_from_file_location("ntk_run", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ntk_run"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "table.md").read_text().count("|") > 20
