"""E1 training speed: physnet.fit against a minimal hand-written JAX loop, in one run.

Both train the source's HNN (MLP 2-32-32-1 tanh, float64) with Adam(1e-3), full batch, on the
same E1 data (80 trajectories x 50 points), for the same number of steps. The hand-written loop
is the least a JAX user would write: one jitted ``lax.scan`` over all steps with plain optax
and no divergence checks, progress or test evaluation. Compile time is measured separately
(ahead-of-time ``lower().compile()``) from run time. Each is repeated and the median reported.

    python benchmarks/bench_e1_training.py [--steps 3000] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import physnet as pn


def make_data():
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 100, 5.0, 50, key=jax.random.key(0))
    train, _ = data.split(0.8, key=jax.random.key(1))
    return train


def new_model():
    return pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)))


def time_physnet(train, steps):
    model = new_model()
    h = pn.fit(
        model, train, steps=steps, optimizer=optax.adam(1e-3), progress=False, chunk_size=steps
    )
    return h.compile_seconds, h.train_seconds, h.final_train_loss()


def time_handwritten(train, steps):
    model = new_model()
    graphdef, params = nnx.split(model)
    y, dy = train.flat()
    opt = optax.adam(1e-3)

    def loss_fn(params):
        m = nnx.merge(graphdef, params)
        return jnp.mean((jax.vmap(lambda s: m(0.0, s))(y) - dy) ** 2)

    def step(carry, _):
        params, state = carry
        value, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), value

    @jax.jit
    def train_all(params, state):
        return jax.lax.scan(step, (params, state), None, length=steps)

    state = opt.init(params)
    t0 = time.perf_counter()
    compiled = train_all.lower(params, state).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    (_, _), losses = compiled(params, state)
    losses.block_until_ready()
    return compile_s, time.perf_counter() - t0, float(losses[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    train = make_data()
    rows = {"physnet": [], "handwritten": []}
    for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
        rows["physnet"].append(time_physnet(train, args.steps))
        rows["handwritten"].append(time_handwritten(train, args.steps))
    result = {
        "steps": args.steps,
        "repeats": args.repeats,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {jax.devices()[0].device_kind}",
        "jax": jax.__version__,
    }
    for name, runs in rows.items():
        result[name] = {
            "compile_s_median": statistics.median(r[0] for r in runs),
            "run_s_median": statistics.median(r[1] for r in runs),
            "run_s_all": [r[1] for r in runs],
            "final_loss": runs[-1][2],
        }
    result["ratio_run_physnet_over_handwritten"] = (
        result["physnet"]["run_s_median"] / result["handwritten"]["run_s_median"]
    )
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
