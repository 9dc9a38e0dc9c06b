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
# # Control with a learned model: swinging a pendulum up
#
# A model identified from driven data is a model of ẋ = f(x, u): it can design a controller.
# Here a port-Hamiltonian model ẏ = (J - R)∇Ĥ + Ĝu and a neural ODE f(y, u) are trained on a
# pendulum driven by random multisine torques, and then the TRUE pendulum is swung up from
# (almost) hanging with |u| ≤ 3 N·m (a third of mgl, so it needs several swings):
#
# - **energy shaping + LQR** from the port model alone: u = -k (Ĥ(y) - Ĥ(π, 0)) Ĝᵀ∇Ĥ(y),
#   which makes dĤ/dt = -k (Ĥ - Ĥ*) |Ĝᵀ∇Ĥ|² for the undamped model, and the LQR of the learned
#   field's linearisation at the top inside its ellipsoid eᵀPe < 2;
# - **MPC** through the neural ODE: 30 held pieces of 0.05 s optimised by Adam through
#   `pn.rollout` at every sample, the first one applied (receding horizon).
#
# The five-seed numbers are in `experiments/control/README.md`. Set
# `PHYSNET_NOTEBOOK_SMALL=1` for a fast smoke run (CI does; the models are then barely trained
# and the swing-up is not expected to succeed).

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import physnet as pn
from physnet.control import (
    LQR,
    MPC,
    EnergyShaping,
    Switched,
    closed_loop,
    quadratic_cost,
    settling_time,
)
from physnet.signals import Multisine

SMALL = os.environ.get("PHYSNET_NOTEBOOK_SMALL") == "1"
N_TRAIN, STEPS, DURATION = (4, 50, 2.0) if SMALL else (20, 2000, 15.0)
HORIZON, ITERATIONS = (10, 3) if SMALL else (30, 60)

# %% [markdown]
# ## Data: a pendulum driven by random torques
#
# Initial states uniform in q ∈ [-π, π], p ∈ [-6, 6] (the upright energy 2mgl = 19.6 is
# reached), each trajectory under its own random-phase multisine (rms 2 N·m).

# %%
system = pn.systems.DrivenPendulum(friction=0.1)
k_y, k_u = jax.random.split(jax.random.key(0))
high = jnp.array([jnp.pi, 6.0])
y0 = jax.random.uniform(k_y, (N_TRAIN, 2), minval=-high, maxval=high)
excitations = [
    Multisine.random(k, rms=2.0, max_frequency=3.0) for k in jax.random.split(k_u, N_TRAIN)
]
train = pn.data.generate(system, N_TRAIN, 10.0, 101, key=k_y, initial_states=y0, inputs=excitations)

models = {}
for kind in ("port-hnn", "node"):
    model = pn.build_model(kind, 2, "mlp", seed=0, input_size=1, width=32, depth=2)
    pn.fit(model, train, steps=STEPS, optimizer=optax.adam(3e-3), progress=False)
    models[kind] = model
print(models["port-hnn"].readout())  # learned gain (true 1) and friction γ̂ (true 0.1)

# %% [markdown]
# ## Two controllers, run on the true pendulum
#
# Both sample the true state and hold their input between samples (20 ms for the energy law,
# 50 ms for MPC). A design step that fails (no stabilising Riccati solution for a poorly
# trained model) stops here with one line.

# %%
UPRIGHT = jnp.array([jnp.pi, 0.0])
start = jnp.array([0.1, 0.0])  # just off hanging: at rest every energy-shaping law is zero

port = models["port-hnn"]
lqr = LQR(port, UPRIGHT, q=np.diag([10.0, 1.0]), r=[[1.0]], periodic=(0,), bound=3.0)
print("closed-loop eigenvalues of the learned linearisation:", lqr.eigenvalues)
energy_law = Switched(lqr, EnergyShaping(port, UPRIGHT, gain=1.0, bound=3.0), level=2.0)
cost = quadratic_cost(UPRIGHT, [1.0, 0.1], [0.01], periodic=(0,))
mpc = MPC(models["node"], cost, period=0.05, horizon=HORIZON, bound=3.0, iterations=ITERATIONS)

runs = {
    "energy shaping + LQR (port-HNN)": closed_loop(
        system, energy_law, start, period=0.02, n_samples=round(DURATION / 0.02)
    ),
    "MPC (neural ODE)": closed_loop(
        system, mpc, start, period=0.05, n_samples=round(DURATION / 0.05)
    ),
}
for label, (ts, ys, _) in runs.items():
    settled = settling_time(ts, ys, UPRIGHT, [0.1, 0.2], periodic=(0,))
    print(f"{label}: within |q - π| < 0.1, |p| < 0.2 from t = {settled:.2f} s on")

# %% [markdown]
# ## Phase portrait, energy and input
#
# The energy is the TRUE one, H = p²/2 + g(1 - cos q); the target is 2g (dashed).

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for label, (ts, ys, us) in runs.items():
    q = (np.asarray(ys[:, 0]) + np.pi) % (2 * np.pi) - np.pi  # hanging at 0, upright at ±π
    axes[0].plot(q, ys[:, 1], ".", ms=2, label=label)
    axes[1].plot(ts, jax.vmap(system.energy)(ys), label=label)
    axes[2].step(ts[:-1], us[:, 0], where="post", label=label)
axes[0].set(xlabel="q (rad, wrapped)", ylabel="p", title="phase portrait")
axes[1].axhline(2 * 9.81, color="k", ls="--", lw=1)
axes[1].set(xlabel="t (s)", ylabel="H (true)", title="energy")
axes[2].set(xlabel="t (s)", ylabel="u (N·m)", title="input (held), |u| ≤ 3")
axes[0].legend(loc="lower left", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# With the full settings (seed 0) the energy law, designed from Ĥ and Ĝ alone, brings the
# true energy to 2mgl in about 5 s and the LQR holds the pendulum upright from 6.8 s on.
# MPC through the neural ODE brings it up too, but hovers about 0.1 rad off the top (the
# neural ODE's own upright equilibrium is not at π) with a restless input, entering the
# tolerance only at 14.6 s of the 15 s run: the study counts that as a miss. Over five seeds
# (`experiments/control/README.md`) the energy law succeeded on 4, MPC through the neural ODE
# on none.
