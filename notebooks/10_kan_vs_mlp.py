# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # KAN vs MLP vs soft-exponential, measured fairly
#
# KANs are said to be much smaller and more accurate on structured scientific functions,
# slower to train, and to forget less under continual learning (Liu et al. 2024); a later
# comparison at matched parameters or FLOPs found MLPs mostly ahead (Yu et al. 2024). The
# soft-exponential activation's learnable α is said to reach logarithmic and exponential
# regimes so an MLP can represent products (Godfrey & Gashler 2016).
#
# `pn.analysis.compare` trains approximator families at a matched parameter count or a
# matched number of FLOPs per forward pass (counted by XLA), over seeds, and records the test
# error, the time per step and the compile time. This notebook runs it on x·y and x³, fits a
# scaling exponent, runs the KAN paper's five-peak continual-learning protocol and watches
# soft-exp's α. `experiments/kan_vs_mlp/` runs the full protocol (9 tasks, 5 seeds); its
# README has the tables. Set `PHYSNET_NOTEBOOK_SMALL=1` for the smoke run CI does (one seed,
# few steps: the numbers printed there are not results).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import optax
from flax import nnx

import physnet as pn
from physnet.analysis import (
    Family,
    builtin_tasks,
    compare,
    continual_learning,
    default_families,
    kan_grid_family,
    mlp_family,
    parameter_count,
    scaling_exponent,
    size_for,
)

SMALL = os.environ.get("PHYSNET_NOTEBOOK_SMALL") == "1"
SEEDS, STEPS = (1, 30) if SMALL else (3, 500)

# %% [markdown]
# ## Matched parameters, then matched FLOPs
#
# The budget is the MLP [in, 16, 16, out]'s count; every family is sized to the nearest
# parameter count (or FLOPs) in log scale, then trained by Adam (1e-2), full batch.

# %%
tasks = builtin_tasks(["xy"] if SMALL else ["xy", "cube"])
families = default_families()
if SMALL:
    del families["softexp"]
for match in ("params", "flops"):
    result = compare(tasks, families, match=match, seeds=SEEDS, steps=STEPS)
    print(f"matched {match}:\n{result.table()}\n")

# %% [markdown]
# ## Scaling: error against parameters
#
# MLP widths 4 to 32 against a KAN [1, 2, 1] whose grid grows (the KAN paper's knob). The
# fitted exponent a of error ∝ N^-a, with a bootstrap interval over seeds.

# %%
(cube,) = builtin_tasks(["cube"])
fams = {"mlp": mlp_family(), "kan_grid": kan_grid_family()}
sizes = {"mlp": [4, 8, 16, 32], "kan_grid": [3, 6, 12, 24]}
if SMALL:
    sizes = {k: v[:2] for k, v in sizes.items()}
scaling = compare([cube], fams, sizes=sizes, seeds=max(SEEDS, 2), steps=2 * STEPS)
fig, ax = plt.subplots(figsize=(5, 3.6))
for name in fams:
    rows = [r for r in scaling.rows if r["approximator"] == name]
    fit = scaling_exponent(
        [r["params"] for r in rows], [r["error"] for r in rows], [r["seed"] for r in rows]
    )
    ax.loglog(
        [r["params"] for r in rows],
        [r["error"] for r in rows],
        "o",
        alpha=0.6,
        label=f"{name}: N^-{fit['exponent']:.2f} (95% CI {fit['ci'][0]:.2f}..{fit['ci'][1]:.2f})",
    )
ax.set(xlabel="parameters", ylabel="test RMSE", title="x³")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Continual learning: five peaks, one after another
#
# Phase k trains only on the region around peak k. Forgetting after phase k is the mean rise
# of the RMSE on the earlier regions since they were learned. The KAN is a single [1, 1] edge
# with G = 50 (local splines); the MLPs are sized to its parameter count.

# %%
kan = Family("kan", lambda s, i, o, r, g: pn.KAN([i, o], grid=s, grid_range=g, rngs=r), (50,), 50)
n = parameter_count(pn.KAN([1, 1], grid=50, rngs=nnx.Rngs(0)))
runs = [(kan, 50)]  # the small CI setting runs the KAN only
if not SMALL:
    for fam in (mlp_family(), mlp_family(activation="soft_exponential")):
        runs.append((fam, size_for(fam, n, 1, 1)))
fig, ax = plt.subplots(figsize=(5, 3.6))
for fam, size in runs:
    run = continual_learning(fam, size, dims=1, seed=0, steps_per_phase=STEPS)
    ax.plot(range(2, 6), run["forgetting"][1:], "o-", label=f"{fam.name} ({run['params']} params)")
    print(f"{fam.name}: final mean RMSE over the 5 regions {run['final_mean_rmse']:.3g}")
ax.set(xlabel="phase", ylabel="forgetting (Δ RMSE on earlier regions)")
ax.legend()
plt.show()

# %% [markdown]
# ## Soft-exponential: where does α go?
#
# α starts at 0 (the identity) and is clipped to [-1, 1] in the forward pass: α = -1 is the
# logarithm's regime, α = 1 the exponential's. After training on x·y:

# %%
(xy,) = builtin_tasks(["xy"])
net = pn.MLP(2, 1, width=8, depth=2, activation="soft_exponential", rngs=nnx.Rngs(0))
pn.training.fit_function(net, *xy.train, steps=2 * STEPS, optimizer=optax.adam(1e-2))
alpha = pn.analysis.alpha_values(net)
print(
    f"α quantiles (0, 25, 50, 75, 100 %): {np.round(np.quantile(alpha, [0, 0.25, 0.5, 0.75, 1]), 3)}"
)
plt.hist(alpha, bins=16)
plt.xlabel("α")
plt.show()
