"""Trajectories to and from ``.npz`` files (no pickle).

A data file holds the arrays ``ts``, ``states`` and, where present, ``lengths``,
``derivatives``, ``clean_states``, ``clean_derivatives`` and ``inputs``, plus ``metadata``: a JSON string
with the data's metadata and ``format_version``. Files of every earlier version load.

The functions take the container (or its class) as an argument, so the container's
:meth:`~physnet.data.Trajectories.save` and :meth:`~physnet.data.Trajectories.load` call them
without an import circle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from .._errors import DataError
from .._io import atomic_path, check_output, path_problem

if TYPE_CHECKING:
    from ._trajectories import Trajectories

#: the optional arrays of a data file, in the order they are written (``ts`` and ``lengths``
#: come first, ``metadata`` last)
ARRAY_FIELDS = ("states", "derivatives", "clean_states", "clean_derivatives")
#: 2: per-trajectory ts ``(B, T)`` and ``lengths`` (files of version 1 still load)
FORMAT_VERSION = 2


def save(data: Trajectories, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write ``data`` to a ``.npz`` file (no pickle) atomically; returns the path written.

    A ``.npz`` suffix is added when ``path`` lacks it. An existing file is replaced only if it
    is a physnet data file and ``overwrite`` is true; anything else there is refused
    (:func:`physnet._io.check_output`).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    check_output(path, "data", overwrite=overwrite, directory=False, recognise=is_data_file)
    arrays = {"ts": np.asarray(data.ts)}
    if data.lengths is not None:
        arrays["lengths"] = np.asarray(data.lengths)
    for name in ARRAY_FIELDS:
        value = getattr(data, name)
        if value is not None:
            arrays[name] = np.asarray(value)
    if data.inputs is not None:
        arrays["inputs"] = np.asarray(data.inputs)
    arrays["metadata"] = np.array(json.dumps({"format_version": FORMAT_VERSION, **data.metadata}))
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return path


def load(path: str | os.PathLike, trajectories: type[Trajectories]) -> Trajectories:
    """Read a ``.npz`` file written by :func:`save` (or by hand: ``ts`` and ``states`` are
    required; ``derivatives`` and ``lengths`` are optional) as a ``trajectories`` instance
    (the container class).

    Raises:
        DataError: if the file is missing, not a valid ``.npz``, lacks required arrays,
            has wrong shapes, or contains NaN/inf.
    """
    if not str(path).strip():
        raise DataError("the data file name is empty; name a .npz data file")
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a .npz data file; name the file in it")
    if not path.is_file():
        try:
            os.stat(path)
        except (OSError, RuntimeError) as err:
            if not isinstance(err, FileNotFoundError):
                raise DataError(f"data file {path}: {path_problem(err)}") from None
        raise DataError(f"data file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            contents = {k: npz[k] for k in npz.files}
    except Exception as err:  # zipfile.BadZipFile, ValueError (pickled arrays), OSError
        reason = str(err)
        if "pickle" in reason:  # numpy's advice to load it unsafely is wrong here
            reason = "not a zip archive of arrays; physnet never loads pickled data"
        raise DataError(f"{path}: not a readable .npz data file ({reason})") from None
    missing = [k for k in ("ts", "states") if k not in contents]
    if missing:
        raise DataError(f"{path}: missing array(s) {', '.join(missing)} (found {sorted(contents)})")
    metadata: dict[str, Any] = {}
    if "metadata" in contents:
        try:
            metadata = json.loads(str(contents.pop("metadata")))
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as err:
            raise DataError(f"{path}: metadata is not valid JSON ({err})") from None
        if not isinstance(metadata, dict):
            raise DataError(f"{path}: metadata must be a JSON object, got {metadata!r:.40}")
        metadata.pop("format_version", None)
    unknown = sorted(set(contents) - {"ts", "lengths", "inputs", *ARRAY_FIELDS})
    if unknown:
        raise DataError(f"{path}: unexpected array(s) {', '.join(unknown)}")
    for name, arr in contents.items():
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise DataError(f"{path}: array {name!r} must be real numbers, got dtype {arr.dtype}")
    try:
        return trajectories(
            ts=jnp.asarray(contents["ts"], dtype=jnp.float64),
            **{
                k: jnp.asarray(contents[k], dtype=jnp.float64)
                for k in ARRAY_FIELDS
                if k in contents
            },
            metadata=metadata,
            lengths=contents.get("lengths"),
            inputs=None if "inputs" not in contents else jnp.asarray(contents["inputs"]),
        )
    except (ValueError, TypeError, IndexError) as err:  # DataError is a ValueError
        raise DataError(f"{path}: {err}") from None


def is_data_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a ``.npz`` data file written by :meth:`Trajectories.save`."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "metadata" not in npz.files:
                return False
            meta = json.loads(str(npz["metadata"]))
    except Exception:  # any unreadable file is not one of ours
        return False
    return isinstance(meta, dict) and "format_version" in meta
