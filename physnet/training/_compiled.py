"""In-process reuse of compiled training programs.

:func:`~physnet.training._loop.drive` compiles one chunk per training call. A second call with
the same model structure, loss, optimizer, options and batch shapes (a loop over seeds, a
notebook cell run again, the experiments of ``physnet reproduce``) would trace, lower and
compile (or load from the persistent cache) the same program again: a few tenths of a second
for Adam, more for L-BFGS's line search. :func:`compiled_program` keeps the compiled executables
of the last :data:`MAX_ENTRIES` distinct programs (training chunks, test-loss evaluations) and
hands one back when everything the program depends on is equal.

"Equal" is decided by :func:`token`, a value snapshot of the chunk factory: functions by their
code, defaults and closed-over values (recursively, so ``optax.adam(1e-3)`` made twice is the
same optimizer and ``optax.adam(1e-2)`` is not), containers and plain objects by their contents,
arrays by shape, dtype and bytes, plus the abstract values and shardings of the arguments and
the JAX settings a program depends on (float64, matmul precision, promotion rules, debug
flags). Only library code is snapshotted (physnet, optax, JAX, Flax, NumPy, chex and the
standard library, see :data:`TRUSTED`): a function, class, module or object of any other module
(a user's loss, penalty, schedule or model class) can read state no snapshot sees (class
attributes, slots, the globals of the functions it calls), so it makes the call compile as
before. The module globals a library function reads are part of its snapshot (functions,
classes and modules by identity, data by value). Anything else it cannot snapshot (an object
that keeps its state where no snapshot sees it, an array above :data:`MAX_ARRAY_BYTES`) makes
the call compile as before too: a miss is always safe, only a wrong hit would not be.
``PHYSNET_REUSE_COMPILED=0`` turns the reuse off; :func:`clear_compiled` empties it.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import os
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

MAX_ENTRIES = 32
MAX_ARRAY_BYTES = 1 << 22
_MAX_DEPTH = 60

_CACHE: collections.OrderedDict = collections.OrderedDict()
_LOCK = threading.Lock()
# per label ("chunk", "init", "test-loss", ...): hits, misses (compiled and kept), unkeyable
stats: collections.defaultdict = collections.defaultdict(
    lambda: {"hits": 0, "misses": 0, "unkeyable": 0}
)


class Unkeyable(Exception):
    """Raised by :func:`token` for an object it cannot snapshot by value."""


# Only code and objects of these packages are snapshotted: their functions and classes are
# not redefined while a program runs, and their objects keep what shapes a program in their
# fields. Anything of another module (a user's loss, penalty, schedule, model class or config
# module) makes the key unkeyable, so that call compiles as before: user code can read state
# no snapshot sees (class attributes, slots, globals of the functions it calls). The
# standard library is trusted as well (see _trusted).
TRUSTED = ("physnet", "optax", "jax", "jaxlib", "flax", "numpy", "chex")


def _trusted(module: str | None) -> bool:
    top = (module or "").split(".")[0]
    return top in TRUSTED or (top in sys.stdlib_module_names and top != "__main__")


def _array_token(x, kind: str) -> tuple:
    a = np.asarray(x)
    if a.nbytes > MAX_ARRAY_BYTES or a.dtype == object:
        raise Unkeyable(f"array of {a.nbytes} bytes")
    weak = bool(getattr(jax.typeof(x), "weak_type", False)) if kind == "jax" else False
    digest = hashlib.sha1(np.ascontiguousarray(a).data).hexdigest()
    return ("array", kind, weak, a.shape, str(a.dtype), digest)


def _fields(obj) -> dict:
    """An object's state: its ``__dict__``, its slots along the MRO, or its dataclass fields."""
    out = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                out[f"{cls.__qualname__}.{name}"] = getattr(obj, name)
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            out.setdefault(f.name, getattr(obj, f.name))
    return out


def _sorted(items) -> tuple:
    """Tokens in an order independent of insertion (ties only ever cause a miss)."""
    return tuple(sorted(items, key=hash))


