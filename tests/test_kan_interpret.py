"""KAN interpretability: sparsity regulariser, importance scores, pruning, diagrams, E6 read-out."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from matplotlib.figure import Figure

import physnet as pn
from physnet import ConfigError, DataError
from physnet.approximators import bspline_basis, uniform_knots
from physnet.interpret import edge_scores, kan_regularization, node_scores, prune
from physnet.plotting import kan_diagram, kan_edge_functions
from physnet.reproduce._e6 import xy_structure
from physnet.training import fit_function, load_model, save_model


def _set_edge(layer, i, o, fn, *, scale=1.0):
    """Make edge (i, o) of ``layer`` the polynomial ``fn`` (degree <= order: exact)."""
    knots = layer.knots[...][i]
    a, b = float(knots[layer.order]), float(knots[-layer.order - 1])
    pts = jnp.linspace(a, b, 200)
    basis = bspline_basis(pts, knots, layer.order)
    coef, *_ = jnp.linalg.lstsq(basis, fn(pts) / scale)
    layer.coef[...] = layer.coef[...].at[i, :, o].set(coef)
    layer.scale_base[...] = layer.scale_base[...].at[i, o].set(0.0)
    layer.scale_spline[...] = layer.scale_spline[...].at[i, o].set(scale)


def _mask(layer, entries):
    m = np.asarray(layer.mask[...]).copy()
    for i, o in entries:
        m[i, o] = 0.0
    layer.mask[...] = jnp.asarray(m)


def _outputs(kan, xs):
    return np.asarray(jax.vmap(kan)(xs))


@pytest.fixture(scope="module")
def xy_data():
    kx, kt = jax.random.split(jax.random.key(0))
    x = jax.random.uniform(kx, (300, 2), minval=-1.0, maxval=1.0)
    xt = jax.random.uniform(kt, (300, 2), minval=-1.0, maxval=1.0)
    return x, (x[:, 0] * x[:, 1])[:, None], xt, (xt[:, 0] * xt[:, 1])[:, None]


def _linear_kan():
    """[2, 1, 1] KAN with φ_x = 0.5x, φ_y = -2y and ψ(z) = 3z (exact linear splines)."""
    kan = pn.KAN([2, 1, 1], grid=4, order=3, grid_range=(-3.0, 3.0), rngs=nnx.Rngs(0))
    first, last = kan.layers
    _set_edge(first, 0, 0, lambda t: 0.5 * t)
    _set_edge(first, 1, 0, lambda t: -2.0 * t)
    _set_edge(last, 0, 0, lambda t: 3.0 * t)
    return kan


def test_regularization_matches_a_hand_computation():
    kan = _linear_kan()
    xs = jax.random.uniform(jax.random.key(1), (50, 2), minval=-1.0, maxval=1.0)
    np.testing.assert_allclose(_outputs(kan, xs)[:, 0], 1.5 * xs[:, 0] - 6.0 * xs[:, 1], atol=1e-12)
    x, y = np.asarray(xs[:, 0]), np.asarray(xs[:, 1])
    m0 = np.array([0.5 * np.mean(np.abs(x)), 2.0 * np.mean(np.abs(y))])
    p = m0 / m0.sum()
    entropy0 = -np.sum(p * np.log(p))
    m1 = 3.0 * np.mean(np.abs(0.5 * x - 2.0 * y))  # one edge: entropy 0
    expected = 0.7 * (m0.sum() + m1) + 1.3 * entropy0
    got = float(kan_regularization(kan, xs, l1=0.7, entropy=1.3))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(
        float(kan_regularization(kan, xs)), m0.sum() + m1 + 2.0 * entropy0, rtol=1e-12
    )


def test_regularization_is_finite_and_differentiable_with_masked_edges():
    kan = pn.KAN([2, 3, 1], rngs=nnx.Rngs(0))
    _mask(kan.layers[0], [(0, 1), (1, 1)])
    xs = jax.random.uniform(jax.random.key(1), (40, 2), minval=-1.0, maxval=1.0)
    graphdef, params, rest = nnx.split(kan, nnx.Param, ...)

    @jax.jit
    def value(params):
        return kan_regularization(nnx.merge(graphdef, params, rest), xs)

    grads = jax.grad(value)(params)
    assert np.isfinite(float(value(params)))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    # a masked edge gets no gradient at all
    g = grads["layers"][0]["scale_spline"][...]
    assert float(g[0, 1]) == 0.0 and float(g[1, 1]) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"l1": -1.0}, "l1"), ({"entropy": float("inf")}, "entropy")]
)
def test_regularization_rejects_bad_weights(kwargs, match):
    kan = pn.KAN([2, 3, 1], rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=match):
        kan_regularization(kan, jnp.zeros((4, 2)), **kwargs)
    with pytest.raises(DataError, match=r"xs must have shape \(n, 2\)"):
        kan_regularization(kan, jnp.zeros((4, 3)))


def test_regularised_training_makes_a_sparser_kan(xy_data):
    """fit_function(regularization=...) runs compiled and gives fewer important edges."""
    x, y, xt, yt = xy_data
    results = {}
    for lam in (0.0, 1e-3):
        kan = pn.KAN([2, 5, 1], grid=5, order=3, rngs=nnx.Rngs(0))
        reg = None if lam == 0 else (lambda f, b, lam=lam: lam * kan_regularization(f, b["x"]))
        history = fit_function(
            kan, x, y, steps=600, optimizer=optax.adam(1e-2), test=(xt, yt), regularization=reg
        )
        _, report = prune(kan, x)
        results[lam] = (float(kan_regularization(kan, x)), report, history)
    (r_plain, plain, h_plain), (r_sparse, sparse, h_sparse) = results[0.0], results[1e-3]
    assert r_sparse < 0.6 * r_plain
    assert sparse.edges_after < plain.edges_after
    assert sparse.widths_after[1] <= 3
    # the training loss includes the penalty, the test loss is plain MSE and still small
    assert h_sparse.train_loss[-1] > h_sparse.final_test_loss()
    assert np.sqrt(h_sparse.final_test_loss()) < 0.03
    assert np.sqrt(h_plain.final_test_loss()) < 0.01


def test_fit_function_rejects_a_non_callable_regularization(xy_data):
    x, y, _, _ = xy_data
    with pytest.raises(ConfigError, match="regularization"):
        fit_function(pn.KAN([2, 2, 1], rngs=nnx.Rngs(0)), x, y, steps=1, regularization=0.1)


def test_pruning_zeroed_edges_and_nodes_is_exact():
    kan = pn.KAN([3, 6, 2], rngs=nnx.Rngs(3))
    first, last = kan.layers
    _mask(first, [(i, 1) for i in range(3)])  # hidden node 1: no input, a constant node
    _mask(last, [(4, 0), (4, 1)])  # hidden node 4: no output
    first.scale_base[...] = first.scale_base[...].at[2, 3].set(0.0)  # edge 2 -> 3 is zero
    first.scale_spline[...] = first.scale_spline[...].at[2, 3].set(0.0)
    xs = jax.random.uniform(jax.random.key(0), (200, 3), minval=-1.0, maxval=1.0)
    pruned, report = prune(kan, xs, node_threshold=1e-9, edge_threshold=1e-9)
    assert report.widths_after == [3, 4, 2]
    assert report.kept_nodes == ((0, 1, 2), (0, 2, 3, 5), (0, 1))
    assert report.max_output_change < 1e-12
    assert report.parameters_after < report.parameters_before
    assert report.edges_after == 3 * 4 - 1 + 4 * 2
    assert float(pruned.layers[0].mask[...][2, 2]) == 0.0  # the zero edge 2 -> 3, now column 2
    # zeroed parts are zero everywhere, so the pruned KAN agrees off the samples as well
    far = jax.random.uniform(jax.random.key(1), (100, 3), minval=-3.0, maxval=3.0)
    np.testing.assert_allclose(_outputs(pruned, far), _outputs(kan, far), atol=1e-12)
    # the original is untouched
    assert kan.config()["widths"] == [3, 6, 2]


def test_pruning_folds_constant_edges_into_a_surviving_edge():
    # _linear_kan plus a hidden node whose output edge is a non-zero constant on the data
    kan2 = pn.KAN([2, 2, 1], grid=4, order=3, grid_range=(-3.0, 3.0), rngs=nnx.Rngs(0))
    _set_edge(kan2.layers[0], 0, 0, lambda t: 0.5 * t)
    _set_edge(kan2.layers[0], 1, 0, lambda t: -2.0 * t)
    _set_edge(kan2.layers[1], 0, 0, lambda t: 3.0 * t)
    _set_edge(kan2.layers[0], 0, 1, lambda t: 0.0 * t)
    _set_edge(kan2.layers[0], 1, 1, lambda t: 0.0 * t)
    _set_edge(kan2.layers[1], 1, 0, lambda t: 0.7 + 0.0 * t)  # ψ_1(0) = 0.7
    xs = jax.random.uniform(jax.random.key(2), (100, 2), minval=-1.0, maxval=1.0)
    pruned, report = prune(kan2, xs)
    assert report.widths_after == [2, 1, 1]
    assert report.max_output_change < 1e-12
    np.testing.assert_allclose(
        _outputs(pruned, xs)[:, 0], 1.5 * xs[:, 0] - 6.0 * xs[:, 1] + 0.7, atol=1e-12
    )


def test_a_dead_input_has_zero_importance():
    kan = pn.KAN([3, 4, 1], rngs=nnx.Rngs(0))
    _mask(kan.layers[0], [(2, o) for o in range(4)])
    xs = jax.random.uniform(jax.random.key(0), (100, 3), minval=-1.0, maxval=1.0)
    scores = node_scores(kan, xs)
    assert scores[0][2] == 0.0 and np.all(scores[0][:2] > 0.05)
    np.testing.assert_array_equal(scores[-1], [1.0])
    assert np.all(edge_scores(kan, xs)[0][2] == 0.0)


def test_training_leaves_an_unused_input_unimportant():
    """f(x, y, z) = sin(πx)·... with z unused: after regularised training z's score ~ 0."""
    xs = jax.random.uniform(jax.random.key(0), (300, 3), minval=-1.0, maxval=1.0)
    ys = (jnp.sin(jnp.pi * xs[:, 0]) + xs[:, 1] ** 2)[:, None]
    kan = pn.KAN([3, 3, 1], grid=5, rngs=nnx.Rngs(1))
    fit_function(
        kan,
        xs,
        ys,
        steps=500,
        optimizer=optax.adam(1e-2),
        regularization=lambda f, b: 1e-3 * kan_regularization(f, b["x"]),
    )
    scores = node_scores(kan, xs)[0]
    assert scores[2] < 0.02 * min(scores[0], scores[1]), scores
    pruned, report = prune(kan, xs)
    assert not np.any(np.asarray(pruned.layers[0].mask[...])[2])  # every z edge is pruned
    assert report.relative_output_change < 0.02


