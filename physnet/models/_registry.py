"""The registry of model classes, keyed by each class's declared ``name``.

A model that can be built from a name and options declares ``name`` (a class attribute) and a
classmethod ``build(state_size, approximator, **model_options)``, where ``approximator(in_features,
out_features)`` returns a freshly initialised approximator; its keyword-only parameters are the
model's options. Adding such a model is one new module plus one line in ``_MODEL_CLASSES``; the
CLI's ``--model`` choices come from here.
"""

from __future__ import annotations

from .._classpath import check_class, import_class, is_class_path
from .._errors import ConfigError
from ._base import AbstractVectorField
from ._constrained import ConstrainedHNN, ConstrainedLNN
from ._dissipative import DissipativeHNN
from ._hnn import HNN
from ._lnn import LNN
from ._neural_ode import NeuralODE
from ._nsf import NeuralSymplecticForm
from ._port import PortHNN
from ._structured import DeLaN, StructuredHNN

_MODEL_CLASSES: tuple[type[AbstractVectorField], ...] = (
    NeuralODE,
    HNN,
    DissipativeHNN,
    LNN,
    NeuralSymplecticForm,
    PortHNN,
    DeLaN,
    StructuredHNN,
    ConstrainedHNN,
    ConstrainedLNN,
)

MODELS: dict[str, type[AbstractVectorField]] = {cls.name: cls for cls in _MODEL_CLASSES}
"""Every buildable model class by its declared name (``physnet train --model NAME``)."""


def model_class(name: str | type[AbstractVectorField]) -> type[AbstractVectorField]:
    """The model class registered under a name, or a user's own class.

    The model class registered under ``name`` (``"node"``, ``"hnn"``, ...), or a user's
    own: the class itself or its import path ``package.module:Class`` (whose module is
    imported), a subclass of :class:`AbstractVectorField` with a ``build`` classmethod.

    Raises:
        ConfigError: for an unknown name (the message lists the known ones), or a path that
            does not import such a class (one line saying why).
    """
    if isinstance(name, type) or is_class_path(name):
        flag = "--model" if isinstance(name, str) else f"model {name!r}"
        if isinstance(name, str):
            cls = import_class(name, AbstractVectorField, flag=flag)
        else:
            cls = check_class(name, AbstractVectorField, flag=flag)
        if not callable(getattr(cls, "build", None)):
            raise ConfigError(
                f"{flag} has no classmethod build(state_size, approximator, *, options) to "
                "build it from options; build the model in Python and use physnet.fit"
            )
        return cls
    if name not in MODELS:
        raise ConfigError(
            f"unknown model {name!r}; choose one of {', '.join(MODELS)}, or name your own "
            "class as package.module:Class"
        )
    return MODELS[name]
