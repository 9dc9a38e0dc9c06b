"""``pn.fit_states`` on the noisy-states Duffing case (issue 33, target 4: at most 1 s per fit
with a warm compilation cache).

The case of ``physnet/reproduce/_noisy_states.py``'s polynomial row: ``make_states(σ, 0.1,
seed)`` (100 Duffing trajectories, α = 1, β = 2, γ = 0.1, 50 points on [0, 5], the 80 %
training split, N(0, σ²) noise on the states only), a ``DissipativeHNN`` with
``Polynomial(2, 1, degree=4, constant=False)`` as H (``gamma_init=0.01``), fitted by
``pn.fit_states(model, train, max_step=1.0)`` (stage 1: 30 LM iterations at most on
``WeakFormLoss()``; stage 2: 20 on ``LatentShootingLoss(50, substeps=8)``).

Three timings of one fit, each in a fresh ``sys.executable`` process per seed (the seeds, and
with ``--baseline`` the two versions, interleaved with the repeats):

- ``steady``: after a first fit (warm-up) of the same shapes in that process;
- ``warm_cache``: the process's persistent compilation cache (a directory of this run, one per
  version) already holds the programs (the target's case);
- ``cold_cache``: an empty cache directory.

Each fit's wall time is split by JAX's monitoring events: tracing (``trace``), lowering to
MLIR (``lower``), backend compilation or cache loading (``backend_compile``, which contains
``cache_retrieval``), and the ``rest`` (the compiled iterations themselves and Python-side
preparation such as ``loss.prepare``). The fitted costs, parameters and σ̂ are kept, and with
``--baseline`` compared (largest relative difference). Usage::

    python benchmarks/bench_fit_states.py [--sigma 0.05] [--seeds 0 1 2] [--repeats 2]
        [--baseline DIR] [--json OUT.json] [--force]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import _machine  # noqa: E402
import numpy as np  # noqa: E402

EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "backend_compile",
    "/jax/compilation_cache/cache_retrieval_time_sec": "cache_retrieval",
}


def one_fit(sigma: float, seed: int) -> dict:
    """One fit of the polynomial row, timed, with JAX's compile events summed over it."""
    import jax
    import numpy as np
    from flax import nnx

    import physnet as pn
    from physnet.approximators import Polynomial
    from physnet.models import DissipativeHNN
    from physnet.reproduce._noisy_states import make_states

    spent = dict.fromkeys(EVENTS.values(), 0.0)

    def listen(event, duration, **_):
        if event in EVENTS:
            spent[EVENTS[event]] += duration

    train = make_states(sigma, 0.1, seed)
    h = Polynomial(2, 1, degree=4, constant=False, rngs=nnx.Rngs(0))
    model = DissipativeHNN(h, gamma_init=0.01)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        t0 = time.perf_counter()
        result = pn.fit_states(model, train, max_step=1.0)
        wall = time.perf_counter() - t0
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    params = nnx.state(model, nnx.Param)
    flat = [np.asarray(v).ravel() for v in jax.tree.leaves(params)]
    compiled = spent["trace"] + spent["lower"] + spent["backend_compile"]
    return {
        "seed": seed,
        "wall": wall,
        **spent,
        "compile_total": compiled,
        "rest": wall - compiled,
        "costs": result.costs.tolist(),
        "params": np.concatenate(flat).tolist(),
        "noise_level": result.noise_level.tolist(),
    }


def worker(args) -> None:
    """A fresh process: the cache in ``--cache-dir``, one fit (after a warm-up fit for
    ``--case steady``), its JSON on the last line."""
    t0 = time.perf_counter()
    from physnet._compilation_cache import enable_compilation_cache

    enable_compilation_cache(args.cache_dir)
    if args.case == "steady":
        one_fit(args.sigma, args.seeds[0])
    row = one_fit(args.sigma, args.seeds[0])
    row["process_wall"] = time.perf_counter() - t0
    print(json.dumps(row))


def fresh(source: str, case: str, sigma: float, seed: int, cache_dir: str) -> dict:
    """``worker`` in a new ``sys.executable`` process importing physnet from ``source``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--case", case,
           "--sigma", str(sigma), "--seeds", str(seed), "--cache-dir", cache_dir]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=source)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


CASES = ("steady", "warm_cache", "cold_cache")
KEYS = ("wall", "trace", "lower", "backend_compile", "cache_retrieval", "rest")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigma", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--baseline",
        default=None,
        help="a directory holding another physnet package (e.g. `git archive` of a commit): "
        "timed interleaved with this checkout, and its fits compared",
    )
    parser.add_argument("--json", default=None, help="write the result here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", default="warm_cache", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    _machine.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return {}
    record = _machine.start(args)
    sources = {"current": str(Path(__file__).resolve().parents[1])}
    if args.baseline:
        sources["baseline"] = str(Path(args.baseline).resolve())
    rows = {v: {c: [] for c in CASES} for v in sources}
    with tempfile.TemporaryDirectory() as tmp:
        warm = {v: os.path.join(tmp, f"warm_{v}") for v in sources}
        for v, source in sources.items():  # fills each version's warm cache
            fresh(source, "cold_cache", args.sigma, args.seeds[0], warm[v])
        for r in range(args.repeats):
            for seed in args.seeds:
                for v, source in sources.items():
                    for case in CASES:
                        cache = (
                            os.path.join(tmp, f"cold_{v}_{r}_{seed}")
                            if case == "cold_cache"
                            else warm[v]
                        )
                        rows[v][case].append(fresh(source, case, args.sigma, seed, cache))
                    print(v, seed, json.dumps({c: round(rows[v][c][-1]["wall"], 3) for c in CASES}),
                          flush=True)  # fmt: skip
    summary = {
        v: {c: {k: _machine.spread([row[k] for row in rows[v][c]]) for k in KEYS} for c in CASES}
        for v in sources
    }
    fits = {
        v: {
            seed: next(row for row in rows[v]["steady"] if row["seed"] == seed)
            for seed in args.seeds
        }
        for v in sources
    }
    result = {
        "case": "noisy-states Duffing (dt 0.1), polynomial DHNN, "
        "pn.fit_states(model, train, max_step=1.0)",
        "sigma": args.sigma,
        "seeds": args.seeds,
        "repeats": args.repeats,
        "target_seconds_warm_cache": 1.0,
        "summary": summary,
        "fits": {
            v: {
                seed: {k: f[k] for k in ("costs", "params", "noise_level")}
                for seed, f in fits[v].items()
            }
            for v in sources
        },  # fmt: skip
        "rows": {
            v: {
                c: [
                    {k: x for k, x in row.items() if k not in ("costs", "params", "noise_level")}
                    for row in rows[v][c]
                ]
                for c in CASES
            }
            for v in sources
        },  # fmt: skip
    }
    if args.baseline:
        rel = 0.0
        for seed in args.seeds:
            for k in ("costs", "params", "noise_level"):
                a = np.asarray(fits["baseline"][seed][k])
                b = np.asarray(fits["current"][seed][k])
                rel = max(rel, float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300))))
        result["max_relative_difference_vs_baseline"] = rel
    _machine.finish(result, record, args.json)
    for v in sources:
        for c in CASES:
            print(v, c, {k: _machine.text(s) for k, s in summary[v][c].items()})
    if args.baseline:
        print(
            "max relative difference of costs, params, σ̂:",
            result["max_relative_difference_vs_baseline"],
        )
    return result


if __name__ == "__main__":
    main()
