"""Training-state checkpoints: save a running training at a chunk boundary, resume it to the bit.

A training checkpoint is one ``.npz`` file (no pickle), written atomically: every leaf of the
:class:`~physnet.training.TrainState` (parameters, optimizer state, last good parameters,
step), the model's non-trained state (e.g. KAN grids moved by grid updates), the PRNG key data
and the losses so far, with a JSON header naming the step reached and the training's
fingerprint (samples, batch size, leaf shapes and dtypes). Restoring fills these leaves into
the structure the resumed training builds from the same model and optimizer, so the resumed
run continues with exactly the arrays the interrupted one held.

Why not orbax-checkpoint: measured on this project's 2-core machine, an orbax
``StandardCheckpointer.save`` of an MLP's Adam state took 95 ms per save against 1 ms for
this ``.npz`` (periodic saves must stay under 3 % of training time), and its restore returns
optax's named tuples as plain tuples unless given the exact target; a flat ``.npz`` restored
into the target's own tree structure is both faster and checked leaf by leaf.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._errors import DataError
from .._io import OutputWriteError, atomic_path

#: version of the training-checkpoint layout
TRAINING_FORMAT = 1
KIND = "physnet-training-state"


@dataclasses.dataclass
class Restored:
    """What :func:`load_training_state` returns: the arrays to continue from.

    Attributes:
        state, rest, key: the train state, the model's non-trained state and the PRNG key(s).
        done: optimizer steps completed (the chunk boundary the checkpoint was written at).
        train_loss: the losses of steps ``0 .. done - 1`` (``(..., done)``).
        test_steps, test_loss: the test losses recorded so far.
    """

    state: Any
    rest: Any
    key: Any
    done: int
    train_loss: np.ndarray
    test_steps: np.ndarray
    test_loss: np.ndarray


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def save_training_state(
    path: str | os.PathLike,
    *,
    state,
    rest,
    key,
    done: int,
    train_loss: np.ndarray,
    test_steps: np.ndarray,
    test_loss: np.ndarray,
    fingerprint: dict[str, Any],
) -> Path:
    """Write a training checkpoint to ``path`` (a ``.npz`` file) atomically.

    Args:
        state: the :class:`~physnet.training.TrainState` at the end of a chunk.
        rest: the model's non-trained state.
        key: the PRNG key (or stacked keys) of minibatch sampling.
        done: optimizer steps completed.
        train_loss, test_steps, test_loss: the history so far.
        fingerprint: JSON-serialisable facts the resumed training must share
            (samples, batch size, ...).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for prefix, tree in (("state", state), ("rest", rest)):
        for i, leaf in enumerate(_leaves(tree)):
            arrays[f"{prefix}_{i:05d}"] = leaf
    arrays["key"] = np.asarray(jax.random.key_data(key))
    arrays["train_loss"] = np.asarray(train_loss, dtype=np.float64)
    arrays["test_steps"] = np.asarray(test_steps, dtype=np.int64)
    arrays["test_loss"] = np.asarray(test_loss, dtype=np.float64)
    header = {
        "kind": KIND,
        "format": TRAINING_FORMAT,
        "done": int(done),
        "key_impl": str(jax.random.key_impl(key)),
        "fingerprint": fingerprint,
    }
    arrays["header"] = np.asarray(json.dumps(header))
    try:
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
    except OSError as err:  # a full disk, a quota: the previous checkpoint was not touched
        raise OutputWriteError(
            f"could not write the training checkpoint {path} at step {done} "
            f"({err.strerror or err}); {_previous(path)}"
        ) from None
    return path


def _previous(path: Path) -> str:
    """What an interrupted checkpoint write left: the previous checkpoint, intact."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            done = json.loads(str(npz["header"]))["done"]
    except Exception:
        return "no earlier training checkpoint exists: free space and train again"
    return (
        f"the previous checkpoint (step {done}) is intact: free space, then resume from it "
        f"(physnet train --resume {path.parent})"
    )


def _fill(target, arrays: dict[str, np.ndarray], prefix: str, where: Path):
    leaves, treedef = jax.tree.flatten(target)
    names = sorted(k for k in arrays if k.startswith(prefix + "_"))
    if len(names) != len(leaves):
        raise DataError(
            f"{where}: the checkpoint holds {len(names)} {prefix} arrays, this training "
            f"{len(leaves)}; resume with the same model, optimizer and options"
        )
    out = []
    for name, leaf in zip(names, leaves, strict=True):
        value = arrays[name]
        leaf = np.asarray(leaf)
        if value.shape != leaf.shape or value.dtype != leaf.dtype:
            raise DataError(
                f"{where}: {name} is {value.dtype}{list(value.shape)}, this training needs "
                f"{leaf.dtype}{list(leaf.shape)}; resume with the same model and options"
            )
        out.append(jax.numpy.asarray(value))
    return jax.tree.unflatten(treedef, out)


def load_training_state(
    path: str | os.PathLike, *, state, rest, key, fingerprint: dict[str, Any]
) -> Restored:
    """Read a training checkpoint into the structure of ``state``, ``rest`` and ``key``.

    Raises:
        DataError: with one line, if the file is missing, malformed, written by another
            training (fingerprint, leaf count, shapes or dtypes differ), or holds non-finite
            parameters.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"training checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        header = json.loads(str(arrays.pop("header")))
        done = header["done"]
        impl = header["key_impl"]
        saved = header["fingerprint"]
        ok = header.get("kind") == KIND and isinstance(done, int) and done >= 0
    except Exception as err:  # zip, JSON, missing keys: one line
        raise DataError(f"{path}: not a physnet training checkpoint ({err!s:.120})") from None
    if not ok or header.get("format") != TRAINING_FORMAT:
        raise DataError(f"{path}: not a physnet training checkpoint of format {TRAINING_FORMAT}")
    if saved != fingerprint:
        diff = sorted(k for k in {*saved, *fingerprint} if saved.get(k) != fingerprint.get(k))
        raise DataError(
            f"{path}: written by another training ({', '.join(diff)} differ: "
            f"{ {k: saved.get(k) for k in diff} } vs { {k: fingerprint.get(k) for k in diff} }); "
            "resume with the same data and options"
        )
    new_state = _fill(state, arrays, "state", path)
    new_rest = _fill(rest, arrays, "rest", path)
    if not all(np.all(np.isfinite(x)) for x in _leaves(new_state.params) if x.dtype.kind == "f"):
        raise DataError(f"{path}: the saved parameters are not finite; the file is damaged")
    try:
        key_data = arrays["key"]
        if key_data.shape != np.asarray(jax.random.key_data(key)).shape or impl != str(
            jax.random.key_impl(key)
        ):
            raise ValueError("key shape or implementation differs")
        new_key = jax.random.wrap_key_data(key_data, impl=jax.random.key_impl(key))
        train_loss = arrays["train_loss"]
        test_steps, test_loss = arrays["test_steps"], arrays["test_loss"]
    except (KeyError, ValueError, TypeError) as err:
        raise DataError(f"{path}: damaged training checkpoint ({err})") from None
    if train_loss.shape[-1] != done:
        raise DataError(f"{path}: {train_loss.shape[-1]} recorded losses for {done} steps")
    return Restored(new_state, new_rest, new_key, done, train_loss, test_steps, test_loss)
