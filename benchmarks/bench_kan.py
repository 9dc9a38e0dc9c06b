"""KAN speed: physnet against pykan on the same training, and the KAN-HNN training step.

1. x·y regression, the same in both: a [2, 5, 1] KAN, G = 5, k = 3, float64, 1000 training
   and 1000 test points uniform on [-1, 1]² (the same arrays), 500 full-batch Adam(1e-2)
   steps, with pykan's default grid schedule (grids moved to the training inputs every 5 steps
   during the first 50; pykan's default ``grid_eps=0.02``, so physnet runs with the same
   quantile-mixed, non-uniform grids). pykan runs with its defaults otherwise (``auto_save``
   off so it writes no checkpoints) and torch on as many threads as XLA's CPU client uses
   (all cores). physnet's grid updates run inside its compiled training loop. Each physnet
   run is a fresh process (``--physnet-worker``) timed from building the model to the trained
   model (imports excluded, as for pykan), once with an empty JAX compilation cache (*cold*)
   and once more with the cache that run filled (*warm*); then once in the benchmark's own
   process after an untimed run (*same process*: ``pn.fit`` and ``fit_function`` reuse the
   compiled programs of an equal earlier call); its optimizer steps alone (grid updates
   included) are reported too. Per step: pykan's wall time / physnet's step time.
   pykan (``pip install pykan scikit-learn pandas pyyaml`` and torch) is optional: the physnet
   side runs without it.
2. One HNN training step on E1's data (80 Duffing trajectories x 50 points, full batch,
   derivative loss, Adam): KAN [2, 5, 1] for G = 5, 20, 50 (cost should not grow with G)
   against the source's MLP 2-32-32-1 tanh; a compiled chunk of steps, median over repeats.
3. With ``--e1-seeds N``: E1 accuracy, KAN-HNN [2, 5, 1] G = 5 (grids set from the training
   states) against the MLP-HNN 2-32-32-1, both trained by ``pn.fit`` with the same recipe
   (``--e1-steps`` full-batch Adam steps, learning rate cosine-decayed from ``--e1-lr`` to 1 %),
   seeds 0..N-1; test MSE (derivative loss on the test trajectories) and parameter counts.

    python benchmarks/bench_kan.py [--steps 500] [--repeats 3] [--hnn-steps 200] [--no-pykan]
                                   [--e1-seeds 0] [--e1-steps 3000] [--e1-lr 2e-2]
                                   [--skip-xy] [--skip-hnn] [--force] [--max-load 0.25]
                                   [--json results/kan_<machine>.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

import _machine
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import physnet as pn
from physnet.training import TrainState, fit_function, get_loss, make_train_chunk

WIDTHS, GRID, ORDER, LR = [2, 5, 1], 5, 3, 1e-2
PYKAN_GRID_EPS = 0.02  # pykan's default


def xy_data(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n, 2))
    xt = rng.uniform(-1.0, 1.0, (n, 2))
    return x, x[:, :1] * x[:, 1:], xt, xt[:, :1] * xt[:, 1:]


def run_physnet(data, steps, grid_eps):
    x, y, xt, yt = (jnp.asarray(a) for a in data)
    t0 = time.perf_counter()
    kan = pn.KAN(WIDTHS, grid=GRID, order=ORDER, grid_eps=grid_eps, rngs=nnx.Rngs(0))
    history = fit_function(
        kan,
        x,
        y,
        steps=steps,
        optimizer=optax.adam(LR),
        test=(xt, yt),
        update_grid_every=5,
        update_grid_until=50,
        chunk_size=steps,
    )
    wall = time.perf_counter() - t0
    return {
        "wall_seconds": wall,
        "train_seconds": history.train_seconds,
        "compile_seconds": history.compile_seconds,
        "test_rmse": float(np.sqrt(history.final_test_loss())),
    }


def run_pykan(data, steps, threads):
    import torch
    from kan import KAN as PyKAN

    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(threads)
    x, y, xt, yt = (torch.tensor(a, dtype=torch.float64) for a in data)
    dataset = {"train_input": x, "train_label": y, "test_input": xt, "test_label": yt}
    t0 = time.perf_counter()
    model = PyKAN(width=WIDTHS, grid=GRID, k=ORDER, seed=0, auto_save=False, device="cpu")
    results = model.fit(dataset, opt="Adam", steps=steps, lr=LR)
    wall = time.perf_counter() - t0
    with torch.no_grad():
        rmse = float(torch.sqrt(torch.mean((model(xt) - yt) ** 2)))
    return {
        "wall_seconds": wall,
        "test_rmse": rmse,
        "test_rmse_logged": float(results["test_loss"][-1]),
        "torch_threads": torch.get_num_threads(),
    }


def compiled_hnn_chunk(model, batch, n_steps):
    loss = get_loss("derivative")
    opt = optax.adam(1e-3)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    chunk = jax.jit(make_train_chunk(loss, graphdef, opt, batch_size=None, max_length=n_steps))
    state = TrainState.create(params, opt)
    args = (state, rest, batch, jax.random.key(0), jnp.asarray(0), jnp.asarray(n_steps))
    compiled = chunk.lower(*args).compile()
    jax.block_until_ready(compiled(*args))  # warm-up
    return compiled, args


def hnn_steps(n_steps, repeats):
    data = pn.data.generate(pn.systems.Duffing(1, 2, 0), 100, 5.0, 50, key=jax.random.key(0))
    train, _ = data.split(0.8, key=jax.random.key(100))
    batch = get_loss("derivative").prepare(train)
    models = {"mlp_2-32-32-1": pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)))}
    for grid in (5, 20, 50):
        kan = pn.KAN(WIDTHS, grid=grid, order=ORDER, rngs=nnx.Rngs(0))
        kan.update_grid(batch["y"])
        models[f"kan_2-5-1_G{grid}"] = pn.HNN(kan)
    chunks = {name: compiled_hnn_chunk(m, batch, n_steps) for name, m in models.items()}
    times = {name: [] for name in models}
    for _ in range(repeats):  # interleaved, so load changes hit every model alike
        for name, (compiled, args) in chunks.items():
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            times[name].append((time.perf_counter() - t0) / n_steps)
    mlp = statistics.median(times["mlp_2-32-32-1"])
    out = {}
    for name, model in models.items():
        n_params = sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
        seconds = statistics.median(times[name])
        # per-repeat ratios cancel most of the shared-machine noise
        ratios = [t / m for t, m in zip(times[name], times["mlp_2-32-32-1"], strict=True)]
        out[name] = {
            "seconds_per_step": seconds,
            "parameters": int(n_params),
            "ratio_to_mlp": seconds / mlp,
            "median_paired_ratio_to_mlp": statistics.median(ratios),
        }
        print(
            f"  HNN step {name:>16}: {seconds * 1e3:7.3f} ms  ({n_params} parameters), "
            f"paired ratio to MLP {statistics.median(ratios):.2f}"
        )
    return out


def e1_accuracy(seeds, steps, lr):
    data = pn.data.generate(pn.systems.Duffing(1, 2, 0), 100, 5.0, 50, key=jax.random.key(0))
    train, test = data.split(0.8, key=jax.random.key(100))
    out = {"steps": steps, "lr": lr, "kan_2-5-1_G5": [], "mlp_2-32-32-1": []}
    for seed in range(seeds):
        kan = pn.KAN(WIDTHS, grid=GRID, order=ORDER, rngs=nnx.Rngs(seed))
        pn.approximators.update_grids(kan, train.flat()[0])
        mlp = pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(seed))
        for name, approx in (("kan_2-5-1_G5", kan), ("mlp_2-32-32-1", mlp)):
            schedule = optax.cosine_decay_schedule(lr, steps, 1e-2)
            history = pn.fit(
                pn.HNN(approx),
                train,
                steps=steps,
                optimizer=optax.adam(schedule),
                test_data=test,
                chunk_size=steps,
            )
            n_params = sum(p.size for p in jax.tree.leaves(nnx.state(approx, nnx.Param)))
            out[name].append(
                {
                    "seed": seed,
                    "parameters": int(n_params),
                    "test_mse": history.final_test_loss(),
                    "train_seconds": history.train_seconds,
                }
            )
            print(f"  E1 seed {seed} {name:>14}: test MSE {history.final_test_loss():.3e}")
    for name in ("kan_2-5-1_G5", "mlp_2-32-32-1"):
        out[f"{name}_median_test_mse"] = statistics.median(r["test_mse"] for r in out[name])
    return out


def physnet_in_fresh_process(steps, grid_eps, cache_dir):
    """:func:`run_physnet` in a new Python process with the compilation cache in ``cache_dir``."""
    return _machine.run_worker(
        __file__,
        "--physnet-worker",
        "--steps",
        str(steps),
        "--grid-eps",
        str(grid_eps),
        "--cache-dir",
        cache_dir,
    )


def physnet_worker(args):
    from physnet._compilation_cache import enable_compilation_cache

    enable_compilation_cache(args.cache_dir)
    print(json.dumps(run_physnet(xy_data(), args.steps, args.grid_eps)))


def xy_comparison(steps, repeats, have_pykan, threads):
    """Interleaved repeats of: physnet cold cache, physnet warm cache (each a new process),
    physnet again in this process (after one untimed run: what a second fit in a script or
    notebook sees, the compiled programs reused), pykan."""
    runs = {"physnet_cold": [], "physnet_warm": [], "physnet_same_process": [], "pykan": []}
    data = xy_data()
    run_physnet(data, steps, PYKAN_GRID_EPS)  # untimed: compiles in this process
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            runs["physnet_cold"].append(physnet_in_fresh_process(steps, PYKAN_GRID_EPS, cache))
            runs["physnet_warm"].append(physnet_in_fresh_process(steps, PYKAN_GRID_EPS, cache))
        runs["physnet_same_process"].append(run_physnet(data, steps, PYKAN_GRID_EPS))
        if have_pykan:
            runs["pykan"].append(run_pykan(data, steps, threads))
        for name, rs in runs.items():
            if rs:
                print(f"    {name}: {rs[-1]}", flush=True)
    summary = {}
    for name, rs in runs.items():
        if rs:
            summary[name] = {
                k: _machine.spread([r[k] for r in rs]) for k in rs[0] if isinstance(rs[0][k], float)
            }
            s = summary[name]
            steps_text = (
                f", steps {_machine.text(s['train_seconds'])}" if "train_seconds" in s else ""
            )
            compile_text = (
                f", compile {_machine.text(s['compile_seconds'])}" if "compile_seconds" in s else ""
            )
            print(
                f"  {name:>13}: end to end {_machine.text(s['wall_seconds'])}{steps_text}"
                f"{compile_text}, test RMSE {s['test_rmse']['median']:.3e}"
            )
    speedups = {}
    if runs["pykan"]:
        py = [r["wall_seconds"] for r in runs["pykan"]]
        for cache in ("cold", "warm", "same_process"):
            ph = runs[f"physnet_{cache}"]
            speedups[f"end_to_end_{cache}"] = _machine.spread(
                [p / r["wall_seconds"] for p, r in zip(py, ph, strict=True)]
            )
        speedups["per_step"] = _machine.spread(
            [p / r["train_seconds"] for p, r in zip(py, runs["physnet_warm"], strict=True)]
        )
        for name, s in speedups.items():
            print(f"  pykan / physnet, {name}: {_machine.text(s, 'x')}")
    return {
        "steps": steps,
        "repeats": repeats,
        "summary": summary,
        "speedups": speedups,
        "runs": runs,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3, help="x·y runs of each library")
    parser.add_argument("--hnn-steps", type=int, default=200)
    parser.add_argument("--hnn-repeats", type=int, default=5)
    parser.add_argument("--no-pykan", action="store_true")
    parser.add_argument("--e1-seeds", type=int, default=0)
    parser.add_argument("--e1-steps", type=int, default=3000)
    parser.add_argument("--e1-lr", type=float, default=2e-2)
    parser.add_argument("--skip-xy", action="store_true")
    parser.add_argument("--skip-hnn", action="store_true")
    parser.add_argument("--json", default=None)
    parser.add_argument("--physnet-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--grid-eps", type=float, default=PYKAN_GRID_EPS, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    _machine.add_arguments(parser)
    args = parser.parse_args()
    if args.physnet_worker:
        return physnet_worker(args)
    record = _machine.start(args)

    threads = os.cpu_count() or 1
    have_pykan = not args.no_pykan
    if have_pykan:
        try:
            import kan  # noqa: F401
            import torch  # noqa: F401
        except ImportError as err:
            print(f"pykan not available ({err}); timing physnet only")
            have_pykan = False

    xy = None
    if not args.skip_xy:
        print(f"x·y, [2, 5, 1] KAN, G={GRID}, k={ORDER}, {args.steps} Adam steps, 1000 points")
        xy = xy_comparison(args.steps, args.repeats, have_pykan, threads)
    hnn = None if args.skip_hnn else hnn_steps(args.hnn_steps, args.hnn_repeats)
    e1 = e1_accuracy(args.e1_seeds, args.e1_steps, args.e1_lr) if args.e1_seeds else None
    result = {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": threads,
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "xy": xy,
        "hnn_step": hnn,
        "e1_accuracy": e1,
    }
    _machine.finish(result, record, args.json)
    return result


if __name__ == "__main__":
    main()
