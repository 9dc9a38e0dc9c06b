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
# # Learning from noisy observations (E2, Figures 5-7)
#
# The source adds N(0, 0.05²) noise to q, p, dq/dt and dp/dt. The HNN's structure acts as a
# strong prior: its error against the noise-free field is far below its error against the
# noisy targets. physnet keeps the clean values beside the noisy ones (`clean_states`,
# `clean_derivatives`), so both can be measured.
#
# Set `PHYSNET_NOTEBOOK_SMALL=1` for a fast smoke run (CI does).

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from flax import nnx

import physnet as pn
from physnet.evaluation import derivative_mse
from physnet.plotting import phase_portrait, time_series

SMALL = os.environ.get("PHYSNET_NOTEBOOK_SMALL") == "1"
N_TRAJECTORIES, STEPS = (20, 200) if SMALL else (100, 3000)

# %%
system = pn.systems.Duffing(alpha=1.0, beta=2.0, gamma=0.0)
k_data, k_split, k_noise = jax.random.split(jax.random.key(1), 3)
data = pn.data.generate(system, n_trajectories=N_TRAJECTORIES, t1=5.0, n_points=50, key=k_data)
noisy = data.with_noise(0.05, key=k_noise)
train, test = noisy.split(0.8, key=k_split)

hnn = pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)))
pn.fit(hnn, train, steps=STEPS, optimizer=optax.adam(1e-3))
print(f"test MSE against the noisy targets: {derivative_mse(hnn, test):.3g}")
print(f"test MSE against the noise-free targets: {derivative_mse(hnn, test, clean=True):.3g}")

# %% [markdown]
# ## Figures 5-7: the learned trajectory, its time series, and the overlay with the truth

# %%
ts = jnp.linspace(0.0, 40.0, 801)
y0 = jnp.array([1.0, 0.0])
true = np.asarray(pn.rollout(system.vector_field, y0, ts, substeps=10))
learned = np.asarray(pn.rollout(hnn, y0, ts, substeps=10))
phase_portrait({"learned HNN": learned}, title="E2: learned HNN from noisy data, (1, 0)")
plt.show()

# %%
time_series(np.asarray(ts), {"true": true, "learned HNN": learned}, title="E2: q(t), p(t)")
plt.show()

# %%
phase_portrait({"true": true, "learned HNN": learned}, title="E2: true vs learned, (1, 0)")
plt.show()
