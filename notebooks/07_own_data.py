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
# # Your own measurements: from a text file to a learned, damped Hamiltonian
#
# A walk from a file of measured trajectories to a model, its rollout and its energy, in the
# file's own units. The file here is the real pendulum of Schmidt & Lipson (2009), shipped
# with physnet, written out as a CSV the way a user's tracking software might: a header, one
# row per frame, a trial column, frames dropped. Replace `path` with your file.
#
# The same steps on the command line:
#
#     physnet import my_pendulum.csv --time t --states theta,omega --trial trial --out pend.npz
#     python -c "import physnet as pn; pn.data.load('pend.npz').with_estimated_derivatives('central').save('pend_c.npz')"
#     physnet train --data pend_c.npz --model dhnn --split time --steps 2000 --out run
#     physnet evaluate --run run --energy "2.4*(1 - cos(theta)) + omega**2" --dt 0.0333
#
# (`physnet train` estimates no derivatives: give them with `--derivatives` on import, or save
# the data with estimated ones, as on the second line and below.)
#
# Set `PHYSNET_NOTEBOOK_SMALL=1` for a fast smoke run (CI does).

# %%
import os
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import physnet as pn
from physnet.data import TimeSplit
from physnet.evaluation import energy_function, energy_mse
from physnet.plotting import phase_portrait, time_series

SMALL = os.environ.get("PHYSNET_NOTEBOOK_SMALL") == "1"
WIDTH, STEPS = (32, 200) if SMALL else (200, 2000)

# %% [markdown]
# ## 1. A text file
#
# Any CSV or whitespace-separated table works; lines starting with `%` or `#` are comments.
# Here: the shipped record, with every 40th frame dropped to show that irregular times are
# kept as recorded.

# %%
record = np.loadtxt(pn.datasets.path("real-pendulum"), comments="%")
keep = np.arange(len(record)) % 40 != 17
path = Path(tempfile.mkdtemp()) / "my_pendulum.csv"
np.savetxt(path, record[keep], delimiter=",", header="trial,t,theta,omega", comments="")
print(path.read_text().splitlines()[:3])

# %% [markdown]
# ## 2. Import: `from_table`
#
# Columns by header name (or 0-based index). Bad files (ragged rows, text cells, NaN, times
# that go backwards, unknown names) raise one `DataError` line naming the problem.

# %%
data = pn.data.from_table(path, time="t", states="theta,omega", trial="trial")
print(data.n_trajectories, "trial,", data.n_samples, "observations, uniform:", data.is_uniform())
print("time steps found:", sorted({round(float(d), 4) for d in np.diff(data.times_of(0))}))

# %% [markdown]
# ## 3. Rescale and estimate derivatives
#
# `rescaled("std")` divides each component by its standard deviation and keeps the scales,
# so `to_units` brings every result back to radians and rad/s. Derivatives: central
# differences on the recorded (non-uniform) grid. Forward differences, the HNN paper's
# choice, add a fake damping of about dt·ω²/2 at dt = 1/6 s: compare both below.

# %%
scaled = data.rescaled("std")
central = scaled.with_estimated_derivatives("central")
forward = scaled.with_estimated_derivatives("forward")
print("scales:", scaled.scales)

# %% [markdown]
# ## 4. Split in time and train
#
# One long record: the first 80 % trains, the last 20 % is held out (`physnet train --split
# time`). A dissipative HNN learns H and a damping γ ≥ 0.

# %%
models = {}
for label, d in (("central differences", central), ("forward differences", forward)):
    train, test = TimeSplit.for_data(d, 0.8).apply(d)
    model = pn.build_model("dhnn", 2, "mlp", seed=0, width=WIDTH, depth=2, activation="tanh")
    pn.fit(model, train, steps=STEPS, optimizer=optax.adam(1e-3), progress=False)
    models[label] = model
    print(f"{label}: γ̂ = {float(model.gamma):.4f}")

# %% [markdown]
# ## 5. Evaluate with an energy formula
#
# Roll each model out from the first held-out state over the held-out times and compare the
# energy E = 2.4(1 - cos θ) + ω² (the HNN paper's) along the measured and learned paths, in the
# file's units. `physnet evaluate --energy` does the same.

# %%
energy = energy_function("2.4*(1 - cos(theta)) + omega**2", ["theta", "omega"])
held = test.trajectory(0)
ts = jnp.asarray(held.ts)
measured = np.asarray(test.to_units(held.states[0]))
paths = {"measured": measured}
for label, model in models.items():
    ys = pn.rollout(model, held.states[0, 0], ts, substeps=5)
    paths[label] = np.asarray(test.to_units(ys))
    print(f"{label}: energy MSE {float(energy_mse(energy, paths[label], measured)):.2e}")

# %% [markdown]
# ## 6. Plots: the held-out segment, and the energy along it

# %%
phase_portrait(paths, title="Held-out segment: measured vs learned (θ, ω)")
plt.show()

# %%
curves = {k: np.asarray(jax.vmap(energy)(jnp.asarray(v)))[:, None] for k, v in paths.items()}
time_series(np.asarray(ts), curves, names=("energy",), title="Energy along the held-out segment")
plt.show()