def _exact_product_kan():
    """[2, [1, 2], 1] computing x·y with multiplication node 0 only (identity edges)."""
    kan = pn.KAN([2, [1, 2], 1], grid=3, order=3, rngs=nnx.Rngs(0))
    first, last = kan.layers  # first: 2 -> 1 + 2·2 sums; last: 3 nodes -> 1
    _set_edge(first, 0, 1, lambda t: t)  # x -> factor a of mult node 0
    _set_edge(first, 1, 2, lambda t: t)  # y -> factor b of mult node 0
    _mask(first, [(i, o) for i in range(2) for o in range(5) if (i, o) not in [(0, 1), (1, 2)]])
    _set_edge(last, 1, 0, lambda t: t)
    _mask(last, [(0, 0), (2, 0)])
    return kan


def test_multiplication_nodes_are_scored_and_pruned():
    kan = _exact_product_kan()
    xs = jax.random.uniform(jax.random.key(0), (200, 2), minval=-1.0, maxval=1.0)
    np.testing.assert_allclose(_outputs(kan, xs)[:, 0], xs[:, 0] * xs[:, 1], atol=1e-14)
    scores = node_scores(kan, xs)
    np.testing.assert_allclose(scores[1], [0.0, 1.0, 0.0], atol=1e-3)
    # both factors of the multiplication node inherit its score
    edges = edge_scores(kan, xs)[0]
    np.testing.assert_allclose([edges[0, 1], edges[1, 2]], [1.0, 1.0], atol=1e-3)
    pruned, report = prune(kan, xs)
    assert report.widths_after == [2, [0, 1], 1]
    assert report.kept_nodes[1] == (1,)
    assert report.max_output_change < 1e-12
    assert pruned.layers[0].out_features == 2 and report.edges_after == 3


