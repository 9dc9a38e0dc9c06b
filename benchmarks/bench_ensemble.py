"""Ensemble training cost: N HNNs (different seeds) in one vmapped compiled call vs one model.

Same data and settings as E1 (HNN, MLP 2-32-32-1 tanh, float64, Adam 1e-3, full batch).
Three runs, interleaved in every repeat: one model (``fit``), all members vmapped at once
(``fit_ensemble``, the default) and members one after another in the same compiled call
(``fit_ensemble(member_batch_size=1)``). The floating-point work of one training step is
XLA's own count (``cost_analysis``) of the single model's loss-and-gradient, its rate taken
from the fastest single run; with
``--peak-gflops`` (the machine's float64 peak) the single model's share of it is reported,
and ``members x share`` is the lowest ensemble/one ratio any schedule could reach.

    python benchmarks/bench_ensemble.py [--members 8] [--steps 1000] [--repeats 3]
        [--peak-gflops P] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics

import _machine
import jax
import optax
from flax import nnx

import physnet as pn
from physnet.training import get_loss


def factory(rngs):
    return pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=rngs))


def step_flops(train) -> float:
    """XLA's count of the floating-point operations of one loss-and-gradient evaluation."""
    loss = get_loss("derivative")
    batch = loss.prepare(train)
    graphdef, params, rest = nnx.split(factory(nnx.Rngs(0)), nnx.Param, ...)
    value_and_grad = jax.jit(
        jax.value_and_grad(lambda p: loss(nnx.merge(graphdef, p, rest), batch))
    )
    cost = value_and_grad.lower(params).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float(cost["flops"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--peak-gflops", type=float, default=None, help="float64 peak of the cores used"
    )
    ap.add_argument("--json", default=None)
    _machine.add_arguments(ap)
    args = ap.parse_args()
    record = _machine.start(args)
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 100, 5.0, 50, key=jax.random.key(0))
    train, _ = data.split(0.8, key=jax.random.key(1))
    single, ensemble, sequential = [], [], []
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
        ens = pn.Ensemble.from_factory(factory, args.members)
        hs = pn.fit_ensemble(
            ens,
            train,
            steps=args.steps,
            optimizer=optax.adam(1e-3),
            progress=False,
            chunk_size=args.steps,
            member_batch_size=1,
        )
        sequential.append((hs.compile_seconds, hs.train_seconds))
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
    result["sequential_run_s_median"] = statistics.median(r[1] for r in sequential)
    result["sequential_compile_s_median"] = statistics.median(r[0] for r in sequential)
    result["ratio_sequential_over_single"] = (
        result["sequential_run_s_median"] / result["single_run_s_median"]
    )
    flops = step_flops(train)
    result["flops_per_step_single"] = flops
    # the fastest single run is the least disturbed by other jobs on a shared machine
    result["single_gflops"] = flops * args.steps / min(r[1] for r in single) / 1e9
    if args.peak_gflops:
        share = result["single_gflops"] / args.peak_gflops
        result["peak_gflops"] = args.peak_gflops
        result["single_share_of_peak"] = share
        result["ratio_floor_at_peak"] = args.members * share
    print(json.dumps(result, indent=2))
    _machine.finish(result, record, args.json)


if __name__ == "__main__":
    main()
