"""Optimizers as values: Adam with a constant or warm-up-cosine rate, Adam then L-BFGS.

An *optimizer spec* is a frozen dataclass that builds an optax optimizer (:meth:`build`): equal
specs build the same optimizer, hash alike (so the compiled training chunk, which takes the
spec as a static argument, is reused across calls) and round-trip through JSON (run configs
store them). Any optax ``GradientTransformation`` is accepted wherever a spec is; it is then
compared by identity (JAX's rule for static arguments): the same object reuses the compiled
chunk, one built afresh (``optax.adam(1e-3)`` in a loop) compiles it again.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .._checks import choice, integer, known_options, number, optional
from .._errors import ConfigError

SCHEDULES = ("constant", "warmup-cosine")
"""The learning-rate schedules of :class:`Adam`."""


def make_optimizer(
    learning_rate: float, steps: int, schedule: str = "constant"
) -> optax.GradientTransformation:
    """Adam at ``learning_rate`` with a constant or a warm-up-cosine schedule.

    ``"constant"`` is the source's setting. ``"warmup-cosine"`` is physnet's recommendation:
    linear warm-up from lr/10 to lr over the first 5 % of the steps, then cosine decay to
    lr/300; it tolerates a larger peak rate than a constant schedule, and its small final rate
    lets the fit settle. :class:`Adam` is the same optimizer as a value.

    Args:
        learning_rate: the (peak) learning rate.
        steps: the number of optimizer steps the schedule spans.
        schedule: one of :data:`SCHEDULES`.

    Returns:
        An optax optimizer.

    Raises:
        ConfigError: on an unknown ``schedule``.
    """
    if schedule == "constant":
        return optax.adam(learning_rate)
    if schedule == "warmup-cosine":
        lr = optax.warmup_cosine_decay_schedule(
            learning_rate / 10, learning_rate, max(1, steps // 20), steps, learning_rate / 300
        )
        return optax.adam(lr)
    raise ConfigError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


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
    r"""Adam for some steps, then L-BFGS, as one optax optimizer.

    Adam for ``adam_steps`` steps, then L-BFGS (``optax.lbfgs`` with its zoom line search),
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
    integer("adam_then_lbfgs", "adam_steps", adam_steps, low=1)
    number("adam_then_lbfgs", "learning_rate", learning_rate, positive=True)
    warmup = max(1, adam_steps // 20)
    schedule = optax.warmup_cosine_decay_schedule(  # a fit of 1 step (1 Adam step) too
        learning_rate / 10, learning_rate, warmup, max(adam_steps, warmup + 1), learning_rate / 300
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


class OptimizerSpec(abc.ABC):
    """A frozen dataclass that builds an optax optimizer (see the module docstring).

    Subclasses set :attr:`name` (their key in :data:`OPTIMIZERS` and in JSON) and implement
    :meth:`build`; :meth:`resolve` fills options that default to the fit's step count.
    """

    name: ClassVar[str]

    def resolve(self, steps: int) -> OptimizerSpec:
        """This spec with the options that depend on the number of ``steps`` filled in."""
        return self

    @abc.abstractmethod
    def build(self) -> optax.GradientTransformation:
        """The optax optimizer (call after :meth:`resolve`)."""


@dataclasses.dataclass(frozen=True)
class Adam(OptimizerSpec):
    """The Adam optimizer spec, with an optional learning-rate schedule.

    Adam (:func:`make_optimizer`): ``learning_rate`` with a ``schedule`` of
    :data:`SCHEDULES` spanning ``decay_steps`` (default: the fit's steps)."""

    name: ClassVar[str] = "adam"
    learning_rate: float = 1e-3
    schedule: str = "constant"
    decay_steps: int | None = None

    def __post_init__(self):
        number("Adam", "learning_rate", self.learning_rate, positive=True)
        choice("Adam", "schedule", self.schedule, SCHEDULES)
        optional(integer, "Adam", "decay_steps", self.decay_steps, low=1)

    def resolve(self, steps: int) -> Adam:
        if self.schedule == "constant" or self.decay_steps is not None:
            return self
        return dataclasses.replace(self, decay_steps=max(1, int(steps)))

    def build(self) -> optax.GradientTransformation:
        return make_optimizer(self.learning_rate, self.decay_steps or 1, self.schedule)


@dataclasses.dataclass(frozen=True)
class AdamThenLBFGS(OptimizerSpec):
    """The optimizer spec of Adam for some steps, then L-BFGS.

    :func:`~physnet.training.adam_then_lbfgs`: ``adam_steps`` Adam steps (default
    ``min(50, max(1, steps // 2))`` of the fit's steps), then L-BFGS; full batch."""

    name: ClassVar[str] = "adam-lbfgs"
    adam_steps: int | None = None
    learning_rate: float = 1e-2
    memory_size: int = 10

    def __post_init__(self):
        optional(integer, "AdamThenLBFGS", "adam_steps", self.adam_steps, low=1)
        number("AdamThenLBFGS", "learning_rate", self.learning_rate, positive=True)
        integer("AdamThenLBFGS", "memory_size", self.memory_size, low=1)

    def resolve(self, steps: int) -> AdamThenLBFGS:
        if self.adam_steps is not None:
            return self
        return dataclasses.replace(self, adam_steps=min(50, max(1, int(steps) // 2)))

    def build(self) -> optax.GradientTransformation:
        return adam_then_lbfgs(self.adam_steps or 50, self.learning_rate, self.memory_size)


OPTIMIZERS: dict[str, type[OptimizerSpec]] = {
    Adam.name: Adam,
    AdamThenLBFGS.name: AdamThenLBFGS,
}
"""The optimizer specs by name (their JSON ``"name"``)."""


def optimizer_to_json(spec: OptimizerSpec) -> dict:
    """``{"name": NAME, OPTION: VALUE, ...}`` of an optimizer spec.

    Raises:
        ConfigError: for an optax object (it has no JSON form; pass a spec).
    """
    if not isinstance(spec, OptimizerSpec) or OPTIMIZERS.get(spec.name) is not type(spec):
        raise ConfigError(
            f"the optimizer {spec!r} is not one of physnet's optimizer specs "
            f"({', '.join(OPTIMIZERS)}), so it cannot be stored in a run config"
        )
    return {"name": spec.name, **dataclasses.asdict(spec)}


def optimizer_from_json(spec: Any) -> OptimizerSpec:
    """The optimizer spec of :func:`optimizer_to_json`'s dict."""
    if not isinstance(spec, dict) or spec.get("name") not in OPTIMIZERS:
        raise ConfigError(
            f"a stored optimizer must be a dict with one of the names {', '.join(OPTIMIZERS)}, "
            f"got {spec!r}"
        )
    cls = OPTIMIZERS[spec["name"]]
    options = {k: v for k, v in spec.items() if k != "name"}
    known = sorted(f.name for f in dataclasses.fields(cls))
    known_options(f"the stored {spec['name']} optimizer", options, known)
    return cls(**options)
