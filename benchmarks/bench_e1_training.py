"""E1 training speed: physnet.fit, a minimal hand-written JAX loop and plain PyTorch, in one run.

All train the source's HNN (MLP 2-32-32-1 tanh, float64) with Adam(1e-3), full batch, on the
same E1 data (80 trajectories x 50 points), for the same number of steps. The hand-written loop
is the least a JAX user would write: one jitted ``lax.scan`` over all steps with plain optax
and no divergence checks, progress or test evaluation. The PyTorch version (optional extra
``peers``; skipped when torch is not installed) is the same computation written the usual way:
an ``nn.Sequential`` MLP in float64, ∇H by ``torch.autograd.grad(create_graph=True)``, Adam.
Compile time is measured separately (ahead-of-time ``lower().compile()``) from run time. Runs
are interleaved and repeated; medians are reported.

    python benchmarks/bench_e1_training.py [--steps 3000] [--repeats 5] [--torch-device cpu|cuda] [--json out.json]
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


def time_torch(train, steps, device):
    import numpy as np
    import torch

    torch.manual_seed(0)
    dev = torch.device(device)
    y, dy = (torch.tensor(np.asarray(a), dtype=torch.float64, device=dev) for a in train.flat())
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 32),
        torch.nn.Tanh(),
        torch.nn.Linear(32, 32),
        torch.nn.Tanh(),
        torch.nn.Linear(32, 1),
    ).to(device=dev, dtype=torch.float64)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        x = y.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
        field = torch.stack([g[:, 1], -g[:, 0]], dim=1)  # J∇H
        loss = ((field - dy) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step()  # warm-up (allocations, kernels)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    final = float(loss)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return 0.0, time.perf_counter() - t0, final


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None)
    ap.add_argument("--torch-device", default="cpu")
    ap.add_argument("--no-torch", action="store_true")
    _machine.add_arguments(ap)
    args = ap.parse_args()
    record = _machine.start(args)
    train = make_data()
    rows = {"physnet": [], "handwritten": []}
    use_torch = _machine.torch_available() and not args.no_torch
    if use_torch:
        rows["torch"] = []
    for _ in range(args.repeats):  # interleaved, so machine noise hits all alike
        rows["physnet"].append(time_physnet(train, args.steps))
        rows["handwritten"].append(time_handwritten(train, args.steps))
        if use_torch:
            rows["torch"].append(time_torch(train, args.steps, args.torch_device))
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
    if use_torch:
        import torch

        result["torch"]["version"] = torch.__version__
        result["torch"]["device"] = args.torch_device
        result["torch"]["threads"] = torch.get_num_threads()
        result["speedup_physnet_over_torch"] = (
            result["torch"]["run_s_median"] / result["physnet"]["run_s_median"]
        )
    print(json.dumps(result, indent=2))
    _machine.finish(result, record, args.json)


if __name__ == "__main__":
    main()
