"""One training step and its state: :class:`TrainState`, :func:`make_train_chunk` (up to
``max_length`` optimizer steps in one loop), :func:`over_members` for ensembles."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ._optimizers import OptimizerSpec


def build_optimizer(optimizer) -> optax.GradientTransformation:
    """The optax optimizer of a (resolved) :class:`OptimizerSpec`, or ``optimizer`` itself."""
    return optimizer.build() if isinstance(optimizer, OptimizerSpec) else optimizer


@functools.partial(jax.jit, static_argnames="optimizer")
def _init_optimizer(params, *, optimizer):
    """The optimizer's initial state as one compiled program (rather than one small program
    per array it makes); cached by JAX for equal specs (an optax object: the same object)."""
    return _strong(build_optimizer(optimizer).init(params))


def _strong(tree):
    """``tree`` without weak types: what a compiled chunk returns for it, so that the first
    chunk call and the later ones (fed the chunk's outputs) share one compiled program."""
    return jax.tree.map(lambda x: jax.lax.convert_element_type(x, jnp.result_type(x)), tree)


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class TrainState:
    """Everything a training step carries, as one pytree.

    For an ensemble every leaf has a leading member axis (``jax.vmap`` over the state).

    Attributes:
        params: the trained parameters (the ``nnx.Param`` state of the model).
        opt_state: the optax optimizer state.
        last_good: the parameters of the last step whose loss and gradient were finite; a
            non-finite step restores them.
        stopped: ``True`` once a step's loss or gradient was non-finite; later steps leave the
            state unchanged.
        step: the number of optimizer updates applied; after a divergence, the 0-based index
            of the step that diverged.
    """

    params: Any
    opt_state: Any
    last_good: Any
    stopped: Array
    step: Array

    @classmethod
    def create(cls, params, optimizer, opt_state=None) -> TrainState:
        """A fresh state at ``params`` for ``optimizer`` (an optax optimizer or a resolved
        :class:`~physnet.training.OptimizerSpec`); ``opt_state`` default: the optimizer's
        init, run as one compiled program."""
        if opt_state is not None:  # carried over: its stored loss may be of other data
            opt_state = forget_stored_value(opt_state)
        elif any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(params)):
            # inside a trace (vmap over members): traced anyway
            opt_state = _strong(build_optimizer(optimizer).init(params))
        else:
            try:
                opt_state = _init_optimizer(params, optimizer=optimizer)
            except (jax.errors.JAXTypeError, TypeError):  # not traceable or not hashable
                opt_state = _strong(build_optimizer(optimizer).init(params))
        step = jnp.zeros((), jnp.int_)  # not weakly typed: the chunk returns it strong
        return cls(params, opt_state, params, jnp.asarray(False), step)

    @property
    def diverged_at(self) -> Array:
        """The step whose loss was first non-finite, or -1."""
        return jnp.where(self.stopped, self.step, -1)


def _all_finite(tree) -> Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _select(pred, a, b):
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)


def n_samples(batch) -> int:
    """The common length of axis 0 of the arrays in ``batch``."""
    sizes = {int(x.shape[0]) for x in jax.tree.leaves(batch)}
    if len(sizes) != 1:
        raise ConfigError(f"loss batch arrays disagree on the number of samples: {sorted(sizes)}")
    return sizes.pop()


def forget_stored_value(opt_state):
    """``opt_state`` with a stored loss value (a line search's, see
    :func:`_stores_value_and_grad`) set to inf, so the next step recomputes the loss and
    gradient: for parameters or data changed since it was stored."""
    if not _stores_value_and_grad(opt_state):
        return opt_state
    value = optax.tree.get(opt_state, "value")
    return optax.tree.set(opt_state, value=jnp.full_like(value, jnp.inf))


def _stores_value_and_grad(opt_state) -> bool:
    """Whether the optimizer state holds the loss and gradient at the current parameters
    (optax's line searches, e.g. in ``optax.lbfgs``), so a step need not recompute them."""
    try:
        return (
            optax.tree.get(opt_state, "value") is not None
            and optax.tree.get(opt_state, "grad") is not None
        )
    except (KeyError, ValueError):  # several candidates: recompute
        return False


