"""The one training loop: a :class:`TrainState`, a compiled chunk of steps, hooks between chunks.

:func:`physnet.fit`, :func:`physnet.fit_ensemble` and :func:`~physnet.training.fit_function`
all run :func:`drive`: optimizer steps in compiled chunks (one ``lax.fori_loop`` of up to
``chunk_size`` steps per call), and between chunks Python calls the hooks (progress, test
loss, KAN grid updates, early stopping, user hooks).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from ._distributed import is_writer, peer_lost, to_host
from ._hooks import CompiledHook, Hook
from ._program import ChunkSpec as ChunkSpec
from ._program import chunk_for
from ._program import loss_evaluator as loss_evaluator
from ._program import run_chunk as run_chunk
from ._step import TrainState as TrainState
from ._step import forget_stored_value
from ._step import make_train_chunk as make_train_chunk
from ._step import n_samples as n_samples


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
    """While active, the first Ctrl-C (SIGINT) or SIGTERM (a scheduler's or ``kill``'s stop)
    only sets ``raised`` (checked between chunks, so it is never lost inside compiled code or
    a callback: the training state is then saved and training stops as on Ctrl-C); a second
    one interrupts at once (``KeyboardInterrupt``). The previous handlers are restored on
    exit."""

    def __init__(self):
        self.raised = False
        self._previous = {}

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        import signal

        self.raised = True
        for sig in self._previous:
            signal.signal(sig, signal.default_int_handler)

    def __exit__(self, *exc):
        import signal

        for sig, previous in self._previous.items():
            if previous is not None:
                signal.signal(sig, previous)
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
    config,
    host: Host,
    checkpointing: Checkpointing | None = None,
) -> Outcome:
    """Run ``config.steps`` optimizer steps on ``state`` in chunks of at most
    ``config.chunk_size`` (``config`` a :class:`~physnet.training.FitConfig`), calling
    ``host.hooks`` between chunks (``config.hooks`` are among them).

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
    steps, chunk_size = config.steps, config.chunk_size
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

    distributed = jax.process_count() > 1

    def compiled(state, rest, start, length):
        return program(state, rest, batch, key, jnp.asarray(start), jnp.asarray(length), *extra)

    def agree(flag: bool) -> bool:
        """Whether any process raised ``flag`` (every process stops at the same step)."""
        if not distributed:
            return flag
        from jax.experimental import multihost_utils

        with peer_lost(step):
            return bool(np.any(multihost_utils.process_allgather(np.asarray(flag))))

    stack = contextlib.ExitStack()  # Ctrl-C/SIGTERM while compiling also saves (at step done)
    sigint = stack.enter_context(_SigintFlag())
    if plan:  # compile (or find compiled) with a call that runs no step
        t0 = time.perf_counter()
        try:
            jax.block_until_ready(compiled(state, rest, 0, 0))
        except BaseException:
            stack.close()  # the previous signal handlers back
            raise
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

        with peer_lost(step):  # gathers what is sharded over processes; process 0 writes
            host_state, host_rest, host_key = to_host((state, rest, key))
        if not is_writer():
            return
        save_training_state(
            ck.path,
            state=host_state,
            rest=host_rest,
            key=host_key,
            done=step,
            train_loss=np.concatenate(seen, axis=-1) if seen else np.zeros(0),
            test_steps=getattr(history, "test_steps", np.zeros(0, int)),
            test_loss=getattr(history, "test_loss", np.zeros(0)),
            fingerprint=ck.fingerprint,
        )
        out.checkpoint_seconds += time.perf_counter() - t0

    with stack:
        stop = call_hooks(0) if plan and done == 0 else False
        if sigint.raised:
            out.interrupted = done
        step = done
        for start, length in plan:
            if stop or out.interrupted is not None:
                break
            t0 = time.perf_counter()
            with peer_lost(start):
                outputs = compiled(state, rest, start, length)
                if in_chunk:
                    state, rest, losses = outputs
                else:
                    state, losses = outputs
                losses, stopped = to_host((losses, state.stopped))
            losses = losses[..., :length]
            out.train_seconds += time.perf_counter() - t0
            seen.append(losses)
            step = start + length
            if host.stop_on_divergence and bool(np.any(stopped)):
                break
            stop = call_hooks(step)
            if agree(sigint.raised):
                out.interrupted = step
            elif ck is not None and ck.every and step % ck.every == 0 and step < steps:
                save(step)
        if ck is not None and (plan or ck.resume is None):
            save(step)
    out.state, out.rest = state, rest
    if seen:
        out.train_loss = np.concatenate(seen, axis=-1)
        out.diverged_at = to_host(state.diverged_at)
        idx = np.where(out.diverged_at >= 0, out.diverged_at, out.train_loss.shape[-1])
        rows = np.atleast_2d(out.train_loss)
        out.last_finite = np.asarray(
            [
                row[:i][np.isfinite(row[:i])][-1] if np.isfinite(row[:i]).any() else np.nan
                for row, i in zip(rows, np.atleast_1d(idx), strict=True)
            ]
        ).reshape(out.diverged_at.shape)
    return out
