"""In-process reuse of compiled training chunks.

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
JAX's float64 flag. The module globals a function reads are part of its snapshot (functions,
classes and modules by identity, data by value); what a class's methods read from their
module's globals is not (the class counts by identity). Anything it cannot snapshot (an object with no ``__dict__`` that is not
hashable, an array above :data:`MAX_ARRAY_BYTES`) makes the call compile as before: a miss is
always safe, only a wrong hit would not be. ``PHYSNET_REUSE_COMPILED=0`` turns the reuse off;
:func:`clear_compiled` empties it.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import os
import types
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

MAX_ENTRIES = 32
MAX_ARRAY_BYTES = 1 << 22
_MAX_DEPTH = 60

_CACHE: collections.OrderedDict = collections.OrderedDict()
# per label ("chunk", "init", "test-loss", ...): hits, misses (compiled and kept), unkeyable
stats: collections.defaultdict = collections.defaultdict(
    lambda: {"hits": 0, "misses": 0, "unkeyable": 0}
)


class Unkeyable(Exception):
    """Raised by :func:`token` for an object it cannot snapshot by value."""


def _array_token(x) -> tuple:
    a = np.asarray(x)
    if a.nbytes > MAX_ARRAY_BYTES or a.dtype == object:
        raise Unkeyable(f"array of {a.nbytes} bytes")
    return ("array", a.shape, str(a.dtype), hashlib.sha1(np.ascontiguousarray(a).data).hexdigest())


def token(obj: Any, _depth: int = 0, _seen: frozenset = frozenset()) -> Any:
    """A hashable snapshot of ``obj`` by value (see the module docstring); Unkeyable if none."""
    if _depth > _MAX_DEPTH:
        raise Unkeyable("nested too deeply")
    if obj is None or isinstance(obj, bool | int | float | complex | str | bytes):
        return (type(obj), obj)
    if isinstance(obj, type | types.ModuleType | types.BuiltinFunctionType):
        return ("id", obj)  # classes, modules and builtins are long-lived singletons
    if id(obj) in _seen:  # a closure that refers to itself
        return ("cycle",)
    seen = _seen | {id(obj)}

    def sub(x):
        return token(x, _depth + 1, seen)

    if isinstance(obj, jax.Array):
        if isinstance(obj, jax.core.Tracer) or jax.dtypes.issubdtype(
            obj.dtype, jax.dtypes.prng_key
        ):
            raise Unkeyable("traced or key array")
        return _array_token(obj)
    if isinstance(obj, np.ndarray | np.generic):
        return _array_token(obj)
    if isinstance(obj, tuple | list):
        return (type(obj), tuple(sub(x) for x in obj))
    if isinstance(obj, dict):
        return (type(obj), tuple(sorted(((sub(k), sub(v)) for k, v in obj.items()), key=repr)))
    if isinstance(obj, set | frozenset):
        return (type(obj), tuple(sorted((sub(x) for x in obj), key=repr)))
    if isinstance(obj, functools.partial):
        return ("partial", sub(obj.func), sub(obj.args), sub(obj.keywords))
    if isinstance(obj, types.MethodType):
        return ("method", sub(obj.__func__), sub(obj.__self__))
    if isinstance(obj, types.FunctionType):
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
    if hasattr(obj, "__dict__") and not isinstance(obj, jax.sharding.Sharding):
        return (type(obj), sub(vars(obj)))
    try:
        hash(obj)
    except TypeError as err:
        raise Unkeyable(f"unhashable {type(obj).__name__}") from err
    return (type(obj), obj)


_BY_IDENTITY = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    functools.partial,
)


def _names(code: types.CodeType) -> set:
    """The global names ``code`` (and the functions defined in it) may read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _globals_token(fn: types.FunctionType, sub) -> tuple:
    """The module globals ``fn`` reads: functions, classes and modules by identity (a
    redefinition is a new object), data (a constant, a configuration dict) by value, so a
    global changed between two calls is seen."""
    scope = fn.__globals__
    out = []
    for name in sorted(_names(fn.__code__)):
        if name not in scope:
            continue
        value = scope[name]
        if isinstance(value, _BY_IDENTITY):  # held by the key, so its identity stays unique
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
            key = (token(factory), token(options), _signature(args), jax.config.jax_enable_x64)
            hash(key)
        except (Unkeyable, TypeError):
            stats[label]["unkeyable"] += 1
            key = None
    if key is not None and key in _CACHE:
        _CACHE.move_to_end(key)
        stats[label]["hits"] += 1
        return _CACHE[key]
    compiled = jax.jit(build()).lower(*args).compile()
    if key is not None:
        stats[label]["misses"] += 1
        _CACHE[key] = compiled
        while len(_CACHE) > MAX_ENTRIES:
            _CACHE.popitem(last=False)
    return compiled


def clear_compiled() -> None:
    """Forget every compiled program kept for reuse in this process."""
    _CACHE.clear()
