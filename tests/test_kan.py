"""KAN: B-spline basis against scipy, grid update and extension, out-of-grid behaviour, x·y."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from scipy.interpolate import BSpline

import physnet as pn
from physnet._build import build_approximator, build_model
from physnet.approximators import (
    bspline_basis,
    bspline_eval,
    bspline_pieces,
    extend_knots,
    remap_optimizer_state,
    uniform_knots,
)
from physnet.training import fit_function

PYKAN_XY_TEST_RMSE = 4.96e-3  # pykan tutorial, [2, 5, 1] KAN, G = 5, k = 3 (ANCHORS.md)


def _knots(kind, grid, order, a=-1.3, b=2.1):
    if kind == "uniform":
        return uniform_knots(grid, order, a, b)
    inner = np.sort(np.random.default_rng(grid + order).uniform(a, b, grid - 1))
    return extend_knots(jnp.asarray(np.concatenate([[a], inner, [b]])), order)


def _away_from_knots(knots, n=400):
    """Points in [a, b] (ends included) that are not within 1e-6 of an interior knot."""
    a, b = float(knots[0]), float(knots[-1])
    x = np.linspace(a, b, n)
    near = np.min(np.abs(x[:, None] - np.asarray(knots)[None, :]), axis=1) < 1e-6
    return jnp.asarray(np.concatenate([[a, b], x[~near]]))


@pytest.mark.parametrize("kind", ["uniform", "nonuniform"])
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_basis_matches_scipy(kind, order):
    grid = 7
    knots = _knots(kind, grid, order)
    a, b = float(knots[order]), float(knots[grid + order])
    reference = BSpline(np.asarray(knots), np.eye(grid + order), order)
    x = _away_from_knots(knots[order : grid + order + 1])
    uniform = kind == "uniform"

    def basis(v):
        return bspline_basis(v, knots, order, uniform=uniform)

    values = jax.jit(jax.vmap(basis))(x)
    d1 = jax.jit(jax.vmap(jax.jacfwd(basis)))(x)
    np.testing.assert_allclose(values, reference(np.asarray(x)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(d1, reference.derivative(1)(np.asarray(x)), rtol=0, atol=1e-12)
    if order >= 2:
        d2 = jax.jit(jax.vmap(jax.jacfwd(jax.jacfwd(basis))))(x)
        scale = np.max(np.abs(reference.derivative(2)(np.asarray(x))))
        np.testing.assert_allclose(
            d2, reference.derivative(2)(np.asarray(x)), rtol=0, atol=1e-12 * max(1.0, scale)
        )
    # partition of unity and non-negativity on [a, b]
    np.testing.assert_allclose(jnp.sum(values, axis=-1), 1.0, atol=1e-14)
    assert np.all(np.asarray(values) >= -1e-15)
    assert a <= float(jnp.min(x)) and float(jnp.max(x)) <= b


def test_uniform_path_reads_only_the_grid_ends():
    knots = uniform_knots(6, 3, -1.0, 1.0)
    x = jnp.linspace(-1.5, 1.5, 31)
    poisoned = knots.at[4:9].set(jnp.nan)  # interior knots are never read on a uniform grid
    expected = bspline_basis(x, jnp.broadcast_to(knots, (31, knots.shape[0])), 3, uniform=True)
    got = bspline_basis(x, jnp.broadcast_to(poisoned, (31, knots.shape[0])), 3, uniform=True)
    np.testing.assert_array_equal(got, expected)


def test_spline_eval_gathers_the_right_rows():
    grid, order, n_in, n_out = 9, 3, 3, 2
    knots = jnp.stack([uniform_knots(grid, order, -1.0 - i, 1.0 + i) for i in range(n_in)])
    coef = jax.random.normal(jax.random.key(0), (n_in, grid + order, n_out))
    x = jnp.array([-1.7, 0.2, 2.9])
    dense = jnp.einsum("im,imo->io", bspline_basis(x, knots, order, uniform=True), coef)
    np.testing.assert_allclose(bspline_eval(x, knots, coef, order, uniform=True), dense, atol=1e-14)
    start, weights = bspline_pieces(x, knots, order, uniform=True)
    assert start.shape == (n_in,) and weights.shape == (n_in, order + 1)


@pytest.mark.parametrize("kind", ["uniform", "nonuniform"])
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_piecewise_polynomial_evaluation_matches_scipy(kind, order):
    """bspline_eval (piecewise-polynomial form, Horner) against scipy's BSpline: values, first
    and second derivatives inside [a, b] (both ends included), the tangent line outside, and
    the same numbers as the basis route; vector-valued splines, one knot vector per input."""
    grid, n_out = 7, 3
    knots = _knots(kind, grid, order)
    a, b = float(knots[order]), float(knots[grid + order])
    coef = np.asarray(jax.random.normal(jax.random.key(order), (grid + order, n_out)))
    reference = BSpline(np.asarray(knots), coef, order)
    inside = _away_from_knots(knots[order : grid + order + 1])
    outside = jnp.array([a - 3.0, a - 1e-3, b + 1e-3, b + 4.0])
    x = jnp.concatenate([inside, outside])
    uniform = kind == "uniform"

    def spline(v):  # one point, n_out outputs
        return bspline_eval(v[None], knots[None], jnp.asarray(coef)[None], order, uniform=uniform)[
            0
        ]

    values = jax.jit(jax.vmap(spline))(x)
    ends = np.clip(np.asarray(outside), a, b)
    tangent = (
        reference(ends) + reference.derivative(1)(ends) * (np.asarray(outside) - ends)[:, None]
    )
    expected = np.concatenate([reference(np.asarray(inside)), tangent])
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-12 * np.max(np.abs(expected)))
    basis_route = jax.jit(
        jax.vmap(lambda v: bspline_basis(v, knots, order, uniform=uniform) @ coef)
    )(x)
    np.testing.assert_allclose(values, basis_route, rtol=0, atol=1e-12 * np.max(np.abs(expected)))
    d1 = jax.jit(jax.vmap(jax.jacfwd(spline)))(inside)
    d1_ref = reference.derivative(1)(np.asarray(inside))
    np.testing.assert_allclose(d1, d1_ref, rtol=0, atol=1e-11 * np.max(np.abs(d1_ref)))
    if order >= 2:
        d2 = jax.jit(jax.vmap(jax.jacfwd(jax.jacfwd(spline))))(inside)
        d2_ref = reference.derivative(2)(np.asarray(inside))
        np.testing.assert_allclose(d2, d2_ref, rtol=0, atol=1e-10 * np.max(np.abs(d2_ref)))
    # the gradient in the coefficients is the basis itself (the table is linear in them)
    point = inside[len(inside) // 2]
    grad = jax.jit(
        jax.grad(lambda c: bspline_eval(point[None], knots[None], c, order, uniform=uniform)[0, 0])
    )(jnp.asarray(coef)[None])
    np.testing.assert_allclose(
        grad[0, :, 0], bspline_basis(point, knots, order, uniform=uniform), rtol=0, atol=1e-13
    )


@pytest.mark.parametrize("uniform", [True, False])
def test_outside_the_grid_the_spline_continues_as_its_tangent(uniform):
    order, grid = 3, 5
    knots = _knots("uniform" if uniform else "nonuniform", grid, order, -1.0, 1.0)
    a, b = float(knots[order]), float(knots[grid + order])
    coef = jax.random.normal(jax.random.key(2), (grid + order,))
    reference = BSpline(np.asarray(knots), np.asarray(coef), order)

    def spline(v):
        return bspline_basis(v, knots, order, uniform=uniform) @ coef

    for end, sign in ((a, -1.0), (b, 1.0)):
        x = end + sign * jnp.array([1e-9, 0.3, 2.0, 50.0])
        tangent = reference(end) + reference.derivative(1)(end) * (np.asarray(x) - end)
        np.testing.assert_allclose(jax.vmap(spline)(x), tangent, rtol=1e-12, atol=1e-12)
        # C¹ across the boundary; the curvature drops to zero outside
        slope_in = jax.grad(spline)(jnp.asarray(end - sign * 1e-9))
        slope_out = jax.grad(spline)(jnp.asarray(end + sign * 1e-9))
        np.testing.assert_allclose(slope_in, slope_out, rtol=1e-6, atol=1e-8)
        assert float(jax.grad(jax.grad(spline))(jnp.asarray(end + sign))) == 0.0
    # the weights still sum to one outside, so a constant spline stays constant
    w = bspline_basis(jnp.array([-7.0, 9.0]), knots, order, uniform=uniform)
    np.testing.assert_allclose(jnp.sum(w, axis=-1), 1.0, atol=1e-13)


def test_kan_outside_grid_is_smooth_nonzero_and_counted():
    kan = pn.KAN([2, 3, 1], grid=5, rngs=nnx.Rngs(0))
    xs = jnp.array([[0.0, 0.0], [0.5, -0.5], [1.5, 0.0], [0.0, -3.0]])
    fraction = kan.out_of_grid_fraction(xs)
    assert fraction.shape == (2,)
    np.testing.assert_allclose(fraction[0], 2 / 8)  # two of eight (sample, input) pairs
    line = jnp.stack([jnp.linspace(0.5, 4.0, 200), jnp.zeros(200)], axis=1)
    values = jax.vmap(kan)(line)[:, 0]
    slopes = jax.vmap(jax.grad(lambda x: kan(x)[0]))(line)[:, 0]
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))
    # no jump in value or slope where the input leaves the grid at x = 1
    assert np.max(np.abs(np.diff(values))) < 0.05
    assert np.max(np.abs(np.diff(slopes))) < 0.05


@pytest.fixture(scope="module")
def xy_data():
    kx, kt = jax.random.split(jax.random.key(0))
    x = jax.random.uniform(kx, (1000, 2), minval=-1.0, maxval=1.0)
    xt = jax.random.uniform(kt, (1000, 2), minval=-1.0, maxval=1.0)
    return x, (x[:, 0] * x[:, 1])[:, None], xt, (xt[:, 0] * xt[:, 1])[:, None]


@pytest.fixture(scope="module")
def trained_kan(xy_data):
    x, y, _, _ = xy_data
    kan = pn.KAN([2, 5, 1], grid=5, order=3, rngs=nnx.Rngs(0))
    fit_function(kan, x, y, steps=300, optimizer=optax.adam(1e-2))
    return kan


def _clone(module):
    return nnx.merge(*nnx.split(module))


def test_refine_preserves_a_trained_kan(trained_kan, xy_data):
    x = xy_data[0]
    kan = _clone(trained_kan)
    probe = jnp.concatenate([x[:200], 3.0 * x[:50]])  # also outside the grid
    before = jax.vmap(kan)(probe)
    change = kan.refine(10, probe)
    assert change.exact and change.grid == 10 and change.previous_grid == 5
    assert change.output_change <= 1e-10 and change.residual <= 1e-10
    np.testing.assert_allclose(jax.vmap(kan)(probe), before, rtol=0, atol=1e-10)
    assert kan.grid == 10 and kan.layers[0].coef.shape == (2, 13, 5)
    assert kan.config()["grid"] == 10
    # a non-nested grid (10 -> 13) is a least-squares refit with its residual reported
    change = kan.refine(13, probe)
    assert not change.exact and 1e-8 < change.residual < 1e-2
    assert change.output_change < 1e-2 and max(change.condition) < 1e3


def test_refine_on_nonuniform_grids_is_exact_by_integer_factors(xy_data):
    x = xy_data[0]
    kan = pn.KAN([2, 3, 1], grid=4, grid_eps=0.5, rngs=nnx.Rngs(1))
    kan.update_grid(x**3)  # quantile-mixed grids are not uniform
    assert not bool(pn.approximators._bspline.is_uniform(kan.layers[0].knots[...][0]))
    change = kan.refine(8, x**3)
    assert change.exact and change.output_change <= 1e-10 and change.residual <= 1e-10


def test_update_grid_moves_grids_to_the_data_and_reports_the_residual(trained_kan, xy_data):
    kan = _clone(trained_kan)
    xs = 2.5 * xy_data[0][:300] + jnp.array([[0.5, 0.0]])
    change = kan.update_grid(xs, margin=0.1)
    knots = kan.layers[0].knots[...]
    lo, hi = jnp.min(xs, axis=0), jnp.max(xs, axis=0)
    guard = pn.approximators._kan_grid.END_GUARD  # no sample exactly on a grid end
    np.testing.assert_allclose(knots[:, 3], lo - (0.1 + guard) * (hi - lo), rtol=1e-12)
    np.testing.assert_allclose(knots[:, 3 + 5], hi + (0.1 + guard) * (hi - lo), rtol=1e-12)
    assert change.grid == 5 and len(change.edge_residual) == 2
    assert all(np.isfinite(r) and r >= 0 for r in change.edge_residual)
    assert np.isfinite(change.output_change) and max(change.condition) < 1e3
    assert float(kan.out_of_grid_fraction(xs)[0]) == 0.0
    # the learned function is kept where the old grid was (up to the refit residual)
    inside = xy_data[0][:100]
    np.testing.assert_allclose(
        jax.vmap(kan)(inside), jax.vmap(trained_kan)(inside), atol=10 * change.residual + 1e-9
    )


def test_update_grid_keeps_degenerate_inputs_and_rejects_bad_samples():
    kan = pn.KAN([2, 2, 1], rngs=nnx.Rngs(0))
    old = kan.layers[0].knots[...]
    xs = jnp.stack([jnp.linspace(-2, 2, 20), jnp.full(20, 0.3)], axis=1)
    kan.update_grid(xs)
    new = kan.layers[0].knots[...]
    np.testing.assert_array_equal(new[1], old[1])
    assert float(new[0, 3]) == -2.0 - 4.0 * pn.approximators._kan_grid.END_GUARD
    with pytest.raises(pn.ConfigError, match="NaN"):
        kan.update_grid(xs.at[0, 0].set(jnp.nan))
    with pytest.raises(pn.ConfigError, match="shape"):
        kan.update_grid(xs[:, :1])


def test_training_continues_after_refine_with_remapped_adam_state(trained_kan, xy_data):
    x, y, _, _ = xy_data
    kan = _clone(trained_kan)
    opt = optax.adam(1e-3)
    history, opt_state = fit_function(
        kan, x, y, steps=20, optimizer=opt, opt_state=None, return_opt_state=True
    )
    change = kan.refine(10)
    mapped = remap_optimizer_state(opt_state, change)
    params = nnx.state(kan, nnx.Param)
    for moments in (mapped[0].mu, mapped[0].nu):
        for m, p in zip(jax.tree.leaves(moments), jax.tree.leaves(params), strict=True):
            assert m.shape == p.shape
    assert all(float(jnp.min(v)) >= 0 for v in jax.tree.leaves(mapped[0].nu))
    after = fit_function(kan, x, y, steps=20, optimizer=opt, opt_state=mapped)
    assert after.train_loss[0] == pytest.approx(history.train_loss[-1], rel=0.1)
    assert after.final_train_loss() < after.train_loss[0] * 1.01


def test_multiplication_nodes():
    kan = pn.KAN([2, [1, 2], 1], mult_arity=2, rngs=nnx.Rngs(0))
    assert kan.layers[0].out_features == 1 + 2 * 2 and kan.layers[1].in_features == 3
    x = jnp.array([0.3, -0.4])
    sums = kan.layers[0](x)
    nodes = kan.layer_inputs(x)[1]
    np.testing.assert_allclose(nodes, [sums[0], sums[1] * sums[2], sums[3] * sums[4]])
    assert kan.config()["widths"] == [2, [1, 2], 1]
    # x·y exactly: one multiplication node fed by φ(x) = x and φ(y) = y
    exact = pn.KAN([2, [0, 1], 1], grid=3, order=3, rngs=nnx.Rngs(0))
    first, last = exact.layers
    first.scale_base[...] = jnp.zeros((2, 2))
    first.scale_spline[...] = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    # coefficients of the identity are the Greville abscissae
    t = first.knots[...]
    first.coef[...] = jnp.repeat(
        (jnp.stack([t[:, m + 1 : m + 4].mean(axis=1) for m in range(6)], axis=1))[..., None],
        2,
        axis=2,
    )
    last.scale_base[...] = jnp.zeros((1, 1))
    last.scale_spline[...] = jnp.ones((1, 1))
    t = last.knots[...]
    last.coef[...] = jnp.stack([t[:, m + 1 : m + 4].mean(axis=1) for m in range(6)], axis=1)[
        ..., None
    ]
    pts = jax.random.uniform(jax.random.key(3), (20, 2), minval=-1.0, maxval=1.0)
    np.testing.assert_allclose(jax.vmap(exact)(pts)[:, 0], pts[:, 0] * pts[:, 1], atol=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"widths": [2]}, "widths"),
        ({"widths": [2, 0, 1]}, "widths"),
        ({"widths": [[1, 1], 2, 1]}, "input layer"),
        ({"widths": [2, 5, 1], "grid": 0}, "grid"),
        ({"widths": [2, 5, 1], "order": 0}, "order"),
        ({"widths": [2, 5, 1], "grid_range": (1, -1)}, "grid_range"),
        ({"widths": [2, 5, 1], "grid_eps": 0.0}, "grid_eps"),
        ({"widths": [2, 5, 1], "base_activation": "nope"}, "activation"),
    ],
)
def test_bad_options_raise_config_error(kwargs, match):
    with pytest.raises(pn.ConfigError, match=match):
        pn.KAN(**kwargs, rngs=nnx.Rngs(0))


def test_build_kan_for_every_model():
    kan = build_approximator("kan", 2, 1, rngs=nnx.Rngs(0), grid=7, order=2, width=4)
    assert kan.config()["widths"] == [2, 4, 1] and kan.grid == 7 and kan.order == 2
    for model in ("node", "hnn", "dhnn", "lnn"):
        m = build_model(model, 2, "kan", grid=4, order=3, width=3, depth=2)
        assert jax.vmap(lambda y, m=m: m(0.0, y))(jnp.ones((3, 2)) * 0.2).shape == (3, 2)
    with pytest.raises(pn.ConfigError, match="unknown option"):
        build_approximator("kan", 2, 1, rngs=nnx.Rngs(0), init="lnn")


def test_refined_and_updated_kan_checkpoint_roundtrip(tmp_path, trained_kan):
    kan = _clone(trained_kan)
    kan.refine(10)
    kan.update_grid(1.5 * jax.random.normal(jax.random.key(0), (100, 2)))
    model = pn.HNN(kan)
    pn.save_model(model, tmp_path / "run")
    loaded = pn.load_model(tmp_path / "run")
    assert loaded.hamiltonian.grid == 10
    ys = jax.random.normal(jax.random.key(1), (5, 2))
    np.testing.assert_array_equal(
        jax.vmap(lambda y: loaded(0.0, y))(ys), jax.vmap(lambda y: model(0.0, y))(ys)
    )


def test_xy_plain_kan_beats_pykan_tutorial(xy_data):
    x, y, xt, yt = xy_data
    kan = pn.KAN([2, 5, 1], grid=5, order=3, rngs=nnx.Rngs(0))
    steps = 2000
    history = fit_function(
        kan,
        x,
        y,
        steps=steps,
        optimizer=optax.adam(optax.cosine_decay_schedule(1e-2, steps, 1e-2)),
        test=(xt, yt),
        chunk_size=1000,
    )
    test_rmse = float(np.sqrt(history.final_test_loss()))
    assert test_rmse < PYKAN_XY_TEST_RMSE / 2, test_rmse


@pytest.mark.slow
def test_kan_hnn_on_e1_beats_target_with_fewer_parameters():
    data = pn.data.generate(pn.systems.Duffing(1, 2, 0), 100, 5.0, 50, key=jax.random.key(0))
    train, test = data.split(0.8, key=jax.random.key(100))
    kan = pn.KAN([2, 5, 1], grid=5, order=3, rngs=nnx.Rngs(0))
    pn.approximators.update_grids(kan, train.flat()[0])
    steps = 3000
    history = pn.fit(
        pn.HNN(kan),
        train,
        steps=steps,
        optimizer=optax.adam(optax.cosine_decay_schedule(2e-2, steps, 1e-2)),
        test_data=test,
        chunk_size=1000,
    )
    mlp = pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0))
    n_mlp = sum(p.size for p in jax.tree.leaves(nnx.state(mlp, nnx.Param)))
    assert kan.parameter_count() == 150 < n_mlp == 1185
    assert history.final_test_loss() <= 1e-3
