"""Errors in variables: multiple shooting from latent starting states learned with the model."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ..data import Trajectories
from ._loss_base import AbstractLoss
from ._trajectory_loss import TrajectoryLoss, cut_windows


class LatentStarts(nnx.Module):
    """A model together with the estimated starting state of every shooting window.

    Train it with :func:`physnet.fit` and :class:`LatentShootingLoss` (both the model's
    parameters and ``starts`` are ``nnx.Param``), then read the trained model as ``.model``.
    Calling it calls the model.

    Attributes:
        model: the wrapped physnet model.
        starts: ``nnx.Param`` of shape ``(S, d)``, one state per window.
    """

    def __init__(self, model, starts: Array):
        self.model = model
        self.starts = nnx.Param(jnp.asarray(starts, dtype=jnp.float64))

    def __call__(self, t, y, args=None):
        return self.model(t, y, args)


@dataclasses.dataclass(frozen=True)
class LatentShootingLoss(AbstractLoss):
    r"""Multiple shooting with estimated starting states (errors in variables).

    Multiple shooting with estimated starting states (errors in variables): every window's
    starting state z_k is a parameter fitted jointly with the model, and the whole window,
    its first observation included, is compared with the data.

    With windows k of W observations (as :class:`TrajectoryLoss`),

    .. math::
        \mathcal L(\theta, z) = \frac{1}{K W d} \sum_{k=1}^{K} \sum_{j=0}^{W-1}
        \bigl| \Phi_θ(t_{s_k+j}, t_{s_k}; z_k) - y_{s_k+j} \bigr|^2,

    the output-error (maximum-likelihood, for Gaussian measurement noise) form of multiple
    shooting. :class:`TrajectoryLoss` starts each window from the raw observation y_{s_k}; with
    noisy states that biases the parameters (for a damped oscillator the learned damping by
    about σ²/(h E[p²]) at W = 2). Here the noise of the starting state is estimated away: its
    estimate uses the W observations of its window. Longer windows average more noise per
    latent state; W·d observations per window against d latent values.

    Use (recommended): :func:`~physnet.training.latent_least_squares` (Levenberg-Marquardt
    with the starts eliminated per window by the Schur complement; converges in 5-15
    iterations), or the whole states-only road :func:`physnet.fit_states` (weak-form
    initialisation, then this loss with whole trajectories as windows). With first-order
    optimisers: ``wrapped = loss.wrap(model, data)``; ``pn.fit(wrapped, data, loss=loss,
    ...)`` (no ``test_data``: the latent starts belong to the training windows); the trained
    model is ``wrapped.model``; :meth:`noise_level` estimates σ from the residuals (measured:
    300 L-BFGS steps of that joint problem with a KAN did not converge, see
    ``experiments/noisy_states``). It is not in ``LOSSES`` (not a drop-in loss: it trains a
    wrapper), so not behind ``physnet train --loss``.
    The model must start near the optimum (e.g. from :class:`WeakFormLoss`): over long windows
    the shooting problem has other local minima. Longer windows average more noise per latent
    start and, at whole trajectories, make this the output-error maximum-likelihood
    estimator; they need an accurate integration (``substeps``; RK4 with 8 substeps per
    observation interval gives 1e-5 % coefficient errors on clean Duffing data at dt ≈ 0.1).
    Works for every model (``model(t, y, args)``).

    Args:
        window: observations per window W (>= 2; default 4, the value of the first
            ``experiments/noisy_states`` run; :func:`physnet.fit_states` uses whole
            trajectories).
        stride: observations between window starts (default ``window - 1``).
        solver, substeps, adjoint, rtol, atol, max_steps: as :class:`TrajectoryLoss`.

    Raises:
        ConfigError: on an invalid option, or calling the loss on a model that is not a
            :class:`LatentStarts`.

    Reference: Bock & Plitt (1984), multiple shooting with the node values as unknowns;
    Ribeiro et al., "On the smoothness of nonlinear system identification" (2020).
    """

    name: ClassVar[str] = "latent-shooting"
    window: int = 4
    _: dataclasses.KW_ONLY
    stride: int | None = None
    solver: object = "rk4"
    substeps: int = 1
    adjoint: object = None
    rtol: float = 1e-8
    atol: float = 1e-8
    max_steps: int = 4096

    def __post_init__(self):
        shooting = self._shooting  # validates the options
        for f in dataclasses.fields(self):  # the validated, normalised options
            object.__setattr__(self, f.name, getattr(shooting, f.name))

    @property
    def _shooting(self) -> TrajectoryLoss:
        """The trajectory loss integrating each window from its latent start."""
        return TrajectoryLoss(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def __repr__(self) -> str:
        return f"LatentShootingLoss(window={self.window}, stride={self.stride})"

    def prepare(self, data: Trajectories, *, clean: bool = False):
        """Cut the trajectories into windows (as :class:`TrajectoryLoss`).

        Returns:
            ``{"ts": (S, W), "ys": (S, W, d), "window": (S,)}``, ``window`` the index of each
            window's latent start in :attr:`LatentStarts.starts`.
        """
        ts, ys = cut_windows(data, self.window, self.stride, clean=clean, owner="latent-shooting")
        return {"ts": ts, "ys": ys, "window": jnp.arange(ts.shape[0])}

    def wrap(self, model, data: Trajectories) -> LatentStarts:
        """``model`` with one latent start per window of ``data``, initialised at the observed
        first states of the windows."""
        return LatentStarts(model, self.prepare(data)["ys"][:, 0])

    def predict(self, wrapped: LatentStarts, batch) -> Array:
        """The model's solutions ``(S, W, d)`` over the windows from their latent starts."""
        if not isinstance(wrapped, LatentStarts):
            raise ConfigError(
                "LatentShootingLoss trains a LatentStarts wrapper, got "
                f"{type(wrapped).__name__}; wrap the model first: wrapped = loss.wrap(model, data)"
            )
        starts = wrapped.starts[...][batch["window"]]
        return self._shooting.predict(wrapped.model, {"ts": batch["ts"], "ys": starts[:, None]})

    def __call__(self, wrapped, batch) -> Array:
        return jnp.mean((self.predict(wrapped, batch) - batch["ys"]) ** 2)

    def noise_level(self, wrapped: LatentStarts, data: Trajectories) -> np.ndarray:
        r"""The estimated measurement noise σ̂ per state component, shape ``(d,)``.

        σ̂_i² = Σ_{k,j} (Φ_θ(t_{s_k+j}; z_k) - y_{s_k+j})_i² / (K (W - 1)): the residuals'
        sum of squares over the K·W window observations less one degree of freedom per
        latent value (K per component), so that a correct model on Gaussian noise gives
        σ̂ ≈ σ (the model's own parameters are neglected).
        """
        batch = self.prepare(data)
        err = np.asarray(self.predict(wrapped, batch) - batch["ys"])
        n_windows, width, _ = err.shape
        dof = n_windows * (width - 1)
        return np.sqrt(np.sum(err**2, axis=(0, 1)) / dof)
