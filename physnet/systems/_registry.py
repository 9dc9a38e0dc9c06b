"""The registry of known systems, keyed by each class's declared ``name``.

Adding a system is one new module with an :class:`AbstractSystem` subclass that declares
``name`` plus one line in ``_SYSTEM_CLASSES`` below; the CLI's ``--system`` choices and
parameter flags are generated from this registry.
"""

from __future__ import annotations

from .._errors import ConfigError, DataError
from ._analytic import HarmonicOscillator, Pendulum
from ._base import AbstractSystem
from ._double_pendulum import DoublePendulum
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
)

#: every known system class by its declared name
SYSTEMS: dict[str, type[AbstractSystem]] = {cls.name: cls for cls in _SYSTEM_CLASSES}

# names written into data files by physnet 0.1.0 (the lower-cased class name)
_LEGACY_NAMES = {"harmonicoscillator": "harmonic"}


def system_class(name: str) -> type[AbstractSystem]:
    """The system class registered under ``name``.

    Raises:
        ConfigError: for an unknown name (the message lists the known ones).
    """
    name = _LEGACY_NAMES.get(name, name)
    if name not in SYSTEMS:
        raise ConfigError(f"unknown system {name!r}; choose one of {', '.join(SYSTEMS)}")
    return SYSTEMS[name]


def system_from_metadata(metadata: dict) -> AbstractSystem:
    """The system a data file's metadata names (``{"system": NAME, "parameters": {...}}``),
    on the states' coordinates: wrapped in :class:`VelocityCoordinates` where
    ``metadata["coordinates"] == "velocity"`` (states (q, q̇)).

    Raises:
        DataError: if the metadata name no known system or carry parameters it does not take.
    """
    name = metadata.get("system")
    if not isinstance(name, str) or _LEGACY_NAMES.get(name, name) not in SYSTEMS:
        raise DataError(
            f"the data name no known system (metadata system={name!r}; known: {', '.join(SYSTEMS)})"
        )
    cls = system_class(name)
    params = metadata.get("parameters") or {}
    unknown = sorted(set(params) - set(cls.parameter_defaults()))
    if unknown:
        raise DataError(
            f"the data's parameters {unknown} do not belong to system {cls.name!r} "
            f"(its parameters: {', '.join(cls.parameter_defaults())})"
        )
    try:
        system = cls(**params)
    except ConfigError as err:
        raise DataError(f"the data's system parameters are invalid: {err}") from None
    if metadata.get("coordinates") == "velocity":
        return system.in_velocity_coordinates()
    return system
