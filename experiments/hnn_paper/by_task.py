"""Run one HNN-PAPER task over seeds, one JSON per seed (how the README's numbers were made:
the registered settings restricted to one task, so the tasks can run one after another).

    python experiments/hnn_paper/by_task.py mass-spring 0,1,2,3,4 runs/hnn_paper [--best]
"""

import dataclasses
import json
import sys
import time
from pathlib import Path

import jax

from physnet.reproduce import _papers_hnn, get_experiment

if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    name, seeds, out = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], Path(sys.argv[3])
    exp = get_experiment("HNN-PAPER")
    cfg = exp.best_config if "--best" in sys.argv else exp.config
    task = next(t for t in cfg.tasks if t.system == name)
    cfg = dataclasses.replace(cfg, tasks=(task,))
    out = out / (name + ("-best" if "--best" in sys.argv else ""))
    out.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        t0 = time.perf_counter()
        metrics = _papers_hnn.run_task(task, exp.with_seed(cfg, seed), out, seed == seeds[0])
        metrics["wall"] = time.perf_counter() - t0
        (out / f"seed{seed}.json").write_text(json.dumps(metrics, indent=1))
        print(seed, json.dumps(metrics), flush=True)