def test_pruning_a_trained_multiplication_kan_finds_one_product(xy_data):
    x, y, _, _ = xy_data
    kan = pn.KAN([2, [1, 1], 1], grid=5, order=3, rngs=nnx.Rngs(0))
    fit_function(
        kan,
        x,
        y,
        steps=600,
        optimizer=optax.adam(1e-2),
        regularization=lambda f, b: 1e-3 * kan_regularization(f, b["x"]),
    )
    pruned, report = prune(kan, x)
    assert report.widths_after == [2, [0, 1], 1]
    assert np.sqrt(np.mean((_outputs(pruned, x) - np.asarray(y)) ** 2)) < 0.03


def test_mask_survives_refine_update_grid_and_checkpoints(tmp_path):
    kan = pn.KAN([2, 3, 1], rngs=nnx.Rngs(0))
    _mask(kan.layers[0], [(0, 2), (1, 0)])
    xs = jax.random.uniform(jax.random.key(0), (100, 2), minval=-1.0, maxval=1.0)
    before = _outputs(kan, xs)
    mask = np.asarray(kan.layers[0].mask[...])
    kan.refine(10, xs)
    kan.update_grid(xs)
    np.testing.assert_array_equal(np.asarray(kan.layers[0].mask[...]), mask)
    np.testing.assert_allclose(_outputs(kan, xs), before, atol=1e-3)
    save_model(kan, tmp_path / "kan")
    loaded = load_model(tmp_path / "kan")
    np.testing.assert_array_equal(np.asarray(loaded.layers[0].mask[...]), mask)
    np.testing.assert_allclose(_outputs(loaded, xs), _outputs(kan, xs), atol=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"node_threshold": -1.0}, "node_threshold"),
        ({"edge_threshold": float("nan")}, "edge_threshold"),
        ({"eps": -1.0}, "eps"),
    ],
)
def test_prune_rejects_bad_options(kwargs, match):
    kan = pn.KAN([2, 3, 1], rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=match):
        prune(kan, jnp.zeros((4, 2)), **kwargs)