def token(obj: Any, _depth: int = 0, _path: tuple = ()) -> Any:
    """A hashable snapshot of ``obj`` by value (see the module docstring); Unkeyable if none."""
    if _depth > _MAX_DEPTH:
        raise Unkeyable("nested too deeply")
    if obj is None or isinstance(obj, bool | int | str | bytes):
        return (type(obj), obj)
    if isinstance(obj, float):  # by bits: 0.0 and -0.0 differ, nan equals nan
        return (float, obj.hex())
    if isinstance(obj, complex):
        return (complex, obj.real.hex(), obj.imag.hex())
    if isinstance(obj, type | types.ModuleType):
        if not _trusted(obj.__module__ if isinstance(obj, type) else obj.__name__):
            raise Unkeyable(f"{obj!r} is not library code")
        return ("id", obj)  # library classes and modules are long-lived singletons
    if id(obj) in _path:  # a reference back to an object on the path: say which one
        return ("cycle", _path.index(id(obj)))
    path = (*_path, id(obj))

    def sub(x):
        return token(x, _depth + 1, path)

    if isinstance(obj, types.BuiltinFunctionType):  # a builtin function or bound method
        owner = obj.__self__
        if owner is None or isinstance(owner, types.ModuleType):
            return ("builtin", obj.__module__, obj.__qualname__)
        return ("builtin-method", obj.__name__, sub(owner))
    if isinstance(obj, jax.Array):
        if isinstance(obj, jax.core.Tracer) or jax.dtypes.issubdtype(
            obj.dtype, jax.dtypes.prng_key
        ):
            raise Unkeyable("traced or key array")
        return _array_token(obj, "jax")
    if isinstance(obj, np.ndarray | np.generic):
        return _array_token(obj, "numpy")
    if isinstance(obj, tuple | list):
        if type(obj) not in (tuple, list) and not _trusted(type(obj).__module__):
            raise Unkeyable(f"{type(obj).__qualname__} is not library code")
        return (type(obj), tuple(sub(x) for x in obj))
    if isinstance(obj, dict):
        if type(obj) is not dict and not _trusted(type(obj).__module__):
            raise Unkeyable(f"{type(obj).__qualname__} is not library code")
        return (type(obj), _sorted((sub(k), sub(v)) for k, v in obj.items()))
    if isinstance(obj, set | frozenset):
        return (type(obj), _sorted(sub(x) for x in obj))
    if isinstance(obj, functools.partial):
        return ("partial", sub(obj.func), sub(obj.args), sub(obj.keywords))
    if isinstance(obj, types.MethodType):
        return ("method", sub(obj.__func__), sub(obj.__self__))
    if isinstance(obj, types.FunctionType):
        if not _trusted(obj.__module__):
            raise Unkeyable(f"{obj.__qualname__} is not library code")
        try:
            cells = tuple(sub(c.cell_contents) for c in obj.__closure__ or ())
        except ValueError as err:  # an empty cell
            raise Unkeyable("closure cell not set") from err
        return (
            "function",
            obj.__code__,
            sub(obj.__defaults__),
            sub(obj.__kwdefaults__),
            cells,
            _globals_token(obj, sub),
        )
    if isinstance(obj, jax.sharding.Sharding) or type(obj).__hash__ not in (None, object.__hash__):
        if not _trusted(type(obj).__module__):
            raise Unkeyable(f"{type(obj).__qualname__} is not library code")
        if not dataclasses.is_dataclass(obj) or isinstance(obj, jax.sharding.Sharding):
            return (type(obj), obj)  # hashed and compared by value by its library
    if not _trusted(type(obj).__module__):
        raise Unkeyable(f"{type(obj).__qualname__} is not library code")
    has_state = hasattr(obj, "__dict__") or dataclasses.is_dataclass(obj)
    if not has_state and not any(getattr(c, "__slots__", ()) for c in type(obj).__mro__):
        raise Unkeyable(f"{type(obj).__qualname__} keeps its state where no snapshot sees it")
    return (type(obj), sub(_fields(obj)))


def _names(code: types.CodeType) -> set:
    """The global names ``code`` (and the functions defined in it) may read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _globals_token(fn: types.FunctionType, sub) -> tuple:
    """The module globals ``fn`` reads: library functions by identity (held by the key, so
    the identity stays unique; a redefinition is a new object), everything else through
    :func:`token` (classes and modules by identity, data by value), so a global changed
    between two calls is seen."""
    scope = fn.__globals__
    out = []
    for name in sorted(_names(fn.__code__)):
        if name in scope:
            value = scope[name]
            if isinstance(value, types.FunctionType) and _trusted(value.__module__):
                out.append((name, "id", value))
            else:
                out.append((name, sub(value)))
    return tuple(out)


def _signature(args) -> tuple:
    """Abstract values, shardings and tree structure of the chunk's arguments."""
    leaves, treedef = jax.tree.flatten(args)
    return treedef, tuple(
        (jax.typeof(x), getattr(x, "sharding", None) if isinstance(x, jax.Array) else None)
        for x in leaves
    )


def enabled() -> bool:
    return os.environ.get("PHYSNET_REUSE_COMPILED", "1").lower() not in ("0", "false", "no")


def compiled_program(
    fn: Callable, args: tuple, *, factory: Any = None, options: tuple = (), label: str = "program"
):
    """``jax.jit(fn).lower(*args).compile()``, or the executable an earlier call with an equal
    ``fn`` (by :func:`token`), ``options`` and argument signature compiled.

    With ``factory``, ``fn`` may be a zero-argument callable that builds the function to jit
    (called only on a miss) and ``factory`` (with ``options``) stands for it in the key.
    ``label`` names the kind of program in :data:`stats`.
    """
    build = fn if factory is not None else (lambda: fn)
    factory = fn if factory is None else factory
    key = None
    if enabled():
        try:
            key = (token(factory), token(options), _signature(args), _config())
            hash(key)
        except Exception:  # noqa: BLE001 - whatever the snapshot meets, a miss is safe
            stats[label]["unkeyable"] += 1
            key = None
    if key is not None:
        with _LOCK:
            compiled = _CACHE.get(key)
            if compiled is not None:
                _CACHE.move_to_end(key)
                stats[label]["hits"] += 1
                return compiled
    compiled = jax.jit(build()).lower(*args).compile()
    if key is not None:
        with _LOCK:
            stats[label]["misses"] += 1
            _CACHE[key] = compiled
            while len(_CACHE) > MAX_ENTRIES:
                _CACHE.popitem(last=False)
    return compiled


_CONFIG_FLAGS = (
    "jax_enable_x64",
    "jax_default_matmul_precision",
    "jax_numpy_dtype_promotion",
    "jax_numpy_rank_promotion",
    "jax_debug_nans",
    "jax_debug_infs",
    "jax_default_prng_impl",
)


def _config() -> tuple:
    """The JAX settings a compiled program depends on."""
    return tuple(str(getattr(jax.config, name, None)) for name in _CONFIG_FLAGS)


def clear_compiled() -> None:
    """Forget every compiled program kept for reuse in this process."""
    with _LOCK:
        _CACHE.clear()
