"""One process of the 2-process runs of test_distributed.py (started by physnet's launcher,
which sets JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID).

``python _distributed_worker.py MODE OUT``: MODE ``train`` trains E1's HNN data parallel (full
batch and minibatch, each process passing its share of the trajectories) and an 8-member
ensemble member parallel (4 + 4); ``kill`` (``sigint``) trains with checkpoints and process 1 kills itself (sends itself
SIGINT) mid-run; ``resume`` continues from the checkpoint ``kill`` left. Process 0 writes the trained
parameters to ``OUT/MODE.npz``.
"""

import os
import sys

import physnet as pn
from physnet._errors import TrainingInterrupted
from physnet.training import global_mesh, init_distributed, is_writer, local_share
from physnet.training._distributed import exit_now

init_distributed(timeout=30, heartbeat_timeout=5)  # before any computation

import jax  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _distributed_setup import STEPS, e1_train, ensemble, flat, model, optimizer  # noqa: E402

mode, out = sys.argv[1], sys.argv[2]
mesh = global_mesh()
data = e1_train()
share = local_share(data)
results = {}
if mode == "train":
    for name, batch_size in (("full", None), ("minibatch", 32)):
        m = model()
        pn.fit(
            m,
            share,
            steps=STEPS,
            optimizer=optimizer(),
            batch_size=batch_size,
            key=jax.random.key(1),
            mesh=mesh,
            runtime=pn.training.Runtime(local_data=True, progress=False),
        )
        results[name] = flat(m)
    ens = ensemble()
    pn.fit_ensemble(
        ens,
        data,
        steps=STEPS,
        optimizer=optimizer(),
        progress=False,
        runtime=pn.training.Runtime(mesh=mesh, shard_members=True, progress=False),
    )
    results["ensemble"] = flat(ens)
else:
    checkpoint = os.path.join(out, "training.npz")

    def die(step, model, history):
        if jax.process_index() == 1 and step == STEPS // 2:
            if mode == "kill":
                os.kill(os.getpid(), 9)
            if mode == "sigint":  # Ctrl-C on one process: both stop after the same chunk
                os.kill(os.getpid(), 2)

    m = model()
    try:
        pn.fit(
            m,
            share,
            steps=STEPS,
            optimizer=optimizer(),
            batch_size=32,
            key=jax.random.key(1),
            chunk_size=STEPS // 4,
            hooks=[die],
            runtime=pn.training.Runtime(
                mesh=mesh,
                local_data=True,
                progress=False,
                checkpoint=checkpoint,
                checkpoint_every=STEPS // 4,
                resume=checkpoint if mode == "resume" else None,
            ),
        )
    except pn.DistributedError as err:  # as physnet train --distributed does
        exit_now(f"worker: error: {err}", 3)
    except TrainingInterrupted as err:
        print(f"worker {jax.process_index()}: {err}", flush=True)
        sys.exit(130)
    results[mode] = flat(m)
if is_writer():
    np.savez(os.path.join(out, f"{mode}.npz"), **results)
print(f"worker {jax.process_index()} done", flush=True)