def test_prune_rejects_bad_samples():
    kan = pn.KAN([2, 3, 1], rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"xs must have shape \(n, 2\)"):
        prune(kan, jnp.zeros((4, 3)))
    with pytest.raises(ConfigError, match="NaN"):
        prune(kan, jnp.full((4, 2), jnp.nan))
    with pytest.raises(ConfigError, match="physnet KAN"):
        edge_scores(pn.MLP(2, 1, width=4, depth=1, rngs=nnx.Rngs(0)), jnp.zeros((4, 2)))


def _square_kan(sign_y_second: float):
    """[2, 2, 1]: h0 = x + y, h1 = x + s·y, output = h0²/4 - h1²/4 (= x·y for s = -1)."""
    kan = pn.KAN([2, 2, 1], grid=4, order=3, rngs=nnx.Rngs(0))
    first, last = kan.layers
    last.knots[...] = uniform_knots(4, 3, -2.0 * jnp.ones(2), 2.0 * jnp.ones(2))
    _set_edge(first, 0, 0, lambda t: t)
    _set_edge(first, 1, 0, lambda t: t)
    _set_edge(first, 0, 1, lambda t: t)
    _set_edge(first, 1, 1, lambda t: sign_y_second * t)
    _set_edge(last, 0, 0, lambda t: t**2 / 4)
    _set_edge(last, 1, 0, lambda t: -(t**2) / 4)
    return kan


