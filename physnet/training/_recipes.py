"""Named training recipes: an optimizer (and a step count) that reaches a given accuracy in the
least wall time on physnet's benchmark problems (see ``benchmarks/bench_time_to_accuracy.py``).

``pn.fit(model, data, steps=..., optimizer="fast")`` and ``physnet train --preset fast`` use
:data:`RECIPES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from .._errors import ConfigError


class _SwitchState(NamedTuple):
    count: jax.Array
    adam: optax.OptState
    # the L-BFGS state's leaves, kept as a plain list so that ``value`` and ``grad`` below are
    # the only ones the training loop finds (``optax.value_and_grad_from_state``)
    lbfgs_leaves: list
    # the loss and gradient at the current parameters from L-BFGS's line search; ``value`` is
    # inf during the Adam phase and before the first L-BFGS step (they are then recomputed)
    value: jax.Array
    grad: optax.Updates


def adam_then_lbfgs(
    adam_steps: int = 50, learning_rate: float = 1e-2, memory_size: int = 10
) -> optax.GradientTransformationExtraArgs:
    r"""Adam for ``adam_steps`` steps, then L-BFGS (``optax.lbfgs`` with its zoom line search),
    as ONE optax optimizer, so a single :func:`physnet.fit` call (one compilation) runs both.

    Adam's learning rate warms up linearly from ``learning_rate/10`` over the first 5 % of its
    steps and decays by a cosine to ``learning_rate/300`` at ``adam_steps``
    (:func:`~physnet.training.make_optimizer`'s ``"warmup-cosine"``). Adam finds the basin
    cheaply; L-BFGS then converges fast on the smooth, full-batch loss. A ``lax.cond`` on the
    step count picks the branch, so each step runs only one of the two updates. Full batch
    only (L-BFGS needs the loss on the same batch as the gradient).

    Args:
        adam_steps: the number of Adam steps before L-BFGS takes over (>= 1).
        learning_rate: Adam's peak learning rate.
        memory_size: L-BFGS's number of stored updates.

    Returns:
        An optax ``GradientTransformationExtraArgs`` (call ``update`` with ``value``, ``grad``
        and ``value_fn``, as :func:`physnet.fit` does).

    Raises:
        ConfigError: on a non-positive ``adam_steps`` or ``learning_rate``.

    Reference: Liu & Nocedal 1989 (L-BFGS); Kingma & Ba 2015 (Adam).
    """
    if not isinstance(adam_steps, int) or isinstance(adam_steps, bool) or adam_steps < 1:
        raise ConfigError(
            f"adam_then_lbfgs: adam_steps must be a positive integer, got {adam_steps!r}"
        )
    if not (isinstance(learning_rate, int | float) and learning_rate > 0):
        raise ConfigError(f"adam_then_lbfgs: learning_rate must be > 0, got {learning_rate!r}")
    schedule = optax.warmup_cosine_decay_schedule(
        learning_rate / 10, learning_rate, max(1, adam_steps // 20), adam_steps, learning_rate / 300
    )
    adam = optax.with_extra_args_support(optax.adam(schedule))
    lbfgs = optax.lbfgs(memory_size=memory_size)

    def lbfgs_structure(params):  # abstract evaluation: no arrays made, no side effects
        return jax.tree.structure(jax.eval_shape(lbfgs.init, params))

    def init(params):
        leaves = jax.tree.leaves(lbfgs.init(params))
        dtype = jnp.result_type(*jax.tree.leaves(params))
        unknown = jnp.asarray(jnp.inf, dtype)
        return _SwitchState(
            jnp.asarray(0, jnp.int32),
            adam.init(params),
            leaves,
            unknown,
            optax.tree.zeros_like(params),
        )

    def update(updates, state, params=None, **extra):
        lbfgs_state = jax.tree.unflatten(lbfgs_structure(params), state.lbfgs_leaves)

        def with_adam(_):
            new, adam_state = adam.update(updates, state.adam, params, **extra)
            return new, adam_state, lbfgs_state, jnp.full_like(state.value, jnp.inf), state.grad

        def with_lbfgs(_):
            new, lbfgs_new = lbfgs.update(
                updates,
                lbfgs_state,
                params,
                value=extra["value"],
                grad=extra.get("grad", updates),
                value_fn=extra["value_fn"],
            )
            # the line search's loss and gradient at the accepted step: the next step's own
            value = optax.tree.get(lbfgs_new, "value").astype(state.value.dtype)
            grad = optax.tree.get(lbfgs_new, "grad")
            return new, state.adam, lbfgs_new, value, grad

        new, adam_state, lbfgs_state, value, grad = jax.lax.cond(
            state.count < adam_steps, with_adam, with_lbfgs, None
        )
        leaves = jax.tree.leaves(lbfgs_state)
        return new, _SwitchState(state.count + 1, adam_state, leaves, value, grad)

    return optax.GradientTransformationExtraArgs(init, update)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named training recipe.

    Attributes:
        name: its name (``pn.fit(..., optimizer=name)``, ``physnet train --preset name``).
        steps: the default number of optimizer steps.
        optimizer: ``optimizer(steps) -> optax optimizer``.
        description: one line.
    """

    name: str
    steps: int
    optimizer: Callable[[int], optax.GradientTransformation]
    description: str


RECIPES: dict[str, Recipe] = {}


def _register(recipe: Recipe) -> None:
    RECIPES[recipe.name] = recipe


_register(
    Recipe(
        "fast",
        1000,
        lambda steps: adam_then_lbfgs(min(50, max(1, steps // 2)), 1e-2),
        "50 Adam steps (warm-up-cosine, peak 1e-2), then L-BFGS; full batch",
    )
)


def recipe_optimizer(name: str, steps: int) -> optax.GradientTransformation:
    """The optimizer of recipe ``name`` for ``steps`` steps; ConfigError for an unknown name."""
    if name not in RECIPES:
        raise ConfigError(
            f"unknown training recipe {name!r}; choose one of {', '.join(RECIPES)} or pass an "
            "optax optimizer"
        )
    return RECIPES[name].optimizer(steps)