def make_train_chunk(
    loss: Callable,
    graphdef,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int | None,
    max_length: int,
    max_param_norm: float | None = None,
    in_chunk: Sequence = (),
):
    """The compiled unit of training: up to ``max_length`` optimizer steps in one loop.

    The returned ``chunk(state, rest, batch, key, start, length) -> (state, losses)`` runs
    steps ``start, ..., start + length - 1`` (``length <= max_length`` may change between
    calls without recompiling) on the :class:`TrainState` ``state``; ``rest`` is the
    model's non-trained state. Each step evaluates the loss ``loss(model, sub)`` on the full
    ``batch`` or on a minibatch ``sub`` of ``batch_size`` samples drawn without replacement with
    ``fold_in(key, step)``, and calls ``optimizer.update(grad, opt_state, params, value=...,
    grad=..., value_fn=...)`` (optax's extra arguments, so line-search optimizers such as
    ``optax.lbfgs`` work; ``value_fn`` is the loss on the same (mini)batch). Full batch, with
    an optimizer whose state stores the value and gradient at the new parameters (a line
    search), these are reused instead of recomputed (``optax.value_and_grad_from_state``). A
    step whose loss or gradient is non-finite, or whose parameters have a global L2 norm above
    ``max_param_norm`` (a blow-up a saturated activation can hide from the loss), restores
    ``state.last_good`` and sets ``state.stopped``; steps after that change nothing. ``losses`` has shape
    ``(max_length,)``: the loss before each step, NaN where no step ran.

    With ``in_chunk`` (:class:`~physnet.training.CompiledHook` s, e.g. a KAN
    :class:`~physnet.training.GridUpdate`), before each step whose ``hook.due(step)`` holds,
    ``hook.apply(model)`` changes the model inside the loop (a ``lax.cond``: no host round
    trip, no recompilation), its parameters become ``last_good``, a stored line-search value
    is forgotten (:func:`forget_stored_value`, as for a host hook), and the chunk returns
    ``(state, rest, losses)`` (the non-trained state, e.g. KAN grids, changes too).
    """
    optimizer = optax.with_extra_args_support(optimizer)
    in_chunk = tuple(in_chunk)

    def apply_hooks(step, state, rest):
        for hook in in_chunk:

            def run(state, rest, hook=hook):
                model = nnx.merge(graphdef, state.params, rest)
                hook.apply(model)
                _, params, new_rest = nnx.split(model, nnx.Param, ...)
                opt_state = forget_stored_value(state.opt_state)  # of the parameters before
                state = dataclasses.replace(
                    state, params=params, last_good=params, opt_state=opt_state
                )
                return state, new_rest

            state, rest = jax.lax.cond(
                hook.due(step), run, lambda state, rest: (state, rest), state, rest
            )
        return state, rest

    def loss_fn(params, rest, batch):
        return loss(nnx.merge(graphdef, params, rest), batch)

    grad_fn = jax.value_and_grad(loss_fn)

    def chunk(state: TrainState, rest_in, batch, key, start, length):
        n = n_samples(batch)
        reuse = batch_size is None and _stores_value_and_grad(state.opt_state)

        def body(i, carry):
            # the non-trained state is carried only when compiled hooks change it
            state, losses, rest = carry if in_chunk else (*carry, rest_in)
            step = start + i
            if in_chunk:
                state, rest = apply_hooks(step, state, rest)
            if batch_size is None:
                sub = batch
            else:
                idx = jax.random.choice(
                    jax.random.fold_in(key, step), n, (batch_size,), replace=False
                )
                sub = jax.tree.map(lambda x: x[idx], batch)

            def value_fn(params):
                return loss_fn(params, rest, sub)

            if reuse:
                value, grads = optax.value_and_grad_from_state(value_fn)(
                    state.params, state=state.opt_state
                )
            else:
                value, grads = grad_fn(state.params, rest, sub)
            active = ~state.stopped
            finite = jnp.isfinite(value) & _all_finite(grads)
            updates, new_opt_state = optimizer.update(
                grads, state.opt_state, state.params, value=value, grad=grads, value_fn=value_fn
            )
            new_params = optax.apply_updates(state.params, updates)
            if max_param_norm is not None:  # a blow-up a saturated activation hides from the loss
                finite = finite & (optax.tree.norm(state.params) <= max_param_norm)
            ok = active & finite
            diverged = active & ~finite
            state = TrainState(
                params=_select(ok, new_params, _select(diverged, state.last_good, state.params)),
                opt_state=_select(ok, new_opt_state, state.opt_state),
                last_good=_select(ok, state.params, state.last_good),
                stopped=state.stopped | diverged,
                step=state.step + ok.astype(state.step.dtype),
            )
            losses = losses.at[i].set(jnp.where(active, value, jnp.nan))
            return (state, losses, rest) if in_chunk else (state, losses)

        dtype = jnp.result_type(*jax.tree.leaves(state.params))
        losses = jnp.full((max_length,), jnp.nan, dtype=dtype)
        if not in_chunk:
            return jax.lax.fori_loop(0, length, body, (state, losses))
        state, losses, rest = jax.lax.fori_loop(0, length, body, (state, losses, rest_in))
        return state, rest, losses

    return chunk


def over_members(chunk, members: int, member_batch_size: int | None):
    """``chunk`` over a :class:`TrainState` stacked over ``members`` (with ``rest`` and ``key``
    per member, the data shared): all members vmapped at once (``member_batch_size`` None or
    >= ``members``), or ``lax.map`` over groups of ``member_batch_size`` vmapped members."""
    vmapped = jax.vmap(chunk, in_axes=(0, 0, None, 0, None, None))
    if member_batch_size is None or member_batch_size >= members:
        return vmapped

    def mapped(state, rest, batch, keys, start, length):
        def one(xs):
            s, r, k = xs
            return chunk(s, r, batch, k, start, length)

        return jax.lax.map(
            one,
            (state, rest, keys),
            batch_size=None if member_batch_size == 1 else member_batch_size,
        )

    return mapped
