"""The registry of model classes, keyed by each class's declared ``name``.

A model that can be built from a name and options declares ``name`` (a class attribute) and a
classmethod ``build(state_size, approximator, **model_options)``, where ``approximator(in_features,
out_features)`` returns a freshly initialised approximator; its keyword-only parameters are the
model's options. Adding such a model is one new module plus one line in ``_MODEL_CLASSES``; the
CLI's ``--model`` choices come from here.
"""

from __future__ import annotations

from .._errors import ConfigError
from ._base import AbstractVectorField
from ._dissipative import DissipativeHNN
from ._hnn import HNN
from ._lnn import LNN
from ._neural_ode import NeuralODE
from ._nsf import NeuralSymplecticForm
from ._port import PortHNN

_MODEL_CLASSES: tuple[type[AbstractVectorField], ...] = (
    NeuralODE,
    HNN,
    DissipativeHNN,
    LNN,
    NeuralSymplecticForm,
    PortHNN,
)

#: every buildable model class by its declared name
MODELS: dict[str, type[AbstractVectorField]] = {cls.name: cls for cls in _MODEL_CLASSES}


def model_class(name: str) -> type[AbstractVectorField]:
    """The model class registered under ``name`` (``"node"``, ``"hnn"``, ...).

    Raises:
        ConfigError: for an unknown name (the message lists the known ones).
    """
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]
