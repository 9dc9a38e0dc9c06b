"""Build models and approximators from registered names and options (the CLI, run
directories and experiments use this).

Model classes come from :data:`physnet.models.MODELS` (each declares ``name`` and a ``build``
classmethod), approximators from :data:`physnet.approximators.APPROXIMATORS`. Each builder
validates its options and raises :class:`ConfigError` naming the bad one.
"""

from __future__ import annotations

import inspect
from typing import Any

from flax import nnx

from ._errors import ConfigError
from .approximators import APPROXIMATORS, build_approximator
from .approximators._registry import approximator_builder
from .models import MODELS, model_class

__all__ = ["APPROXIMATORS", "MODELS", "PRESETS", "build_approximator", "build_model"]

#: Documented presets of :func:`build_model` (so of ``physnet train``) where they differ from
#: the classes' defaults: ``{model: {"model": {...}, approximator: {...}}}``, applied to options
#: the caller leaves unset. The LNN is built as L = |q̇|²/2 + L_NN with a softplus MLP (see
#: :class:`~physnet.LNN`: the kinetic reference term keeps the mass matrix positive at the
#: start; the class default is Cranmer's pure form, kinetic=0, with the MLP's tanh).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "lnn": {"model": {"kinetic": 1.0}, "mlp": {"activation": "softplus"}},
    "nsf": {"model": {"canonical": 1.0}},
}


def model_options(kind: str) -> tuple[str, ...]:
    """The option names that model ``kind``'s ``build`` takes (the rest go to the
    approximator)."""
    params = inspect.signature(model_class(kind).build).parameters
    return tuple(
        k
        for k, p in params.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and k != "input_size"
    )


def has_input_port(cls) -> bool:
    """Whether the model class can be built with an input port (its ``build`` takes
    ``input_size``): the one test of it, for :func:`build_model` and ``--model auto``."""
    return "input_size" in inspect.signature(cls.build).parameters


def build_model(
    kind: str,
    state_size: int,
    approximator: str,
    *,
    seed: int = 0,
    input_size: int = 0,
    **options: Any,
):
    """Build a model by registered name or class around fresh approximators.

    A model by registered name (``"node"``, ``"hnn"``, ``"dhnn"``, ``"lnn"``, ...) around
    freshly initialised approximators of registered kind ``approximator``; either may instead
    be a user's own class or its import path ``package.module:Class`` (see
    :func:`~physnet.models.model_class`, :func:`~physnet.approximators.build_approximator`).

    Options named by the model class's ``build`` (e.g. ``dissipation``, ``dissipation_rank``,
    ``gamma_init`` for ``"dhnn"``; ``kinetic`` for ``"lnn"``) go to the model, the others to
    every approximator it builds; ``None`` means the default. :data:`PRESETS` fill options
    left unset. Parameters are initialised from ``nnx.Rngs(seed)``. ``input_size = m > 0``
    builds the model with an input port of m channels (models whose ``build`` takes
    ``input_size``: ``"node"``, ``"port-hnn"``).

    Raises:
        ConfigError: for an unknown name or option, an invalid value, or inputs for a model
            without an input port.
    """
    cls = model_class(kind)
    if input_size:
        if not has_input_port(cls):
            raise ConfigError(
                f"model {kind!r} has no input port, but the data have {input_size} input(s); "
                "choose a model with one (node, port-hnn)"
            )
        options["input_size"] = input_size
    approximator_builder(approximator)  # an unknown name or bad path fails before any work
    if "rngs" in options:
        raise ConfigError(
            "build_model initialises from seed=N (an integer), not rngs=; pass seed instead"
        )
    options = {k: v for k, v in options.items() if v is not None}
    preset = PRESETS.get(kind, {})
    for k, v in {**preset.get("model", {}), **preset.get(approximator, {})}.items():
        options.setdefault(k, v)
    names = (*model_options(kind), "input_size")
    own = {k: options.pop(k) for k in list(options) if k in names}
    rngs = nnx.Rngs(seed)

    def make(in_features: int, out_features: int):
        return build_approximator(approximator, in_features, out_features, rngs=rngs, **options)

    return cls.build(state_size, make, **own)
