"""The one training loop: a :class:`TrainState`, a compiled chunk of steps, hooks between chunks.

:func:`physnet.fit`, :func:`physnet.fit_ensemble` and :func:`~physnet.training.fit_function`
all run :func:`drive`: optimizer steps in compiled chunks (one ``lax.fori_loop`` of up to
``chunk_size`` steps per call), and between chunks Python calls the hooks (progress, test
loss, KAN grid updates, early stopping, user hooks).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ._hooks import CompiledHook, Hook
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


@dataclasses.dataclass(frozen=True)
class ChunkSpec:
    """Everything that shapes a compiled training chunk, as one hashable value: the static
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


def _chunk_program(spec: ChunkSpec, state, rest, batch, key, start, length, in_chunk=()):
    """Run steps ``start, ..., start + length - 1`` of the chunk that ``spec`` describes
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


#: the training chunk, compiled once per equal :class:`ChunkSpec` and argument shapes
run_chunk = jax.jit(_chunk_program, static_argnums=0)
run_chunk.__doc__ = _chunk_program.__doc__


def chunk_for(spec: ChunkSpec) -> Callable:
    """``run_chunk`` with ``spec`` bound: JAX's cached program for a hashable spec; for a
    spec that cannot be hashed (a model whose graph holds a list, a loss with an unhashable
    field), a program compiled for this call only (as ``jax.jit`` of a fresh function)."""
    try:
        hash(spec)
    except TypeError:
        return jax.jit(functools.partial(_chunk_program, spec))
    return functools.partial(run_chunk, spec)


def _loss_program(params, rest, batch, *, graphdef, loss, members: bool = False):
    def one(params, rest):
        return loss(nnx.merge(graphdef, params, rest), batch)

    return jax.vmap(one)(params, rest) if members else one(params, rest)


_evaluate_loss = jax.jit(_loss_program, static_argnames=("graphdef", "loss", "members"))


def evaluate_loss(params, rest, batch, *, graphdef, loss, members: bool = False):
    """``loss(model, batch)`` of the model ``graphdef`` holding ``params`` and ``rest`` (per
    member, vmapped, with ``members``): the test loss between chunks, compiled once per
    model structure, loss and batch shape (per call, when those cannot be hashed)."""
    options = dict(graphdef=graphdef, loss=loss, members=members)
    try:
        hash((graphdef, loss))
    except TypeError:
        return jax.jit(functools.partial(_loss_program, **options))(params, rest, batch)
    return _evaluate_loss(params, rest, batch, **options)


def plan_chunks(
    steps: int, chunk_size: int, boundaries: Sequence[int] = ()
) -> list[tuple[int, int]]:
    """``(start, length)`` of each chunk: the steps are cut at every boundary in (0, steps),
    and each piece into near-equal chunks of at most ``chunk_size`` steps."""
    cuts = sorted({0, steps, *(int(b) for b in boundaries if 0 < b < steps)})
    plan = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=False):
        pieces = math.ceil((b - a) / chunk_size)
        size = math.ceil((b - a) / pieces)
        plan.extend((s, min(size, b - s)) for s in range(a, b, size))
    return plan


@dataclasses.dataclass
class Outcome:
    """What :func:`drive` returns.

    Attributes:
        state: the final :class:`TrainState` (``params`` are the last finite ones).
        rest: the model's non-trained state (changed only by hooks).
        train_loss: ``(steps,)`` or ``(members, steps)``; NaN after a member diverged.
        diverged_at: ``()`` or ``(members,)``: the step that diverged, or -1.
        last_finite: the last finite loss before ``diverged_at`` (NaN if none).
        train_seconds, compile_seconds: wall times of the chunks and of their compilation.
        interrupted: the step after which Ctrl-C (SIGINT) stopped training, or None.
        checkpoint_seconds: wall time spent writing training checkpoints.
    """

    state: TrainState
    rest: Any
    train_loss: np.ndarray
    diverged_at: np.ndarray
    last_finite: np.ndarray
    train_seconds: float = 0.0
    compile_seconds: float = 0.0
    interrupted: int | None = None
    checkpoint_seconds: float = 0.0


@dataclasses.dataclass
class Checkpointing:
    """Where and how often :func:`drive` saves the training state (see
    :mod:`physnet.training._resume`).

    Attributes:
        path: the training checkpoint file (``.npz``), rewritten atomically each time.
        every: save after every ``every`` steps (chunks end there); None: only when training
            ends, diverges or is interrupted.
        fingerprint: facts a resumed training must share (checked on resume).
        resume: a :class:`~physnet.training._resume.Restored` to continue from, or None.
    """

    path: Any
    every: int | None = None
    fingerprint: dict = dataclasses.field(default_factory=dict)
    resume: Any = None


class _SigintFlag:
    """While active, the first Ctrl-C (SIGINT) only sets ``raised`` (checked between chunks,
    so it is never lost inside compiled code or a callback); a second one interrupts at once."""

    def __init__(self):
        self.raised = False
        self._previous = None

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        import signal

        self.raised = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc):
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


@dataclasses.dataclass
class Host:
    """What :func:`drive` runs in Python between chunks.

    Attributes:
        hooks: callables ``hook(step, model, history)`` (internal ones such as the test loss
            and progress bar first, then the config's); :class:`CompiledHook` s among them
            run inside the chunk instead.
        history: the caller's history object (``train_loss`` so far is set before hooks run).
        sync: ``sync(params, rest) -> model``, the user's model holding the current state.
        read: ``read() -> (params, rest)`` after the hooks (parameters a hook replaced become
            the new ``last_good``); None when no hook changes the model.
        stop_on_divergence: stop at the end of the chunk in which a step diverged (single
            models) or go on (ensembles: the other members continue).
    """

    hooks: Sequence = ()
    history: Any = None
    sync: Callable[[Any, Any], Any] | None = None
    read: Callable[[], tuple[Any, Any]] | None = None
    stop_on_divergence: bool = True


def drive(
    spec: ChunkSpec,
    state: TrainState,
    rest,
    batch,
    key,
    *,
    steps: int,
    chunk_size: int,
    host: Host,
    checkpointing: Checkpointing | None = None,
) -> Outcome:
    """Run ``steps`` optimizer steps on ``state``, calling ``host.hooks`` between chunks.

    The chunk is :func:`run_chunk` with ``spec`` (its ``max_length`` set to the longest chunk of
    the plan, :func:`plan_chunks`): one module-level ``jax.jit`` keyed by the spec and the
    argument shapes, so a later call with an equal spec runs the executable JAX compiled
    before (no tracing, no compilation). :class:`~physnet.training.CompiledHook` s among the
    hooks run inside it.

    Hooks run before the first chunk (step 0) and after every chunk, with ``(step, model,
    history)``: ``model = host.sync(params, rest)`` (the user's model holding the current
    parameters), ``history`` the caller's history object with ``train_loss`` so far. A hook
    returning ``True`` stops training. A :class:`Hook` may demand chunk boundaries
    (:meth:`Hook.boundaries`). If ``host.read`` is given, the model is read back after the
    hooks; parameters a hook replaced (e.g. a KAN grid update) become the new ``last_good``.

    With ``checkpointing``, the state (after the hooks) is saved every ``every`` steps, when
    training ends, diverges or is interrupted; with ``checkpointing.resume``, training
    continues from the restored state at its step with the same chunk plan, so the result is
    the uninterrupted run's to the bit. Ctrl-C (SIGINT) during training is handled at the end
    of the running chunk: the state is saved and ``Outcome.interrupted`` set.
    """
    ck = checkpointing
    hooks, history, sync, read = host.hooks, host.history, host.sync, host.read
    in_chunk = tuple(h for h in hooks if isinstance(h, CompiledHook))
    boundaries = [b for h in hooks if isinstance(h, Hook) for b in h.boundaries(steps)]
    if ck is not None and ck.every:
        boundaries += list(range(ck.every, steps, ck.every))
    done = 0
    seen: list[np.ndarray] = []
    if ck is not None and ck.resume is not None:
        r = ck.resume
        state, rest, key, done = r.state, r.rest, r.key, r.done
        if done > steps:
            raise ConfigError(
                f"the training checkpoint is at step {done}, beyond steps={steps}; pass "
                f"steps >= {done}"
            )
        boundaries.append(done)
        seen.append(np.asarray(r.train_loss))
        if history is not None:
            history.test_steps, history.test_loss = r.test_steps, r.test_loss
    full_plan = plan_chunks(steps, chunk_size, boundaries)
    plan = [(a, n) for a, n in full_plan if a >= done]
    out = Outcome(state, rest, np.zeros(0), np.asarray(-1), np.asarray(np.nan))
    spec = dataclasses.replace(spec, max_length=max((n for _, n in full_plan), default=1))
    extra = (in_chunk,) if in_chunk else ()

    program = chunk_for(spec)

    def compiled(state, rest, start, length):
        return program(state, rest, batch, key, jnp.asarray(start), jnp.asarray(length), *extra)

    if plan:  # compile (or find compiled) with a call that runs no step
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(state, rest, 0, 0))
        out.compile_seconds = time.perf_counter() - t0

    def call_hooks(step: int) -> bool:
        nonlocal state, rest
        if not hooks:
            return False
        if history is not None:
            history.train_loss = np.concatenate(seen, axis=-1) if seen else history.train_loss
        model = sync(state.params, rest) if sync is not None else None
        stop = False
        for hook in hooks:
            stop = bool(hook(step, model, history)) or stop
        if read is not None:
            params, new_rest = read()
            old = jax.tree.leaves(state.params)
            new = jax.tree.leaves(params)
            if len(old) != len(new) or any(a is not b for a, b in zip(old, new, strict=True)):
                if jax.tree.structure(params) != jax.tree.structure(state.params) or any(
                    a.shape != b.shape for a, b in zip(old, new, strict=True)
                ):
                    raise ConfigError(
                        "a training hook changed the shapes of the trained parameters (e.g. "
                        "KAN.refine); the optimizer state cannot carry on. Refine between "
                        "calls of fit instead (with physnet.approximators.remap_optimizer_state "
                        "or a fresh optimizer state)"
                    )
                state = dataclasses.replace(
                    state,
                    params=params,
                    last_good=params,
                    opt_state=forget_stored_value(state.opt_state),
                )
            rest = new_rest
        return stop

    def save(step: int) -> None:
        t0 = time.perf_counter()
        from ._resume import save_training_state

        save_training_state(
            ck.path,
            state=state,
            rest=rest,
            key=key,
            done=step,
            train_loss=np.concatenate(seen, axis=-1) if seen else np.zeros(0),
            test_steps=getattr(history, "test_steps", np.zeros(0, int)),
            test_loss=getattr(history, "test_loss", np.zeros(0)),
            fingerprint=ck.fingerprint,
        )
        out.checkpoint_seconds += time.perf_counter() - t0

    with _SigintFlag() as sigint:
        stop = call_hooks(0) if plan and done == 0 else False
        if sigint.raised:
            out.interrupted = done
        step = done
        for start, length in plan:
            if stop or out.interrupted is not None:
                break
            t0 = time.perf_counter()
            outputs = compiled(state, rest, start, length)
            if in_chunk:
                state, rest, losses = outputs
            else:
                state, losses = outputs
            losses = np.asarray(losses)[..., :length]
            out.train_seconds += time.perf_counter() - t0
            seen.append(losses)
            step = start + length
            if host.stop_on_divergence and bool(np.any(np.asarray(state.stopped))):
                break
            stop = call_hooks(step)
            if sigint.raised:
                out.interrupted = step
            elif ck is not None and ck.every and step % ck.every == 0 and step < steps:
                save(step)
        if ck is not None and (plan or ck.resume is None):
            save(step)
    out.state, out.rest = state, rest
    if seen:
        out.train_loss = np.concatenate(seen, axis=-1)
        out.diverged_at = np.asarray(state.diverged_at)
        idx = np.where(out.diverged_at >= 0, out.diverged_at, out.train_loss.shape[-1])
        rows = np.atleast_2d(out.train_loss)
        out.last_finite = np.asarray(
            [
                row[:i][np.isfinite(row[:i])][-1] if np.isfinite(row[:i]).any() else np.nan
                for row, i in zip(rows, np.atleast_1d(idx), strict=True)
            ]
        ).reshape(out.diverged_at.shape)
    return out
