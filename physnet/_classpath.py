"""A user's own classes named by import path, ``package.module:QualName``.

``physnet simulate --system mymod:MySystem`` (and ``--model``, ``--approximator``) import the
module and take the class from it, the way diffrax accepts any solver object: a registered name
stays optional. Importing a module runs its code, so physnet imports only a path the user
names (a flag, or a string given to a Python function); a path recorded inside a data file or
run directory is never imported on its own (see :func:`physnet.systems.system_from_metadata`):
data files are data.
"""

from __future__ import annotations

import importlib
import inspect

from ._errors import ConfigError


def class_path(cls: type) -> str:
    """The import path ``module:QualName`` of a class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def is_class_path(text) -> bool:
    """Whether ``text`` is meant as an import path (it contains ``:``), not a registered name."""
    return isinstance(text, str) and ":" in text


def importable(path: str) -> bool:
    """Whether another process could import the class at ``path``: not defined in a script or
    notebook (``__main__``) nor inside a function (``<locals>``)."""
    module, _, qualname = path.partition(":")
    return module != "__main__" and "<locals>" not in qualname


def import_class(path: str, base: type, *, flag: str) -> type:
    """The concrete subclass of ``base`` at ``path`` (``package.module:Class``), importing its
    module: this runs the module's code, so call it only for a path the user named.

    Raises:
        ConfigError: one line: not a path, module not found or failing to import, no such
            attribute, not a subclass of ``base``, or abstract.
    """
    module, _, qualname = path.partition(":")
    parts = module.split(".") + qualname.split(".")
    if not all(p.isidentifier() for p in parts):
        raise ConfigError(f"{flag} {path!r} is not an import path; write package.module:Class")
    try:
        obj = importlib.import_module(module)
    except Exception as err:  # not found, or the user's module raised while importing
        name = getattr(err, "name", None) if isinstance(err, ModuleNotFoundError) else None
        if name is not None and (module == name or module.startswith(name + ".")):
            raise ConfigError(
                f"{flag} {path}: module {module!r} not found on the Python path; run from the "
                "folder that holds it or add that folder to PYTHONPATH"
            ) from None
        why = f"{type(err).__name__}: {' '.join(str(err).split())}"
        raise ConfigError(f"{flag} {path}: importing {module!r} failed ({why})") from None
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{flag} {path}: module {module!r} has no attribute {qualname!r}")
        obj = getattr(obj, part)
    return check_class(obj, base, flag=f"{flag} {path}")


def check_class(obj, base: type, *, flag: str) -> type:
    """``obj`` if it is a concrete subclass of ``base``.

    Raises:
        ConfigError: one line naming ``flag`` and why not.
    """
    expected = f"{base.__module__.split('._')[0]}.{base.__name__}"
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise ConfigError(f"{flag} is not a subclass of {expected} (it is {obj!r:.60})")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise ConfigError(f"{flag} is abstract: it does not define {missing}")
    return obj
