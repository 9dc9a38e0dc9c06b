"""Saving and loading trained models without pickle.

A checkpoint is a directory with ``model.json`` (the class names and constructor arguments of
the model and its approximators, and ``state_sha256``: the SHA-256 of ``state.npz``, checked
on load; older checkpoints without it still load) and ``state.npz`` (every variable of the model: parameters and
non-trainable state such as KAN grids, keyed by their path). Loading rebuilds the model from
the JSON and fills in the arrays, checking names and shapes.

An :class:`~physnet.models.Ensemble` is saved the same way: ``model.json`` describes one member
and records ``"ensemble": {"size": N}``, and every array in ``state.npz`` carries a leading
member axis of size N. :func:`load_model` then returns an ``Ensemble``.

Format versions: 2 (current) saves the dissipation of a
:class:`~physnet.models.DissipativeHNN` as a component sub-module (``Friction``,
``LearnedDissipation``, ``NoDissipation``). Version 1 files (physnet 0.1) still load: their
``{"dissipation": "friction", "gamma_init": ...}`` configs and bare dissipation approximators
go through the model's constructor, which turns them into components, and their state paths
(``raw_gamma``, ``dissipation/...``) are mapped to the component's (see :func:`_legacy_renames`).
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._checks import integer
from ._errors import DataError, UnknownClassError
from ._io import atomic_path, check_output, file_sha256, write_marker
from .approximators import AbstractApproximator
from .models import (
    AbstractDissipation,
    AbstractForce,
    AbstractInputPort,
    AbstractVectorField,
    DissipativeHNN,
    Ensemble,
)

FORMAT_VERSION = 2
MODEL_FILE = "model.json"
STATE_FILE = "state.npz"


def _registry() -> dict[str, type]:
    classes: dict[str, type] = {}
    stack = [
        AbstractApproximator,
        AbstractVectorField,
        AbstractDissipation,
        AbstractForce,
        AbstractInputPort,
    ]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if not inspect.isabstract(sub):
                classes[sub.__name__] = sub
    return classes


def model_spec(module) -> dict:
    """The JSON description of a model or approximator (class, config, sub-modules)."""
    spec = {"class": type(module).__name__, "config": module.config()}
    if isinstance(
        module, AbstractVectorField | AbstractDissipation | AbstractForce | AbstractInputPort
    ):
        spec["submodules"] = {k: model_spec(v) for k, v in module.submodules().items()}
    return spec


def build_from_spec(spec: dict):
    """Rebuild a model or approximator (with fresh parameters) from :func:`model_spec`.

    Raises:
        DataError: for a description that is not an object of ``class``, ``config`` and
            ``submodules``, or names an unknown class.
    """
    registry = _registry()
    if not isinstance(spec, dict):
        raise DataError(f"a model description must be a JSON object, got {spec!r:.60}")
    name = spec.get("class")
    if not isinstance(name, str) or name not in registry:
        raise UnknownClassError(name, f"checkpoint names an unknown class {name!r:.60}")
    cls = registry[name]
    config = spec.get("config", {})
    subs_spec = spec.get("submodules", {})
    if not isinstance(config, dict) or not isinstance(subs_spec, dict):
        raise DataError(f"{name}: config and submodules must be JSON objects")
    config = dict(config)
    if issubclass(cls, AbstractApproximator):
        if "param_dtype" in config:
            config["param_dtype"] = jnp.dtype(config["param_dtype"])
        return cls(**config, rngs=nnx.Rngs(0))
    subs = {k: build_from_spec(v) for k, v in spec.get("submodules", {}).items()}
    return cls(**subs, **(getattr(cls, "config_added", {}) | config))


def _legacy_renames(spec: dict, prefix: str = "") -> list[tuple[str, str]]:
    """``(old, new)`` state-path prefixes of a version-1 model description.

    physnet 0.1 kept a :class:`~physnet.models.DissipativeHNN`'s friction parameter at
    ``raw_gamma`` and the general form's approximator at ``dissipation/...``; the components
    hold them at ``dissipation/raw_gamma`` and ``dissipation/approximator/...``.
    """
    registry = _registry()
    cls = registry.get(spec.get("class"))
    subs = spec.get("submodules", {})
    renames = []
    if cls is not None and issubclass(cls, DissipativeHNN):
        dissipation = subs.get("dissipation")
        if dissipation is None and spec.get("config", {}).get("dissipation", "friction") == (
            "friction"
        ):
            renames.append((f"{prefix}raw_gamma", f"{prefix}dissipation/raw_gamma"))
        elif dissipation is not None and issubclass(
            registry.get(dissipation.get("class"), object), AbstractApproximator
        ):
            renames.append((f"{prefix}dissipation", f"{prefix}dissipation/approximator"))
    for name, sub in subs.items():
        renames += _legacy_renames(sub, f"{prefix}{name}/")
    return renames


def _rename(key: str, renames: list[tuple[str, str]]) -> str:
    for old, new in renames:
        if key == old or key.startswith(old + "/"):
            return new + key[len(old) :]
    return key


def _flat_state(model) -> dict[str, np.ndarray]:
    state = model.state if isinstance(model, Ensemble) else nnx.state(model)
    flat = nnx.to_flat_state(state)
    return {"/".join(map(str, path)): np.asarray(var.get_value()) for path, var in flat}


def save_model(
    model, directory: str | os.PathLike, *, extra: dict | None = None, overwrite: bool = True
) -> Path:
    """Write ``model`` to ``directory`` (created if needed) as ``model.json`` + ``state.npz``.

    Args:
        model: a physnet model or an :class:`~physnet.models.Ensemble` of them.
        directory: target directory: new, empty, or a physnet checkpoint (replaced only with
            ``overwrite``); any other non-empty folder is refused.
        extra: additional JSON-serialisable information stored in ``model.json``.
        overwrite: replace the files of an existing checkpoint.

    Raises:
        ConfigError: if ``directory`` is refused (:func:`physnet._io.check_output`).
    """
    directory = check_output(directory, "checkpoint", overwrite=overwrite, flag="directory")
    directory.mkdir(parents=True, exist_ok=True)
    write_marker(directory, "checkpoint")
    if isinstance(model, Ensemble):
        spec = model_spec(model.member(0))
        meta = {"format_version": FORMAT_VERSION, "model": spec, "ensemble": {"size": len(model)}}
    else:
        meta = {"format_version": FORMAT_VERSION, "model": model_spec(model)}
    meta["extra"] = extra or {}
    with atomic_path(directory / STATE_FILE, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **_flat_state(model))
    meta["state_sha256"] = file_sha256(directory / STATE_FILE)
    with atomic_path(directory / MODEL_FILE) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    return directory


def load_model(directory: str | os.PathLike):
    """Load a model (or an :class:`~physnet.models.Ensemble`) saved by :func:`save_model`.

    Raises:
        DataError: if files are missing or malformed, or names/shapes do not match the model
            described by ``model.json``.
    """
    directory = Path(directory)
    model_file, state_file = directory / MODEL_FILE, directory / STATE_FILE
    for f in (model_file, state_file):
        if not f.is_file():
            raise DataError(f"checkpoint file not found: {f}")
    try:
        meta = json.loads(model_file.read_text())
        spec = meta["model"]
        members = meta["ensemble"]["size"] if "ensemble" in meta else None
        version = meta.get("format_version", 1)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{model_file}: not a physnet model description ({err})") from None
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise DataError(
            f"{model_file}: format_version {version!r} is newer than this physnet reads "
            f"({FORMAT_VERSION}); load it with the physnet version that wrote it"
        )
    if members is not None:
        integer(model_file, "ensemble size", members, low=1, error=DataError)
    try:
        model = build_from_spec(spec)
    except UnknownClassError as err:  # keeps its kind and class name
        raise UnknownClassError(err.class_name, f"{model_file}: {err}") from None
    except DataError as err:
        raise DataError(f"{model_file}: {err}") from None
    except Exception as err:  # wrong or missing constructor arguments, bad values
        raise DataError(
            f"{model_file}: the model description does not build a model "
            f"({type(err).__name__}: {err!s:.160})"
        ) from None
    try:
        with np.load(state_file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as err:
        reason = "not a zip archive of arrays" if "pickle" in str(err) else str(err)
        raise DataError(f"{state_file}: not a readable .npz file ({reason})") from None
    if version < 2:
        renames = _legacy_renames(spec)
        arrays = {_rename(k, renames): v for k, v in arrays.items()}
    state = nnx.state(model)
    flat = nnx.to_flat_state(state)
    expected = {"/".join(map(str, path)) for path, _ in flat}
    if expected != set(arrays):
        missing = sorted(expected - set(arrays))
        unexpected = sorted(set(arrays) - expected)
        raise DataError(
            f"{state_file}: variables do not match the model (missing {missing}, "
            f"unexpected {unexpected})"
        )
    for path, var in flat:
        name = "/".join(map(str, path))
        value = arrays[name]
        old = var.get_value()
        shape = old.shape if members is None else (members, *old.shape)
        if value.shape != shape:
            raise DataError(
                f"{state_file}: variable {name} has shape {value.shape}, expected {shape}"
            )
        if value.dtype != np.dtype(old.dtype):
            raise DataError(
                f"{state_file}: variable {name} is {value.dtype}, the model stores "
                f"{np.dtype(old.dtype)}; re-save the model with physnet.save_model"
            )
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise DataError(
                f"{state_file}: variable {name} holds NaN or inf; the checkpoint is damaged "
                "(a diverged training?): train again or use an earlier checkpoint"
            )
        var.set_value(jnp.asarray(value, dtype=old.dtype))
    # checked after the arrays, so that a specific damage (NaN, dtype, shape) is named first
    expected = meta.get("state_sha256")  # older checkpoints have none
    if expected is not None and file_sha256(state_file) != expected:
        raise DataError(
            f"{state_file}: the weights do not match the SHA-256 recorded in {MODEL_FILE} "
            "when they were saved (altered or damaged); save or train the model again"
        )
    if members is not None:
        graphdef = nnx.graphdef(model)
        return Ensemble.from_state(graphdef, nnx.from_flat_state(flat))
    nnx.update(model, nnx.from_flat_state(flat))
    return model


def load_extra(directory: str | os.PathLike) -> dict:
    """The ``extra`` dictionary stored by :func:`save_model`."""
    return json.loads((Path(directory) / MODEL_FILE).read_text()).get("extra", {})
