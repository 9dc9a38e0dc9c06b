r"""E6: a KAN learns f(x, y) = x·y; sparsity, pruning and the (x+y)² - (x-y)² structure.

Three KANs on the pykan tutorial data (1000 training and 1000 test points, uniform on
[-1, 1]²):

1. **plain** [2, 5, 1], G = 5, k = 3, trained by MSE: ``train_mse``, ``test_mse``,
   ``test_rmse`` (pykan's tutorial reports a test RMSE of 4.96e-3 for this network).
2. **sparse** [2, 5, 1] trained with the L1 + entropy regulariser
   (:func:`~physnet.interpret.kan_regularization`), pruned (:func:`~physnet.interpret.prune`),
   fine-tuned without the regulariser, and read out (:func:`xy_structure`): each surviving
   hidden node's contribution ψ_j(φ_j1(x) + φ_j2(y)) is fitted by a quadratic form in (x, y);
   the structure is (x+y)² - (x-y)² (in rescaled variables u = a·x, v = b·y, since edge
   functions absorb scales) when exactly two nodes survive, each a rank-one form
   ±κ(v·(x, y))², the positive one along a direction with v_x·v_y > 0, the negative one along
   its mirror image. Figures 12 (before pruning) and 13 (after).
3. **mult** [2, [1, 1], 1] (one addition and one multiplication node), trained with the
   regulariser and pruned: it reduces to [2, [0, 1], 1], one multiplication node fed by two
   (nearly linear) edges, i.e. x·y (``mult.single_product`` = 1).

**Formulas.** ``formula`` and ``coefficients`` are the exported formula of the pruned
multiplication KAN: :func:`~physnet.interpret.symbolic_formula` snaps each of its three edges
to a library function (all three snap to the linear ``x``: c·(a·x + b) + d), composes them
through the product into (c₁x + d₁)(c₂y + d₂)-type terms x·y, x, y, 1, and
:meth:`~physnet.interpret.SymbolicResult.refit` refits these terms' coefficients to the
training data by least squares, removing terms below ``refit_threshold`` (relative); this is
pykan's last step after snapping (training the snapped formula's affine parameters).
``coefficient_error`` = max(|c_xy - 1|, |c| of any other term); ``mult.formula_snapped`` and
``mult.coefficient_error_snapped`` are the same before the refit (the network's own numbers,
off by its training error ~1e-4). ``sparse.formula_structure`` writes the pruned sparse
network as Σ_j A_j·(x + r_j y)² with the directions r_j from the network and the A_j refitted
(when every node is rank-one; otherwise the node readings). The plain network spreads x·y
over all five hidden nodes, each nearly a square of a linear combination:
``structure_plain`` lists them and ``formula_plain`` is the sum of their quadratic forms (the
x² and y² parts cancel to ~1e-5, leaving 1.000·x·y).

Measured (2 CPU cores, float64, seeds 0-4, full config, ~27-32 s per seed of which ~5 s are
optimizer steps and the rest compilation): plain test RMSE 0.71-1.2e-3 (pykan 4.96e-3); the
sparse KAN prunes to [2, 2, 1] for every seed and reads (x+y)² - (x-y)² for seeds 1-4 (seed 0
finds the equally valid x² + y² - (x-y)²); the multiplication KAN prunes to [2, [0, 1], 1]
for every seed; the exported formula is exactly ``1.0*x*y`` for every seed (coefficient error
<= 4.4e-16; before the refit 1.2e-4 to 6.4e-4, all three edges snapped to ``x``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import sympy
from flax import nnx

from ..approximators import KAN
from ..interpret import edge_activations, kan_regularization, prune, symbolic_formula
from ..plotting import kan_diagram, save_figure
from ..training import fit_function
from ._common import Experiment


@dataclasses.dataclass(frozen=True)
class E6Config:
    """Settings of E6 (pykan's x·y tutorial setup; Adam instead of LBFGS).

    ``sparsity`` is the overall weight λ of the regulariser (with pykan's μ_1 = 1,
    μ_2 = 2); ``finetune_steps`` retrain the pruned networks without it.
    """

    n_train: int = 1000
    n_test: int = 1000
    data_seed: int = 0
    model_seed: int = 0
    widths: tuple = (2, 5, 1)
    mult_widths: tuple = (2, (1, 1), 1)
    grid: int = 5
    order: int = 3
    learning_rate: float = 1e-2
    steps: int = 2000
    sparsity: float = 1e-3
    sparse_steps: int = 1500
    finetune_steps: int = 1000
    node_threshold: float = 1e-2
    edge_threshold: float = 3e-2
    refit_threshold: float = 1e-6


FIGURES = {
    "sparse": "fig12_kan_xy.png",
    "pruned": "fig13_kan_xy_pruned.png",
    "mult": "fig13b_kan_xy_mult_pruned.png",
}


def _data(cfg: E6Config):
    k_train, k_test = jax.random.split(jax.random.key(cfg.data_seed))
    x = jax.random.uniform(k_train, (cfg.n_train, 2), minval=-1.0, maxval=1.0)
    xt = jax.random.uniform(k_test, (cfg.n_test, 2), minval=-1.0, maxval=1.0)
    return x, (x[:, 0] * x[:, 1])[:, None], xt, (xt[:, 0] * xt[:, 1])[:, None]


def _mse(kan, x, y) -> float:
    return float(jnp.mean((jax.vmap(kan)(x) - y) ** 2))


def _r2(target: np.ndarray, design: np.ndarray) -> tuple[float, np.ndarray]:
    """R² of the least-squares fit of ``target`` on the columns of ``design`` (1 if constant)."""
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    var = float(np.var(target))
    return (1.0 if var == 0 else 1.0 - float(np.var(target - design @ coef)) / var), coef


def _term(value: float, name: str) -> str:
    return f"{'-' if value < 0 else '+'} {abs(value):.3g}{name}"


def xy_structure(kan: KAN, xs, *, rank_tol: float = 0.05, mirror_tol: float = 0.1) -> dict:
    r"""Read the hidden-node structure of a [2, n, 1] KAN (addition nodes only) on ``xs``.

    For every hidden node j with an active outgoing edge:

    - ``inner_r2``: the smaller R² of the fits φ_j1(x) ≈ a x + b, φ_j2(y) ≈ c y + d;
    - ``outer_r2``: R² of ψ_j(h) ≈ quadratic in h (h = φ_j1 + φ_j2, the node's value);
    - ``form_r2`` and the form: R² of c_j(x, y) = ψ_j(h(x, y)) ≈ A x² + B xy + C y² +
      linear + constant, ``form`` = [A, B, C]; the eigenvalues λ (largest in magnitude first) and unit
      eigenvector v of Q = [[A, B/2], [B/2, C]]. The node is rank-one when
      |λ_2| <= ``rank_tol``·|λ_1|: then c_j ≈ λ_1 (v·(x, y))² + linear.

    ``match`` is 1 when the network reads (x+y)² - (x-y)² in rescaled variables: exactly two
    nodes, both rank-one, λ_1 of opposite signs, the positive node's direction with
    v_x v_y > 0, the negative one's with v_x v_y < 0, and the two directions mirror images
    (| |v_x| - |v'_x| | <= ``mirror_tol``).

    Returns:
        ``{"nodes": [...], "structure": str, "match": 0/1, "min_inner_r2", "min_outer_r2",
        "min_form_r2"}``.
    """
    if len(kan.layers) != 2 or kan.in_features != 2 or kan.out_features != 1:
        raise ValueError(
            f"xy_structure: needs a [2, n, 1] KAN, got widths {kan.config()['widths']}"
        )
    if kan.nodes[1][1]:
        raise ValueError("xy_structure: the hidden layer must have addition nodes only")
    xs = np.asarray(xs)
    inputs = jax.vmap(kan.layer_inputs)(jnp.asarray(xs))
    acts = [np.asarray(a) for a in edge_activations(kan, jnp.asarray(xs))]
    hidden = np.asarray(inputs[1])
    x, y = xs[:, 0], xs[:, 1]
    one = np.ones_like(x)
    quad = np.stack([x**2, x * y, y**2, x, y, one], axis=1)
    out_mask = np.asarray(kan.layers[1].mask[...])
    nodes = []
    for j in range(hidden.shape[1]):
        if out_mask[j, 0] == 0:
            continue
        r2x, _ = _r2(acts[0][:, 0, j], np.stack([x, one], axis=1))
        r2y, _ = _r2(acts[0][:, 1, j], np.stack([y, one], axis=1))
        h = hidden[:, j]
        outer_r2, _ = _r2(acts[1][:, j, 0], np.stack([h**2, h, np.ones_like(h)], axis=1))
        form_r2, c = _r2(acts[1][:, j, 0], quad)
        q = np.array([[c[0], c[1] / 2], [c[1] / 2, c[2]]])
        lam, vec = np.linalg.eigh(q)
        order = np.argsort(-np.abs(lam))
        lam, vec = lam[order], vec[:, order]
        v = vec[:, 0] * (1.0 if vec[0, 0] >= 0 else -1.0)
        rank_one = bool(abs(lam[1]) <= rank_tol * abs(lam[0]))
        if rank_one:
            reading = f"{_term(lam[0], '')}·({v[0]:.3g}x {_term(v[1], 'y')})²"
        else:
            reading = f"{_term(c[0], 'x²')} {_term(c[1], 'xy')} {_term(c[2], 'y²')}"
        nodes.append(
            {
                "node": j,
                "inner_r2": min(r2x, r2y),
                "outer_r2": outer_r2,
                "form_r2": form_r2,
                "form": [float(c[0]), float(c[1]), float(c[2])],
                "eigenvalues": [float(lam[0]), float(lam[1])],
                "direction": [float(v[0]), float(v[1])],
                "rank_one": rank_one,
                "reading": reading,
            }
        )
    match = 0
    if len(nodes) == 2 and all(n["rank_one"] for n in nodes):
        pos, neg = sorted(nodes, key=lambda n: -n["eigenvalues"][0])
        (px, py), (nx, ny) = pos["direction"], neg["direction"]
        match = int(
            pos["eigenvalues"][0] > 0 > neg["eigenvalues"][0]
            and px * py > 0 > nx * ny
            and abs(abs(px) - abs(nx)) <= mirror_tol
        )
    return {
        "nodes": nodes,
        "structure": " ".join(n["reading"] for n in nodes),
        "match": match,
        "min_inner_r2": min((n["inner_r2"] for n in nodes), default=float("nan")),
        "min_outer_r2": min((n["outer_r2"] for n in nodes), default=float("nan")),
        "min_form_r2": min((n["form_r2"] for n in nodes), default=float("nan")),
    }


def xy_coefficient_error(coefficients: dict) -> float:
    """max(|c_xy - 1|, |c| of every other term, constant included): 0 for exactly x·y."""
    others = [abs(c) for k, c in coefficients.items() if k != "x*y"]
    return max([abs(coefficients.get("x*y", 0.0) - 1.0), *others])


def structure_formula(structure: dict, x, y, *, threshold: float = 1e-3) -> str:
    r"""The (x+y)² - (x-y)² reading of :func:`xy_structure` as a formula.

    Every surviving hidden node j that is rank-one reads λ_j·(v_x x + v_y y)² + linear
    = A_j·(x + r_j y)² + linear with r_j = v_y/v_x; the directions r_j are kept from the
    network and the A_j (with a linear part and a constant) are refitted to the data by
    least squares, terms below ``threshold`` (relative, STLSQ) dropped, and the result printed
    without expanding the squares. With a node that is not rank-one the node readings are
    returned as they are.
    """
    from ..interpret import stlsq

    nodes = structure["nodes"]
    if not nodes or not all(n["rank_one"] and abs(n["direction"][0]) > 1e-3 for n in nodes):
        return structure["structure"]
    xs, ys = np.asarray(x), np.asarray(y).reshape(-1)
    sx, sy = sympy.symbols("x y")
    ratios = [n["direction"][1] / n["direction"][0] for n in nodes]
    terms = [(sx + sympy.Float(r, 4) * sy) ** 2 for r in ratios] + [sx, sy, sympy.Integer(1)]
    columns = [(xs[:, 0] + float(sympy.Float(r, 4)) * xs[:, 1]) ** 2 for r in ratios]
    columns += [xs[:, 0], xs[:, 1], np.ones(xs.shape[0])]
    coef = stlsq(np.stack(columns, axis=1), ys, threshold=threshold)
    expr = sympy.Add(
        *(sympy.Float(c, 4) * t for c, t in zip(coef, terms, strict=True) if c != 0.0),
        evaluate=False,
    )
    return sympy.sstr(expr, order="none")


def _widths(widths) -> list:
    return [list(w) if isinstance(w, tuple | list) else w for w in widths]


def _train(kan, cfg: E6Config, x, y, test, *, steps: int, sparsity: float, decay: bool):
    lr = cfg.learning_rate
    schedule = optax.cosine_decay_schedule(lr, steps, 1e-2) if decay and steps else lr
    regularization = None
    if sparsity > 0:
        regularization = lambda f, b: sparsity * kan_regularization(f, b["x"])  # noqa: E731
    return fit_function(
        kan,
        x,
        y,
        steps=steps,
        optimizer=optax.adam(schedule),
        test=test,
        chunk_size=max(steps, 1),
        regularization=regularization,
    )


def _sparse_and_prune(widths, cfg: E6Config, x, y, xt, yt):
    kan = KAN(_widths(widths), grid=cfg.grid, order=cfg.order, rngs=nnx.Rngs(cfg.model_seed))
    history = _train(
        kan, cfg, x, y, (xt, yt), steps=cfg.sparse_steps, sparsity=cfg.sparsity, decay=False
    )
    pruned, report = prune(
        kan, x, node_threshold=cfg.node_threshold, edge_threshold=cfg.edge_threshold
    )
    rmse_pruned = float(np.sqrt(_mse(pruned, xt, yt)))
    tuned = _train(pruned, cfg, x, y, (xt, yt), steps=cfg.finetune_steps, sparsity=0.0, decay=True)
    metrics = {
        "test_rmse_before_prune": float(np.sqrt(history.final_test_loss())),
        "regularization": float(nnx.jit(kan_regularization)(kan, x)),
        "widths_after": str(report.widths_after),
        "edges_before": report.edges_before,
        "edges_after": report.edges_after,
        "parameters_before": report.parameters_before,
        "parameters_after": report.parameters_after,
        "prune_output_change": report.max_output_change,
        "test_rmse_pruned": rmse_pruned,
        "test_rmse_finetuned": float(np.sqrt(_mse(pruned, xt, yt))),
        "train_seconds": history.train_seconds + tuned.train_seconds,
    }
    return kan, pruned, metrics


def e6(cfg: E6Config, workdir: Path, make_figures: bool = True) -> dict:
    """Train the three KANs of E6, prune, read out the structure; write Figures 12, 13."""
    t0 = time.perf_counter()
    x, y, xt, yt = _data(cfg)
    plain = KAN(_widths(cfg.widths), grid=cfg.grid, order=cfg.order, rngs=nnx.Rngs(cfg.model_seed))
    history = _train(plain, cfg, x, y, (xt, yt), steps=cfg.steps, sparsity=0.0, decay=True)
    test_mse = _mse(plain, xt, yt)
    metrics = {
        "model": "kan",
        "widths": str(_widths(cfg.widths)),
        "train_mse": _mse(plain, x, y),
        "test_mse": test_mse,
        "test_rmse": float(np.sqrt(test_mse)),
        "parameters": plain.parameter_count(),
        "steps": cfg.steps,
        "train_seconds": history.train_seconds,
    }

    sparse, pruned, sparse_metrics = _sparse_and_prune(cfg.widths, cfg, x, y, xt, yt)
    structure = xy_structure(pruned, x)
    sparse_metrics.update(
        {
            "structure": structure["structure"],
            "structure_match": structure["match"],
            "min_inner_r2": structure["min_inner_r2"],
            "min_outer_r2": structure["min_outer_r2"],
            "min_form_r2": structure["min_form_r2"],
            "nodes": structure["nodes"],
        }
    )
    metrics["sparse"] = sparse_metrics

    sparse_metrics["formula_structure"] = structure_formula(structure, x, y)
    # the plain network spreads x·y over its hidden nodes, each a quadratic form in (x, y)
    # (nearly a square of a linear combination); their squares cancel in the sum
    plain_structure = xy_structure(plain, x)
    a, b, c = np.sum([n["form"] for n in plain_structure["nodes"]], axis=0)
    metrics["structure_plain"] = plain_structure["structure"]
    sx, sy = sympy.symbols("x y")
    quadratic = sympy.Float(a, 3) * sx**2 + sympy.Float(b, 6) * sx * sy + sympy.Float(c, 3) * sy**2
    metrics["formula_plain"] = f"{quadratic} + linear"

    mult, mult_pruned, mult_metrics = _sparse_and_prune(cfg.mult_widths, cfg, x, y, xt, yt)
    mult_metrics["single_product"] = int(mult_pruned.config()["widths"] == [2, [0, 1], 1])
    snapped = symbolic_formula(mult_pruned, x, names=("x", "y"), method="library")
    refit = snapped.refit(x, y, threshold=cfg.refit_threshold)
    mult_metrics.update(
        {
            "edge_functions": [e.fit.name for e in snapped.edges if not e.pruned],
            "edge_r2_min": snapped.r2_min,
            "formula_snapped": snapped.formula,
            "coefficients_snapped": snapped.coefficients,
            "coefficient_error_snapped": xy_coefficient_error(snapped.coefficients),
            "formula_test_rmse": refit.errors(xt, yt)["formula_rmse"],
        }
    )
    metrics["mult"] = mult_metrics
    # the exported formula: the pruned multiplication KAN, edges snapped, coefficients refitted
    metrics["formula"] = refit.formula
    metrics["coefficients"] = refit.coefficients
    metrics["coefficient_error"] = xy_coefficient_error(refit.coefficients)
    metrics["config"] = dataclasses.asdict(cfg)

    if make_figures:
        names = {"in_names": ["x", "y"], "out_names": ["x·y"]}
        save_figure(
            kan_diagram(
                sparse,
                x,
                **names,
                title=f"E6: [2, 5, 1] KAN for x·y, trained with sparsity λ = {cfg.sparsity:g}",
            ),
            workdir / FIGURES["sparse"],
        )
        save_figure(
            kan_diagram(
                pruned,
                x,
                **names,
                title=f"E6: pruned to {pruned.config()['widths']}\n{structure['structure']}",
            ),
            workdir / FIGURES["pruned"],
        )
        save_figure(
            kan_diagram(
                mult_pruned,
                x,
                **names,
                title=f"E6: KAN {_widths(cfg.mult_widths)} pruned to "
                f"{mult_pruned.config()['widths']}",
            ),
            workdir / FIGURES["mult"],
        )
    metrics["total_seconds"] = time.perf_counter() - t0
    return metrics


def with_seed(cfg: E6Config, seed: int) -> E6Config:
    """The same experiment with data seed and initialisation seed ``seed``."""
    return dataclasses.replace(cfg, data_seed=seed, model_seed=seed)


E6_CONFIG = E6Config()
E6_QUICK = dataclasses.replace(
    E6_CONFIG, n_train=300, n_test=300, steps=300, sparse_steps=400, finetune_steps=0
)

E6 = Experiment(
    name="E6",
    title="KAN fits x·y: [2, 5, 1] reads (x+y)² - (x-y)²; with multiplication nodes, x·y",
    config=E6_CONFIG,
    quick_config=E6_QUICK,
    train_and_evaluate=e6,
    with_seed=with_seed,
    source={},
    figures=tuple(FIGURES.values()),
)
