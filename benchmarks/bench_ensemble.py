"""Ensemble training cost: N HNNs (different seeds) in one vmapped compiled call vs one model.

Same data and settings as E1 (HNN, MLP 2-32-32-1 tanh, float64, Adam 1e-3, full batch).

    python benchmarks/bench_ensemble.py [--members 8] [--steps 1000] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics

import jax
import optax
from flax import nnx

import physnet as pn


def factory(rngs):
    return pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=rngs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 100, 5.0, 50, key=jax.random.key(0))
    train, _ = data.split(0.8, key=jax.random.key(1))
    single, ensemble = [], []
    for _ in range(args.repeats):
        h = pn.fit(
            factory(nnx.Rngs(0)),
            train,
            steps=args.steps,
            optimizer=optax.adam(1e-3),
            progress=False,
            chunk_size=args.steps,
        )
        single.append((h.compile_seconds, h.train_seconds))
        ens = pn.Ensemble.from_factory(factory, args.members)
        he = pn.fit_ensemble(
            ens,
            train,
            steps=args.steps,
            optimizer=optax.adam(1e-3),
            progress=False,
            chunk_size=args.steps,
        )
        ensemble.append((he.compile_seconds, he.train_seconds))
    result = {
        "members": args.members,
        "steps": args.steps,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {jax.devices()[0].device_kind}",
        "single_run_s_median": statistics.median(r[1] for r in single),
        "ensemble_run_s_median": statistics.median(r[1] for r in ensemble),
        "single_compile_s_median": statistics.median(r[0] for r in single),
        "ensemble_compile_s_median": statistics.median(r[0] for r in ensemble),
    }
    result["ratio_ensemble_over_single"] = (
        result["ensemble_run_s_median"] / result["single_run_s_median"]
    )
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
