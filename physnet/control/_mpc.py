r"""Model-predictive control by gradient through a rollout of a (learned) model.

At every sample t_i the controller plans P zero-order-hold pieces u_0..u_{P-1} of length
``period`` by minimising the predicted cost

.. math:: J(v) = \Delta \sum_{k=1}^{P} \ell\bigl(\hat y(t_i + k\Delta), u_{k-1}\bigr),
    \qquad u_k = \bar u \tanh v_k,

with ŷ the model's :func:`~physnet.evaluation.rollout` from the measured state under the
held pieces (:meth:`~physnet.signals.Interpolated.held`), by ``iterations`` Adam steps on v
(the tanh keeps |u| < ū); it applies u_0 and starts the next plan from the shifted one
(receding horizon with a warm start).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax import Array

from .._checks import integer, number
from ..evaluation import rollout
from ..signals import Interpolated
from ._base import AbstractController, controlled_field


def quadratic_cost(target, q, r, *, periodic: tuple[int, ...] = ()) -> Callable:
    """The stage cost ℓ(y, u) = eᵀQe + uᵀRu, e = y - target, smooth in the angles.

    Each angle coordinate of e (``periodic``) is replaced by 2 sin(e/2) (smooth, 2π-periodic,
    equal to e to second order).

    Args:
        target: ``(d,)``; q: ``(d, d)`` or ``(d,)`` (a diagonal); r: ``(m, m)`` or ``(m,)``.
    """
    target = jnp.asarray(target, jnp.float64)
    q, r = jnp.asarray(q, jnp.float64), jnp.asarray(r, jnp.float64)
    q, r = (jnp.diag(w) if w.ndim == 1 else w for w in (q, r))
    index = jnp.asarray(periodic, dtype=int)

    def cost(y: Array, u: Array) -> Array:
        e = y - target
        if periodic:
            e = e.at[index].set(2.0 * jnp.sin(e[index] / 2.0))
        return e @ q @ e + u @ r @ u

    return cost


class MPC(AbstractController):
    """Receding-horizon control through ``rollout`` of a model (see the module's docstring).

    Args:
        model: a model with an input port (``NeuralODE(..., input_size=m)``, a port-HNN) or
            a system with an input (its true field).
        cost: the stage cost ``cost(y, u) -> scalar`` (:func:`quadratic_cost`).
        period: Δ, the length of a piece (the controller's sampling period).
        horizon: P pieces.
        bound: ū > 0.
        iterations: Adam steps per sample.
        learning_rate: Adam's step size (on v).
        substeps: RK4 steps per piece in the prediction.

    Raises:
        ConfigError: for a model without an input port or invalid settings.
    """

    def __init__(
        self,
        model,
        cost: Callable,
        *,
        period: float,
        horizon: int,
        bound: float,
        iterations: int = 30,
        learning_rate: float = 0.1,
        substeps: int = 2,
    ):
        self.model, self.input_size = controlled_field("MPC", model)
        self.cost = cost
        self.period = number("MPC", "period", period, positive=True)
        self.horizon = integer("MPC", "horizon", horizon, low=1)
        self.bound = number("MPC", "bound", bound, positive=True)
        self.iterations = integer("MPC", "iterations", iterations, low=1)
        self.learning_rate = number("MPC", "learning_rate", learning_rate, positive=True)
        self.substeps = integer("MPC", "substeps", substeps, low=1)

    def inputs(self, v: Array) -> Array:
        """The pieces u = ū tanh(v) ``(P, m)``."""
        return self.bound * jnp.tanh(v)

    def predicted_cost(self, t, y: Array, v: Array) -> Array:
        """J(v) from the state ``y`` at time ``t``."""
        knots = t + self.period * jnp.arange(self.horizon + 1, dtype=jnp.float64)
        u = self.inputs(v)
        ys = rollout(
            self.model, y, knots, substeps=self.substeps, inputs=Interpolated.held(knots, u)
        )
        return self.period * jnp.sum(jax.vmap(self.cost)(ys[1:], u))

    def plan(self, t, y: Array, v: Array) -> Array:
        """``iterations`` Adam steps on the plan ``v`` ``(P, m)`` from the state ``y``."""
        optimizer = optax.adam(self.learning_rate)
        grad = jax.grad(lambda v: self.predicted_cost(t, y, v))

        def update(_, carry):
            v, state = carry
            updates, state = optimizer.update(grad(v), state, v)
            return optax.apply_updates(v, updates), state

        v, _ = jax.lax.fori_loop(0, self.iterations, update, (v, optimizer.init(v)))
        return v

    def init(self, y0: Array) -> Array:
        return jnp.zeros((self.horizon, self.input_size), dtype=jnp.float64)

    def step(self, t, y: Array, memory: Array) -> tuple[Array, Array]:
        v = self.plan(t, y, memory)
        return self.inputs(v)[0], jnp.concatenate([v[1:], v[-1:]])
