"""The compiled programs of training, keyed by values: :class:`ChunkSpec` is the static
argument of :data:`run_chunk` (one module-level ``jax.jit``), so JAX's own cache serves an equal
spec the executable it compiled before; :func:`loss_evaluator` likewise for the test loss."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
from flax import nnx

from ._step import build_optimizer, make_train_chunk, over_members


@dataclasses.dataclass(frozen=True)
class ChunkSpec:
    """Everything that shapes a compiled training chunk, as one hashable value.

    Everything that shapes a compiled training chunk, as one hashable value: the static
    argument of :func:`run_chunk`, so JAX's own cache serves an equal spec (with arguments
    of equal shapes) the executable it compiled before, in this process or (with the
    persistent compilation cache) another.

    Attributes:
        graphdef: the model's ``nnx.GraphDef`` (hashable by value).
        loss: the loss (a frozen dataclass, equal by value; any other object by identity).
        optimizer: a resolved :class:`~physnet.training.OptimizerSpec` (by value) or an optax
            optimizer (by identity).
        batch_size: minibatch size, or None for full batch.
        max_length: the most steps one call runs.
        max_param_norm: see :func:`make_train_chunk`.
        members: None for one model; else the number of ensemble members (the state is
            stacked over them, see :func:`over_members`).
        member_batch_size: see :func:`over_members`.
    """

    graphdef: Any
    loss: Any
    optimizer: Any
    batch_size: int | None
    max_length: int
    max_param_norm: float | None = None
    members: int | None = None
    member_batch_size: int | None = None


def _chunk_program(state, rest, batch, key, start, length, in_chunk=(), *, spec: ChunkSpec):
    """Run one compiled chunk of training steps.

    Run steps ``start, ..., start + length - 1`` of the chunk that ``spec`` describes
    (:func:`make_train_chunk`, over members when ``spec.members`` is set); ``in_chunk`` are the
    :class:`~physnet.training.CompiledHook` s (pytrees: their arrays are arguments, their
    options part of the compiled program's key). Returns ``(state, losses)``, or ``(state,
    rest, losses)`` with ``in_chunk``."""
    chunk = make_train_chunk(
        spec.loss,
        spec.graphdef,
        build_optimizer(spec.optimizer),
        batch_size=spec.batch_size,
        max_length=spec.max_length,
        max_param_norm=spec.max_param_norm,
        in_chunk=in_chunk,
    )
    if spec.members is not None:
        chunk = over_members(chunk, spec.members, spec.member_batch_size)
    return chunk(state, rest, batch, key, start, length)


run_chunk = jax.jit(_chunk_program, static_argnames="spec")
"""Run one compiled chunk of training steps (a module-level ``jax.jit``)."""
run_chunk.__doc__ = _chunk_program.__doc__


def bind_static(jitted, fn, **static) -> Callable:
    """``jitted`` (a module-level ``jax.jit`` of ``fn`` with ``static`` as static arguments)
    with ``static`` bound: JAX's cached program for hashable values; for values that cannot
    be hashed (a model whose graph holds a list, a loss with an unhashable field), ``fn``
    compiled for this binding only (``jax.jit`` of a fresh function). Bind once per fit, not
    per call: the hash is taken here."""
    try:
        hash(tuple(static.values()))
    except TypeError:
        return jax.jit(functools.partial(fn, **static))
    return functools.partial(jitted, **static)


def chunk_for(spec: ChunkSpec) -> Callable:
    """``run_chunk`` with ``spec`` bound (:func:`bind_static`)."""
    return bind_static(run_chunk, _chunk_program, spec=spec)


def _loss_program(params, rest, batch, *, graphdef, loss, members: bool = False):
    def one(params, rest):
        return loss(nnx.merge(graphdef, params, rest), batch)

    return jax.vmap(one)(params, rest) if members else one(params, rest)


_evaluate_loss = jax.jit(_loss_program, static_argnames=("graphdef", "loss", "members"))


def loss_evaluator(*, graphdef, loss, members: bool = False) -> Callable:
    """``(params, rest, batch) -> loss(model, batch)`` of the model ``graphdef`` holding
    ``params`` and ``rest`` (per member, vmapped, with ``members``): the test loss between
    chunks, compiled once per model structure, loss and batch shape (:func:`bind_static`)."""
    return bind_static(_evaluate_loss, _loss_program, graphdef=graphdef, loss=loss, members=members)
