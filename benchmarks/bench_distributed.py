"""Data-parallel training across processes: the cost of the collectives per step.

E1's training (HNN, H = MLP 2-32-32-1 tanh, float64, Adam 1e-3, full batch, 80 x 50 samples)
in 1 process and in 2 processes on this machine (``physnet launch``'s ``run_local``: gloo
over localhost TCP, each process holding half the trajectories and one CPU device),
interleaved in every repeat. The time per step is ``History.train_seconds / steps``
(compilation excluded), process 0's. On 2 cores no speed-up is expected: the two processes
share the cores the single process used, and every step adds an all-reduce of the gradient.
Also printed: the paper estimate of a ring all-reduce of the gradient per step across hosts.

    python benchmarks/bench_distributed.py [--steps 500] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import _machine


def worker(steps: int, out: str) -> None:
    """One process (of 1 or 2) of the timed run: write process 0's seconds per step."""
    from physnet.training import global_mesh, init_distributed, is_writer, local_share

    _, count = init_distributed(timeout=60)
    import jax
    import optax
    from flax import nnx

    import physnet as pn
    from physnet.reproduce._common import DataConfig, make_data

    train, _ = make_data(pn.systems.Duffing(1.0, 2.0, 0.0), DataConfig())
    model = pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)))
    runtime = pn.training.Runtime(progress=False)
    if count > 1:
        train = local_share(train)
        runtime = pn.training.Runtime(mesh=global_mesh(), local_data=True, progress=False)
    h = pn.fit(model, train, steps=steps, optimizer=optax.adam(1e-3), runtime=runtime)
    n_params = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    if is_writer():
        with open(out, "w") as f:
            json.dump({"step_seconds": h.train_seconds / steps, "params": int(n_params)}, f)


def ring_allreduce_seconds(n_params: int, hosts: int, gbit_s: float, latency_s: float) -> float:
    """A ring all-reduce of ``n_params`` float64 over ``hosts``: each host sends and receives
    2 (P - 1) / P of the gradient's bytes, in 2 (P - 1) latency-bound rounds."""
    nbytes = 8 * n_params
    return 2 * (hosts - 1) / hosts * nbytes / (gbit_s * 1e9 / 8) + 2 * (hosts - 1) * latency_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    _machine.add_arguments(parser)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.steps, args.worker)
        return
    record = _machine.start(args)
    from physnet.cli._launch import run_local

    here = os.path.abspath(__file__)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    tmp = tempfile.mkdtemp()

    def run(n: int):
        out = os.path.join(tmp, f"p{n}.json")
        cmd = [sys.executable, here, "--steps", str(args.steps), "--worker", out]
        if n == 1:
            one = env | {"JAX_NUM_PROCESSES": "1", "JAX_PROCESS_ID": "0"}
            subprocess.run(cmd, env=one, check=True, timeout=600)
        else:
            codes = run_local(n, cmd, env=env, timeout=600, stderr=subprocess.DEVNULL)
            assert codes == [0] * n, codes
        with open(out) as f:
            return json.load(f)

    runs = _machine.interleave(
        {"1 process": lambda: run(1), "2 processes": lambda: run(2)}, args.repeats
    )
    one = [r["step_seconds"] for r in runs["1 process"]]
    two = [r["step_seconds"] for r in runs["2 processes"]]
    n_params = runs["1 process"][0]["params"]
    result = {
        "steps": args.steps,
        "params": n_params,
        "one_process_step_s": _machine.spread(one),
        "two_processes_step_s": _machine.spread(two),
        "overhead_per_step_s": _machine.spread([b - a for a, b in zip(one, two, strict=True)]),
        "ratio": _machine.spread([b / a for a, b in zip(one, two, strict=True)]),
        "estimate_allreduce_s": {
            f"{p} hosts, {g} Gbit/s, {lat * 1e6:.0f} us": ring_allreduce_seconds(
                n_params, p, g, lat
            )
            for p, g, lat in ((2, 10, 50e-6), (8, 10, 50e-6), (8, 100, 5e-6))
        },
    }
    _machine.finish(result, record, args.json)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
