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
# # A Hamiltonian neural network learns the Duffing oscillator (E1, Figures 1-4)
#
# The Duffing oscillator q̈ = -α q - β q³ has the energy H(q, p) = α/2 q² + β/4 q⁴ + p²/2.
# An HNN learns a scalar H_θ(q, p) and moves along its symplectic gradient
# dq/dt = ∂H_θ/∂p, dp/dt = -∂H_θ/∂q, so it conserves its own energy exactly. Here we train
# one on the source's data (α = 1, β = 2; 100 trajectories of 50 points on t ∈ [0, 5]) and
# compare it with an unstructured neural ODE trained on the same data.
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
from physnet.plotting import energy_curve, phase_portrait, time_series

SMALL = os.environ.get("PHYSNET_NOTEBOOK_SMALL") == "1"
N_TRAJECTORIES, STEPS = (20, 200) if SMALL else (100, 3000)

# %% [markdown]
# ## Data: exact RK4 trajectories with their time derivatives, split by trajectory

# %%
system = pn.systems.Duffing(alpha=1.0, beta=2.0, gamma=0.0)
k_data, k_split = jax.random.split(jax.random.key(1))
data = pn.data.generate(system, n_trajectories=N_TRAJECTORIES, t1=5.0, n_points=50, key=k_data)
train, test = data.split(0.8, key=k_split)
print(train.states.shape, train.derivatives.shape)  # (trajectories, times, [q, p])

# %% [markdown]
# ## Train an HNN (H = MLP 2-32-32-1) and a neural ODE (f = MLP 2-32-32-2)
#
# Both are fitted by derivative matching, full batch, Adam at 1e-3: the source's settings.
# The training loop is one compiled `lax.scan` per chunk of steps.

# %%
hnn = pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)))
node = pn.NeuralODE(pn.MLP(2, 2, width=32, depth=2, rngs=nnx.Rngs(0)))
for name, model in (("HNN", hnn), ("neural ODE", node)):
    history = pn.fit(model, train, steps=STEPS, optimizer=optax.adam(1e-3), test_data=test)
    print(f"{name}: train MSE {history.train_loss[-1]:.2e}, test MSE {history.test_loss[-1]:.2e}")

# %% [markdown]
# ## Figures 1-4: the true and the learned trajectory from (q, p) = (1, 0)

# %%
ts = jnp.linspace(0.0, 40.0, 801)
y0 = jnp.array([1.0, 0.0])
true = np.asarray(pn.rollout(system.vector_field, y0, ts, substeps=10))
learned = np.asarray(pn.rollout(hnn, y0, ts, substeps=10))
phase_portrait({"true": true, "learned HNN": learned}, title="E1: true vs learned HNN, (1, 0)")
plt.show()

# %%
time_series(np.asarray(ts), {"true": true, "learned HNN": learned}, title="E1: q(t) and p(t)")
plt.show()

# %% [markdown]
# ## Energy over a long rollout: the HNN keeps it, the neural ODE does not
#
# `energy_drift` is max_t |H(y(t)) - H(y(0))| / |H(y(0))| with the TRUE energy along the
# learned rollout, here from the clean test initial states to t = 100.

# %%
ts_long = jnp.linspace(0.0, 100.0, 1001)
y0s = test.clean_states[:, 0] if test.clean_states is not None else test.y0
for name, model in (("HNN", hnn), ("neural ODE", node)):
    ys = pn.rollout(model, y0s, ts_long, substeps=10)
    print(
        f"{name}: median energy drift {float(jnp.median(pn.energy_drift(system.energy, ys))):.3%}"
    )

ys_hnn = pn.rollout(hnn, y0, ts_long, substeps=10)
ys_node = pn.rollout(node, y0, ts_long, substeps=10)
energy_curve(
    np.asarray(ts_long),
    {
        "HNN": np.asarray(pn.energy_error(system.energy, ys_hnn)),
        "neural ODE": np.asarray(pn.energy_error(system.energy, ys_node)),
    },
    title="Relative error of the true energy along learned rollouts from (1, 0)",
)
plt.show()
