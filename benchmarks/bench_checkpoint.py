"""Overhead of periodic training checkpoints on E1 training, in one run.

The source's E1 training (HNN, MLP 2-32-32-1 tanh, float64, Adam 1e-3, full batch, 80 x 50
samples, 3000 steps, chunks of 100) is run without checkpoints and with the training state
saved every ``--every`` steps (``physnet train``'s default: 1000), interleaved and repeated;
the median training times (compilation excluded, checkpoint writes included) are compared.
The time spent inside the checkpoint writes is also reported from the same runs.

    python benchmarks/bench_checkpoint.py [--steps 3000] [--every 1000] [--repeats 3] [--json out.json]
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
import optax
from flax import nnx

import physnet as pn


def make_data():
    system = pn.systems.Duffing(1.0, 2.0, 0.0)
    data = pn.data.generate(system, 100, 5.0, 50, key=jax.random.key(0))
    train, _ = data.split(0.8, key=jax.random.key(1))
    return train


def run_once(train, steps, every, directory):
    model = pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)))
    options = {}
    if every:
        options = dict(checkpoint=os.path.join(directory, "t.npz"), checkpoint_every=every)
    h = pn.fit(model, train, steps=steps, optimizer=optax.adam(1e-3), progress=False, **options)
    return h.train_seconds + h.checkpoint_seconds, h.checkpoint_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    _machine.add_arguments(parser)
    args = parser.parse_args()
    record = _machine.start(args)
    train = make_data()
    plain, saved, writes = [], [], []
    with tempfile.TemporaryDirectory() as directory:
        run_once(train, 200, args.every, directory)  # warm-up
        for _ in range(args.repeats):
            plain.append(run_once(train, args.steps, None, directory)[0])
            t, w = run_once(train, args.steps, args.every, directory)
            saved.append(t)
            writes.append(w)
    result = {
        "benchmark": "checkpoint_overhead_e1",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {jax.default_backend()}",
        "jax": jax.__version__,
        "steps": args.steps,
        "every": args.every,
        "repeats": args.repeats,
        "no_checkpoints_s": plain,
        "checkpoints_s": saved,
        "checkpoint_write_s": writes,
        "median_no_checkpoints_s": statistics.median(plain),
        "median_checkpoints_s": statistics.median(saved),
        "overhead": statistics.median(saved) / statistics.median(plain) - 1,
        "write_share": statistics.median(writes) / statistics.median(saved),
    }
    print(json.dumps(result, indent=2))
    _machine.finish(result, record, args.json)


if __name__ == "__main__":
    main()
