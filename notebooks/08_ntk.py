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
# # Why training is slow where it is: the neural tangent kernel of physics losses
#
# Gradient descent on a squared loss of a residual r = T[u_θ] − target moves the residual by
# dr/dt = −(2η/N) K r, with the empirical neural tangent kernel
# K(x, x') = ⟨∂θ T[u_θ](x), ∂θ T[u_θ](x')⟩. Its eigenvalues say how fast each component of
# the residual is learned: mode i decays by e in about N / (2ηλ_i) steps (SPEC.md section 6).
# An HNN's loss applies T[H] = J∇H, an LNN's the Euler-Lagrange solve, a PINN's a PDE residual.
# Does the operator make the spectrum decay more slowly (learn high frequencies faster)?
#
# This notebook computes the kernels with `pn.analysis.ntk` for an MLP and a KAN, under the
# plain output (regression of H), the HNN operator and the neural ODE, compares the spectra,
# trains an HNN by plain gradient descent while a `KernelDrift` hook records the residual's
# coefficients on K₀'s eigenvectors, and sets predicted against observed per-mode convergence.
# `experiments/ntk/` runs the same over widths 32 to 512, 5 seeds, and the Poisson toy; its
# README has the table. Set `PHYSNET_NOTEBOOK_SMALL=1` for the smoke run CI does (fewer states
# and steps: the numbers printed there are not results).

# %%
import os

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax
from flax import nnx

import physnet as pn
from physnet.analysis import (
    KernelDrift,
    convergence_times,
    decay_exponent,
    field_error_spectrum,
    ntk,
    observed_convergence_times,
    spectrum,
)
from physnet.plotting import error_spectrum, kernel_drift, kernel_spectra, mode_convergence

SMALL = os.environ.get("PHYSNET_NOTEBOOK_SMALL") == "1"
S, WIDTH, STEPS = (24, 16, 100) if SMALL else (128, 128, 2000)

system = pn.systems.Duffing(alpha=1.0, beta=2.0, gamma=0.0)
data = pn.data.generate(system, n_trajectories=S // 8, t1=2.0, n_points=8, key=jax.random.key(0))
ys, dys = (np.asarray(a) for a in data.flat())
print(f"{ys.shape[0]} Duffing states")

# %% [markdown]
# ## Spectra at initialisation
#
# The same scalar network H_θ gives the kernel of plain regression of H (operator "output")
# and of the HNN's derivative loss (J∇H_θ); a 2 → 2 network gives the neural ODE's. The KAN
# is [2, 5, 1] (or [2, 5, 2]), G = 5, cubic splines.


# %%
def nets(out):
    return {
        f"MLP {WIDTH}": pn.MLP(2, out, width=WIDTH, depth=2, rngs=nnx.Rngs(0)),
        "KAN [2,5,·]": pn.KAN(
            [2, 5, out], grid=5, order=3, grid_range=(-2.5, 2.5), rngs=nnx.Rngs(0)
        ),
    }


spectra = {}
for name, h in nets(1).items():
    spectra[f"{name}: regression of H"] = spectrum(ntk(h, ys, operator="output")).eigenvalues
    spectra[f"{name}: HNN J∇H"] = spectrum(ntk(pn.HNN(h), ys)).eigenvalues
for name, f in nets(2).items():
    spectra[f"{name}: neural ODE"] = spectrum(ntk(pn.NeuralODE(f), ys)).eigenvalues
last = S // 2
for label, lam in spectra.items():
    print(f"{label:32s} decay exponent α = {decay_exponent(lam, first=2, last=last):.2f}")
kernel_spectra(spectra)
plt.show()

# %% [markdown]
# ## Training by gradient descent: predicted and observed per-mode convergence
#
# Full-batch gradient descent with η = 0.05 N / λ_max(K₀) (N = 2S residual entries). The
# `KernelDrift` hook ends a training chunk every 4 steps, projects the residual on K₀'s
# eigenvectors, and recomputes the kernel now and then for the drift ||K_t − K₀|| / ||K₀||.

# %%
model = pn.HNN(pn.MLP(2, 1, width=WIDTH, depth=2, rngs=nnx.Rngs(0)))
n = dys.size
eta = 0.05 * n / spectrum(ntk(model, ys)).eigenvalues[0]
hook = KernelDrift(ys, every=4, kernel_every=50, targets=dys)
history = pn.fit(model, data, steps=STEPS, optimizer=optax.sgd(eta), hooks=[hook], chunk_size=STEPS)
c = np.asarray(hook.coefficients)
live = np.abs(c[0]) > 1e-3 * np.linalg.norm(c[0])
predicted = convergence_times(hook.spectrum0, eta, n_residuals=n)
observed = observed_convergence_times(hook.steps, c)
ok = live & np.isfinite(observed) & (observed > 0)
print(
    f"loss {history.train_loss[0]:.3g} -> {history.final_train_loss():.3g}; "
    f"{ok.sum()} of {live.sum()} live modes converged; median observed/predicted "
    f"{np.median(observed[ok] / predicted[ok]):.2f}; final drift {hook.drift[-1]:.3g}"
)
mode_convergence(predicted[ok], observed[ok])
plt.show()

# %%
kernel_drift({f"HNN, MLP {WIDTH}": (hook.kernel_steps, hook.drift)})
plt.show()

# %% [markdown]
# ## Error per frequency of the learned field
#
# The plain MSE hides where the error sits. On a (q, p) grid the error of the learned vector
# field, Fourier transformed and summed per radial wavenumber, against the true field's.

# %%
grid = np.linspace(-1.5, 1.5, 32, endpoint=False)
err = field_error_spectrum(model, system.vector_field, (grid, grid))
error_spectrum(
    {
        "error of J∇H_θ": (err.frequencies, err.error),
        "true field": (err.frequencies, err.reference),
    },
    xlabel="radial wavenumber (1 / state unit)",
)
plt.show()
