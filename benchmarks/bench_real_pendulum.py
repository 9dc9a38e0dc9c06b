"""Real pendulum, import + training: physnet beside the HNN paper's PyTorch recipe, one run.

The computation (Greydanus et al. 2019, ``experiment-real``): read the Schmidt & Lipson text
file ``real_pend_h_1.txt``, forward finite differences, the first 80 % in time trains; an HNN
with an MLP 2-200-200-1 tanh; 2000 full-batch Adam steps at 1e-3 on the derivative loss.

- physnet: ``pn.data.from_table`` + ``with_estimated_derivatives("forward")`` + ``TimeSplit``
  (import), ``pn.fit`` (training, float64, one compiled chunk; compile time measured apart).
- PyTorch, the paper's recipe: ``numpy.loadtxt``, differences by hand, ``nn.Linear`` layers
  in float32 as in their code (and, for the same precision as physnet, float64),
  ∇H by ``torch.autograd.grad(create_graph=True)``, Adam. Their loop also evaluates the test
  loss at every step; that is left out here, so both sides time the same training steps.

Runs are interleaved and repeated; medians are reported (optional extra ``peers`` for torch;
skipped when torch is not installed).

    python benchmarks/bench_real_pendulum.py [--steps 2000] [--repeats 3] [--json out.json]
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
import numpy as np
import optax

import physnet as pn
from physnet.data import TimeSplit

jax.config.update("jax_enable_x64", True)
PATH = pn.datasets.path("real-pendulum")


def time_physnet(steps: int):
    t0 = time.perf_counter()
    data = pn.data.from_table(PATH, time=1, states=[2, 3], names=["theta", "omega"])
    data = data.with_estimated_derivatives("forward")
    train, _ = TimeSplit.for_data(data, 0.8).apply(data)
    import_s = time.perf_counter() - t0
    model = pn.build_model("hnn", 2, "mlp", seed=0, width=200, depth=2, activation="tanh")
    h = pn.fit(
        model, train, steps=steps, optimizer=optax.adam(1e-3), progress=False, chunk_size=steps
    )
    return import_s, h.compile_seconds, h.train_seconds, h.final_train_loss()


def time_torch(steps: int, dtype: str):
    import torch

    torch.manual_seed(0)
    dt = getattr(torch, dtype)
    t0 = time.perf_counter()
    rec = np.loadtxt(PATH, comments="%")
    t, x = rec[:, 1:2], rec[:, 2:4]
    dx = (x[1:] - x[:-1]) / (t[1:] - t[:-1])
    x = x[:-1]
    n_train = int(round(0.8 * len(rec)))
    y = torch.tensor(x[:n_train], dtype=dt)
    dy = torch.tensor(dx[:n_train], dtype=dt)
    import_s = time.perf_counter() - t0
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 200),
        torch.nn.Tanh(),
        torch.nn.Linear(200, 200),
        torch.nn.Tanh(),
        torch.nn.Linear(200, 1),
    ).to(dtype=dt)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        s = y.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(s).sum(), s, create_graph=True)
        field = torch.stack([g[:, 1], -g[:, 0]], dim=1)
        loss = ((field - dy) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    return import_s, 0.0, time.perf_counter() - t0, float(loss)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    _machine.add_arguments(ap)
    args = ap.parse_args()
    record = _machine.start(args)
    runners = {"physnet": lambda: time_physnet(args.steps)}
    if _machine.torch_available():
        runners["torch_float32"] = lambda: time_torch(args.steps, "float32")
        runners["torch_float64"] = lambda: time_torch(args.steps, "float64")
    rows = {k: [] for k in runners}
    for _ in range(args.repeats):  # interleaved, so machine noise hits all alike
        for name, run in runners.items():
            rows[name].append(run())
    load = os.getloadavg()
    result = {
        "steps": args.steps,
        "repeats": args.repeats,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{jax.devices()[0].device_kind}",
        "load_average_1_5_15min": [round(v, 2) for v in load],
        "jax": jax.__version__,
    }
    for name, runs in rows.items():
        result[name] = {
            "import_s_median": statistics.median(r[0] for r in runs),
            "compile_s_median": statistics.median(r[1] for r in runs),
            "train_s_median": statistics.median(r[2] for r in runs),
            "train_s_all": [r[2] for r in runs],
            "final_loss": runs[-1][3],
        }
    if "torch_float32" in result:
        import torch

        result["torch_version"] = torch.__version__
        result["torch_threads"] = torch.get_num_threads()
        p = result["physnet"]["train_s_median"] + result["physnet"]["compile_s_median"]
        for name in ("torch_float32", "torch_float64"):
            result[f"speedup_physnet_over_{name}"] = result[name]["train_s_median"] / p
    print(json.dumps(result, indent=2))
    _machine.finish(result, record, args.json)


if __name__ == "__main__":
    main()