def test_xy_structure_reads_the_difference_of_squares():
    xs = jax.random.uniform(jax.random.key(0), (300, 2), minval=-1.0, maxval=1.0)
    kan = _square_kan(-1.0)
    np.testing.assert_allclose(_outputs(kan, xs)[:, 0], xs[:, 0] * xs[:, 1], atol=1e-12)
    out = xy_structure(kan, xs)
    assert out["match"] == 1, out["structure"]
    assert min(out["min_inner_r2"], out["min_outer_r2"], out["min_form_r2"]) > 1 - 1e-12
    pos, neg = out["nodes"]
    np.testing.assert_allclose(pos["eigenvalues"], [0.5, 0.0], atol=1e-10)  # ¼(x+y)² = ½(v·x)²
    np.testing.assert_allclose(np.abs(pos["direction"]), [2**-0.5, 2**-0.5], atol=1e-10)
    # (x+y)² - (x+y)² = 0 is not the structure; nor is a single square
    assert xy_structure(_square_kan(1.0), xs)["match"] == 0


def test_kan_diagram_draws_one_inset_per_active_edge():
    kan = pn.KAN([2, [1, 1], 1], rngs=nnx.Rngs(0))
    _mask(kan.layers[0], [(1, 0)])
    xs = jax.random.uniform(jax.random.key(0), (100, 2), minval=-1.0, maxval=1.0)
    fig = kan_diagram(kan, xs, in_names=["q", "p"], out_names=["H"], title="test")
    assert isinstance(fig, Figure)
    insets = [c for a in fig.axes for c in a.child_axes if c.get_label().startswith("kan-edge")]
    assert len(insets) == 2 * 3 - 1 + 2 * 1
    assert {a.get_label() for a in insets} >= {"kan-edge 0,0,0", "kan-edge 1,1,0"}
    assert "kan-edge 0,1,0" not in {a.get_label() for a in insets}
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"q", "p", "H", "×"} <= texts
    # each inset plots its edge function over the range its input saw
    line = next(a for a in insets if a.get_label() == "kan-edge 0,0,0").lines[0]
    grid, values = line.get_data()
    np.testing.assert_allclose([grid.min(), grid.max()], [xs[:, 0].min(), xs[:, 0].max()])
    expected = jax.vmap(kan.layers[0].edges)(jnp.stack([grid, grid], axis=1))[:, 0, 0]
    np.testing.assert_allclose(values, expected, atol=1e-12)
    with pytest.raises(ConfigError, match="in_names"):
        kan_diagram(kan, xs, in_names=["q"])


def test_kan_edge_functions_has_one_panel_per_edge():
    kan = pn.KAN([2, 3, 1], rngs=nnx.Rngs(0))
    xs = jax.random.uniform(jax.random.key(0), (50, 2), minval=-1.0, maxval=1.0)
    fig = kan_edge_functions(kan, xs, layer=0, names=["q", "q̇"])
    assert sum(1 for a in fig.axes if a.lines) == 6
    fig = kan_edge_functions(kan, xs, layer=1)
    assert sum(1 for a in fig.axes if a.lines) == 3
    with pytest.raises(ConfigError, match="layer"):
        kan_edge_functions(kan, xs, layer=2)


@pytest.mark.slow
def test_e6_quick_writes_metrics_and_figures(tmp_path):
    """About 15 s on an idle 2-core machine (compilation dominates)."""
    from physnet.reproduce._e6 import E6

    metrics = E6.train_and_evaluate(E6.quick_config, tmp_path, True)
    for name in E6.figures:
        assert (tmp_path / name).is_file(), name
    assert metrics["test_rmse"] == pytest.approx(np.sqrt(metrics["test_mse"]))
    assert metrics["test_rmse"] < 0.05
    assert metrics["sparse"]["edges_after"] < metrics["sparse"]["edges_before"]
    assert metrics["mult"]["edges_after"] < metrics["mult"]["edges_before"]
    assert metrics["sparse"]["structure_match"] in (0, 1)
