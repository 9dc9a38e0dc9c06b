"""The registry of known systems, keyed by each class's declared ``name``.

Adding a system is one new module with an :class:`AbstractSystem` subclass that declares
``name`` plus one line in ``_SYSTEM_CLASSES`` below; the CLI's ``--system`` choices and
parameter flags are generated from this registry. Registering is optional: any subclass works
in every API path, and ``--system package.module:Class`` names one on the command line.
"""

from __future__ import annotations

import inspect

from .._classpath import check_class, class_path, import_class, importable, is_class_path
from .._errors import ConfigError, DataError
from ._acrobot import Acrobot
from ._analytic import HarmonicOscillator, Pendulum
from ._base import _DEFINED, AbstractSystem, VelocityCoordinates
from ._cart_pole import CartPole
from ._chain_pendulum import CartesianChainPendulum, ChainPendulum
from ._double_pendulum import DoublePendulum
from ._driven import DrivenDuffing, DrivenPendulum, MassSpringDamper
from ._duffing import Duffing
from ._forced_duffing import ForcedDuffing
from ._mass_spring import MassSpring
from ._spring_chain import SpringChain
from ._two_body import TwoBody

_SYSTEM_CLASSES: tuple[type[AbstractSystem], ...] = (
    Duffing,
    HarmonicOscillator,
    Pendulum,
    MassSpring,
    TwoBody,
    DoublePendulum,
    SpringChain,
    ForcedDuffing,
    DrivenPendulum,
    MassSpringDamper,
    DrivenDuffing,
    ChainPendulum,
    CartesianChainPendulum,
    CartPole,
    Acrobot,
)

SYSTEMS: dict[str, type[AbstractSystem]] = {cls.name: cls for cls in _SYSTEM_CLASSES}
"""Every known system class by its declared name (``physnet simulate --system NAME``)."""

# names written into data files by physnet 0.1.0 (the lower-cased class name)
_LEGACY_NAMES = {"harmonicoscillator": "harmonic"}


def system_class(name: str | type[AbstractSystem]) -> type[AbstractSystem]:
    """The system class registered under a name, or a user's own class.

    The system class registered under ``name``, or a user's own class: an
    :class:`AbstractSystem` subclass itself, or its import path ``package.module:Class``
    (whose module is imported: only for a path the user names).

    Raises:
        ConfigError: for an unknown name (the message lists the known ones), or a path that
            does not import an :class:`AbstractSystem` subclass (one line saying why).
    """
    if isinstance(name, type):
        return check_class(name, AbstractSystem, flag=f"system {name!r}")
    if is_class_path(name):
        return import_class(name, AbstractSystem, flag="--system")
    name = _LEGACY_NAMES.get(name, name)
    if name not in SYSTEMS:
        raise ConfigError(
            f"unknown system {name!r}; choose one of {', '.join(SYSTEMS)}, or name your own "
            "class as package.module:Class"
        )
    return SYSTEMS[name]


def _canonical(system: AbstractSystem) -> AbstractSystem:
    return system.system if isinstance(system, VelocityCoordinates) else system


def system_metadata(system: AbstractSystem) -> dict:
    """What a data file records of ``system``: ``{"system": name, "parameters": {...}}``, and
    for a class that is not registered (a user's own) ``"system_class"``, its import path
    ``module:QualName``, from which :func:`system_from_metadata` rebuilds it."""
    base = _canonical(system)
    meta = {"system": base.name, "parameters": base.parameters()}
    if SYSTEMS.get(base.name) is not type(base):
        meta["system_class"] = class_path(type(base))
    return meta


def _named(system) -> type[AbstractSystem]:
    """The class of a system the caller names: a class, an instance or an import path."""
    if isinstance(system, AbstractSystem):
        return type(_canonical(system))
    return system_class(system)


def _recorded_class(path: str, system) -> type[AbstractSystem]:
    """The class of a data file's ``system_class``: the ``system`` the caller names (a class,
    an instance, or an import path, imported because the caller asked), else a class defined
    in this process already (nothing is imported: a data file never runs code)."""
    recorded = path.rpartition(":")[2].rpartition(".")[2]
    if system is not None:
        cls = _named(system)
        if cls.__name__ != recorded:
            raise DataError(
                f"the data's system is {path}, not {class_path(cls)}; name the data's own class"
            )
        return cls
    cls = _DEFINED.get(path)
    if cls is not None:
        return cls
    if not importable(path):
        raise DataError(
            f"the data's system class {path} was defined in a script, notebook or function, "
            "which cannot be imported; define it in an importable module and pass --system "
            "module:Class (system=... in Python)"
        )
    raise DataError(
        f"the data's system is the class {path}; physnet does not import code named in a data "
        f"file: pass --system {path} (system=... in Python) to import it"
    )


def system_from_metadata(
    metadata: dict, *, system: str | type[AbstractSystem] | AbstractSystem | None = None
) -> AbstractSystem:
    """The system that a data file's metadata names, on its coordinates.

    The system a data file's metadata names (``{"system": NAME, "parameters": {...}}``),
    on the states' coordinates: wrapped in :class:`VelocityCoordinates` where
    ``metadata["coordinates"] == "velocity"`` (states (q, q̇)).

    A user's own class (``metadata["system_class"]``, ``module:QualName``) is rebuilt from a
    class already defined in this process, or from ``system`` (a class, an instance or an
    import path, which is imported): a module named inside a data file is never imported
    unasked, since importing runs its code.

    Raises:
        DataError: if the metadata name no known system, a class that is not at hand (the
            message says to pass ``--system module:Class``), or carry parameters it does not
            take.
    """
    name = metadata.get("system")
    path = metadata.get("system_class")
    if isinstance(path, str):
        cls = _recorded_class(path, system)
    elif not isinstance(name, str) or _LEGACY_NAMES.get(name, name) not in SYSTEMS:
        raise DataError(
            f"the data name no known system (metadata system={name!r}; known: {', '.join(SYSTEMS)})"
        )
    else:
        cls = system_class(name)
        if system is not None and _named(system) is not cls:
            raise DataError(f"the data's system is {name!r}, not {system!r}")
    params = metadata.get("parameters") or {}
    unknown = sorted(set(params) - set(inspect.signature(cls).parameters))
    if unknown:
        raise DataError(
            f"the data's parameters {unknown} do not belong to system {cls.name!r} "
            f"(its parameters: {', '.join(cls.parameter_defaults())})"
        )
    try:
        built = cls(**params)
    except ConfigError as err:
        raise DataError(f"the data's system parameters are invalid: {err}") from None
    except Exception as err:  # a user's constructor rejecting the recorded parameters
        raise DataError(
            f"the data's system parameters do not build {cls.name!r} ({type(err).__name__}: "
            f"{' '.join(str(err).split())})"
        ) from None
    if metadata.get("coordinates") == "velocity":
        return built.in_velocity_coordinates()
    return built
