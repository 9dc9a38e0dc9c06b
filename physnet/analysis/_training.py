"""NTK-aware training parts: weighted loss terms and a kernel-drift hook for physnet.fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._checks import integer
from .._errors import ConfigError
from ..training import AbstractLoss, Hook, get_loss
from ._ntk import _states, ntk
from ._spectrum import spectrum


class ComponentLoss(AbstractLoss):
    r"""Derivative matching on some output components only.

    Derivative matching on some output components only: the mean over samples and the
    chosen components of (f_θ(y)_i - dy_i/dt)², e.g. ``components=[0]`` for q̇ and ``[1]``
    for ṗ of a one-degree-of-freedom state, so the two can be weighted separately.

    Args:
        components: indices of the state components (a sequence of ints).
    """

    def __init__(self, components: Sequence[int]):
        components = [int(i) for i in components]
        if not components:
            raise ConfigError("ComponentLoss: components must name at least one index")
        self.components = components
        self.name = f"derivative{components}"

    def prepare(self, data, *, clean: bool = False):
        y, dy = data.flat(clean=clean)
        if max(self.components) >= dy.shape[-1]:
            raise ConfigError(
                f"ComponentLoss: component {max(self.components)} out of range for state "
                f"size {dy.shape[-1]}"
            )
        return {"y": y, "dy": dy[:, jnp.asarray(self.components)]}

    def __call__(self, model, batch) -> Array:
        idx = jnp.asarray(self.components)
        pred = jax.vmap(lambda y: model(0.0, y)[idx])(batch["y"])
        return jnp.mean((pred - batch["dy"]) ** 2)


class WeightedLoss(AbstractLoss):
    r"""A weighted sum of loss terms, L = Σ_k w_k L_k, usable with :func:`physnet.fit`.

    With weights from :func:`trace_ratio_weights` of the terms' NTK blocks this is the
    trace-ratio weighting of Wang, Yu & Perdikaris (2022), computed once (at the model the
    weights were measured on); call ``fit`` again with new weights to adapt them. The terms
    must prepare batches with the same number of samples (they share minibatch indices).

    Args:
        terms: ``name -> loss`` (objects or names).
        weights: ``name -> w_k >= 0`` (default 1 for every term).

    Raises:
        ConfigError: on a weight for an unknown term, or a negative or non-finite weight.
    """

    def __init__(self, terms: Mapping[str, AbstractLoss | str], weights=None):
        if not terms:
            raise ConfigError("WeightedLoss: terms must name at least one loss")
        self.terms = {k: get_loss(v) for k, v in terms.items()}
        weights = dict(weights or {})
        unknown = set(weights) - set(self.terms)
        if unknown:
            raise ConfigError(
                f"WeightedLoss: weights for unknown term(s) {sorted(unknown)}; terms are "
                f"{list(self.terms)}"
            )
        self.weights = {k: float(weights.get(k, 1.0)) for k in self.terms}
        bad = {k: w for k, w in self.weights.items() if not (np.isfinite(w) and w >= 0)}
        if bad:
            raise ConfigError(f"WeightedLoss: weights must be finite and >= 0, got {bad}")
        self.name = "+".join(f"{w:.3g}*{k}" for k, w in self.weights.items())

    def prepare(self, data, *, clean: bool = False):
        return {k: loss.prepare(data, clean=clean) for k, loss in self.terms.items()}

    def __call__(self, model, batch) -> Array:
        return sum(w * self.terms[k](model, batch[k]) for k, w in self.weights.items())


class KernelDrift(Hook):
    r"""A hook that records how the NTK moves during training.

    Record the kernel drift ||K_t - K_0||_F / ||K_0||_F during :func:`physnet.fit`, and
    optionally the residual's coefficients on the eigenvectors of K_0.

    A hook object for ``fit(..., hooks=[KernelDrift(...)])``: it makes the training chunks
    end every ``every`` steps, recomputes the kernel every ``kernel_every`` recordings, and
    with ``targets`` records ``c(t) = V_0ᵀ (T[u_θ](x) - target)`` at every recording, from which
    :func:`observed_convergence_times` reads per-mode convergence.

    Args:
        states: states ``(S, d)`` or :class:`~physnet.Trajectories` (at most ``samples``).
        operator: as in :func:`ntk` (default: the model's).
        every: record every this many optimizer steps.
        kernel_every: recompute the kernel at every this many recordings (1: every time).
        targets: targets of T[u_θ] at the states, shape ``(S, m)``, or ``None``.
        samples: at most this many states (evenly strided).

    Attributes (filled during training):
        steps: recorded steps.
        drift: kernel drift at the steps where it was computed (``kernel_steps``).
        coefficients: ``(len(steps), N)`` residual coefficients (with ``targets``).
        initial: the :class:`NTKResult` at step 0; ``spectrum0`` its :class:`Spectrum`.
    """

    def __init__(
        self,
        states,
        *,
        operator=None,
        every: int = 10,
        kernel_every: int = 1,
        targets=None,
        samples: int | None = None,
    ):
        integer("KernelDrift", "every", every, low=1)
        integer("KernelDrift", "kernel_every", kernel_every, low=1)
        full = _states(states, None)
        self.states = _states(full, samples)
        self.operator = operator
        self.every = every
        self.kernel_every = kernel_every
        self.targets = None
        if targets is not None:
            targets = np.asarray(targets, dtype=float)
            if targets.shape[0] != full.shape[0]:
                raise ConfigError(
                    f"KernelDrift: targets must have one row per state ({full.shape[0]}), got "
                    f"shape {targets.shape}"
                )
            self.targets = np.asarray(_states(targets.reshape(full.shape[0], -1), samples))
        self.steps: list[int] = []
        self.kernel_steps: list[int] = []
        self.drift: list[float] = []
        self.coefficients: list[np.ndarray] = []
        self.initial = None
        self.spectrum0 = None

    def boundaries(self, steps: int):
        return range(self.every, steps, self.every)

    def __call__(self, step: int, model, history) -> None:
        if step % self.every and step != 0:
            return
        n = len(self.steps)
        compute_kernel = self.initial is None or n % self.kernel_every == 0
        if compute_kernel:
            result = ntk(model, self.states, operator=self.operator)
            if self.initial is None:
                self.initial = result
                self.spectrum0 = spectrum(result)
            k0 = self.initial.matrix
            self.kernel_steps.append(step)
            self.drift.append(float(np.linalg.norm(result.matrix - k0) / np.linalg.norm(k0)))
            outputs = result.outputs
        else:
            from ._ntk import _operator_values, default_operator, get_operator

            op = get_operator(self.operator or default_operator(model))
            outputs = np.asarray(_operator_values(model, self.states, op)).reshape(-1)
        self.steps.append(step)
        if self.targets is not None:
            residual = outputs - self.targets.reshape(-1)
            self.coefficients.append(self.spectrum0.project(residual))
