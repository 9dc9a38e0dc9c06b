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
# # Learning the damping: the dissipative HNN (E3/E4, Figures 8-11)
#
# With friction, q̈ = -α q - β q³ - γ q̇ and energy decays. The small-friction dissipative
# HNN moves along d/dt (q, p) = [[0, I], [-I, -γ I]] ∇H_θ with γ = softplus(raw) ≥ 0, so
# dH_θ/dt = -γ |∂H_θ/∂p|² ≤ 0 by construction, and γ is read off as a number.
#
# Set `PHYSNET_NOTEBOOK_SMALL=1` for a fast smoke run (CI does).

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

import physnet as pn
from physnet.plotting import energy_curve, phase_portrait
from physnet.training import make_optimizer

SMALL = os.environ.get("PHYSNET_NOTEBOOK_SMALL") == "1"
N_TRAJECTORIES, STEPS = (20, 300) if SMALL else (100, 6000)

# %%
system = pn.systems.Duffing(alpha=1.0, beta=2.0, gamma=0.1)
k_data, k_split, k_noise = jax.random.split(jax.random.key(1), 3)
data = pn.data.generate(system, n_trajectories=N_TRAJECTORIES, t1=5.0, n_points=50, key=k_data)

models = {}
for label, d in (("clean (E3)", data), ("noise σ = 0.05 (E4)", data.with_noise(0.05, key=k_noise))):
    train, test = d.split(0.8, key=k_split)
    model = pn.DissipativeHNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)), gamma_init=0.01)
    # physnet's recommended schedule: warm-up to 1e-2, cosine decay (see experiments/e3)
    pn.fit(model, train, steps=STEPS, optimizer=make_optimizer(1e-2, STEPS, "warmup-cosine"))
    gamma = float(model.gamma)
    print(f"{label}: γ̂ = {gamma:.4f} (true 0.1, error {abs(gamma - 0.1) / 0.1:.2%})")
    models[label] = model

# %% [markdown]
# ## Figures 8-11: damped trajectories spiral into the origin

# %%
ts = jnp.linspace(0.0, 40.0, 801)
y0 = jnp.array([1.0, 0.0])
true = np.asarray(pn.rollout(system.vector_field, y0, ts, substeps=10))
curves = {"true": true}
curves |= {
    f"learned, {k}": np.asarray(pn.rollout(m, y0, ts, substeps=10)) for k, m in models.items()
}
phase_portrait(curves, title="Damped Duffing (γ = 0.1): true vs learned dissipative HNNs, (1, 0)")
plt.show()

# %% [markdown]
# ## The learned energy never increases along the learned flow

# %%
model = models["clean (E3)"]
ys = pn.rollout(model, y0, ts, substeps=10)
h = jax.vmap(model.energy)(ys)
print("largest increase of H_θ between saved steps:", float(jnp.max(jnp.diff(h))))
energy_curve(
    np.asarray(ts),
    {"true energy, learned flow": np.asarray(jax.vmap(system.energy)(ys) / system.energy(y0))},
    title="True energy H(t)/H(0) along the learned damped rollout",
    log=False,
)
plt.show()
