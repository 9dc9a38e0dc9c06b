"""NTK speed: physnet.analysis.ntk against a naive double loop (and neural-tangents, if
installed), on the same model and states, in the same run.

The model is the HNN of E1 (H = MLP 2-32-32-1 tanh, float64) under its loss operator, the
vector field J∇H; states are Duffing phase-space points. For S states the kernel has 2S rows.

- physnet: ``ntk(model, xs)`` (parameter Jacobians by ``jax.jacrev`` vmapped over samples,
  compiled; K = J Jᵀ), timed after a warm-up call of the same shape.
- naive: the per-sample Jacobian (jitted, one sample at a time) and a Python double loop over
  sample pairs for the entries; only for small S (its cost grows as S²).
- neural-tangents (optional): ``nt.empirical_ntk_fn`` on the same operator as a function of
  the flat parameter vector (``trace_axes=()``, implementation 1 "jacobian contraction" and
  3 "structured derivatives"); skipped when not installed or not working with this JAX.

    python benchmarks/bench_ntk.py [--sizes 100,1000,2000] [--naive-sizes 50,100]
                                   [--repeats 3] [--json results/ntk_<machine>.json]
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
from flax import nnx
from jax.flatten_util import ravel_pytree

import physnet as pn
from physnet.analysis import ntk


def _model():
    return pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)))


def _states(n):
    return jax.random.uniform(jax.random.key(1), (n, 2), minval=-1.5, maxval=1.5)


def _time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _flat_operator(model):
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    theta, unravel = ravel_pytree(params)

    def f(theta, x):
        return nnx.merge(graphdef, unravel(theta), rest)(0.0, x)

    return theta, f


def naive_fn(model):
    """Per-sample Jacobians (one compiled function, warmed up), then a Python double loop over
    sample pairs."""
    theta, f = _flat_operator(model)
    jac = jax.jit(jax.jacrev(f))
    jax.block_until_ready(jac(theta, _states(1)[0]))
    return lambda xs: naive(jac, theta, xs)


def naive(jac, theta, xs):
    rows = [np.asarray(jac(theta, x)) for x in xs]
    s, m = len(rows), rows[0].shape[0]
    k = np.empty((s * m, s * m))
    for i in range(s):
        for j in range(s):
            k[i * m : (i + 1) * m, j * m : (j + 1) * m] = rows[i] @ rows[j].T
    return k


def neural_tangents_fn(model):
    try:
        import neural_tangents as nt
    except Exception as err:  # noqa: BLE001 - optional peer, any import failure skips it
        return None, f"not available ({type(err).__name__}: {err})"
    theta, f = _flat_operator(model)
    fns = {}
    for impl in (1, 3):
        try:
            kfn = nt.empirical_ntk_fn(
                lambda p, x: jax.vmap(lambda y: f(p, y))(x),
                trace_axes=(),
                vmap_axes=0,
                implementation=impl,
            )
            fns[impl] = jax.jit(lambda x, kfn=kfn: kfn(x, None, theta))
        except Exception as err:  # noqa: BLE001
            return None, f"failed ({type(err).__name__}: {err})"
    return fns, nt.__version__ if hasattr(nt, "__version__") else "installed"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,2000")
    ap.add_argument("--naive-sizes", default="50,100")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    _machine.add_arguments(ap)
    args = ap.parse_args()
    record = _machine.start(args)
    model = _model()
    sizes = [int(s) for s in args.sizes.split(",")]
    naive_sizes = [int(s) for s in args.naive_sizes.split(",")]
    nt_fns, nt_info = neural_tangents_fn(model)
    naive_kernel = naive_fn(model)
    rows = []
    for s in sorted(set(sizes) | set(naive_sizes)):
        xs = _states(s)
        row = {"samples": s, "rows": 2 * s}
        ntk(model, xs)  # compile for this shape
        row["physnet_s"], k = _time(lambda xs=xs: ntk(model, xs).matrix, args.repeats)
        if s in naive_sizes:
            row["naive_s"], kn = _time(lambda xs=xs: naive_kernel(xs), args.repeats)
            row["naive_over_physnet"] = row["naive_s"] / row["physnet_s"]
            row["max_abs_diff_naive"] = float(np.max(np.abs(kn - k)))
        if nt_fns:
            for impl, fn in nt_fns.items():
                try:
                    out = fn(xs)
                    jax.block_until_ready(out)
                    t, kt = _time(lambda fn=fn, xs=xs: fn(xs), args.repeats)
                    kt = np.asarray(kt)  # (S, S, m, m) -> (S m, S m)
                    kt = kt.transpose(0, 2, 1, 3).reshape(2 * s, 2 * s)
                    row[f"nt{impl}_s"] = t
                    row[f"nt{impl}_over_physnet"] = t / row["physnet_s"]
                    row[f"max_abs_diff_nt{impl}"] = float(np.max(np.abs(kt - k)))
                except Exception as err:  # noqa: BLE001
                    row[f"nt{impl}_error"] = f"{type(err).__name__}: {err}"[:200]
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {jax.default_backend()}",
        "jax": jax.__version__,
        "neural_tangents": nt_info if nt_fns else nt_info,
        "model": "HNN, H = MLP 2-32-32-1 tanh, float64, operator J∇H",
        "n_params": int(ravel_pytree(nnx.state(model, nnx.Param))[0].shape[0]),
        "repeats": args.repeats,
        "rows": rows,
    }
    _machine.finish(result, record, args.json)


if __name__ == "__main__":
    main()
