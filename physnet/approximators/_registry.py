"""The registry of approximators by name: how ``--approximator NAME`` and
:func:`physnet.build_approximator` build one from options.

Each entry is a builder ``(in_features, out_features, *, rngs, **options) -> approximator``.
Adding an approximator is one new module plus one line in ``APPROXIMATORS``.
"""

from __future__ import annotations

import inspect
from typing import Any

from flax import nnx

from .._checks import integer, known_options
from .._classpath import check_class, import_class, is_class_path
from .._errors import ConfigError
from ._base import AbstractApproximator
from ._kan import KAN
from ._mlp import MLP
from ._polynomial import Polynomial


def _check_options(kind: str, options: dict, target) -> None:
    """ConfigError naming the first option ``target``'s signature does not take (none when it
    takes ``**kwargs``): read from the signature, not from a TypeError's text."""
    params = inspect.signature(target).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(options) - set(params))
    if unknown:
        known = [k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        raise ConfigError(
            f"{kind}: unexpected keyword argument {unknown[0]!r} (its options: "
            f"{', '.join(k for k in known if k != 'rngs') or 'none'})"
        )


def _mlp(in_features: int, out_features: int, *, rngs: nnx.Rngs, **options: Any) -> MLP:
    """:class:`MLP` with the given options (``width``, ``depth``, ``activation``, ``init``)."""
    _check_options("mlp", options, MLP.__init__)
    return MLP(in_features, out_features, rngs=rngs, **options)


def _softexp(in_features: int, out_features: int, *, rngs: nnx.Rngs, **options: Any) -> MLP:
    """:class:`MLP` with the learnable soft-exponential activation (Godfrey & Gashler 2016)."""
    activation = options.pop("activation", "soft_exponential")
    if activation != "soft_exponential":
        raise ConfigError(
            f"softexp: the activation is soft_exponential by definition, got "
            f"activation={activation!r}; use --approximator mlp for other activations"
        )
    _check_options("softexp", options, MLP.__init__)
    return MLP(in_features, out_features, rngs=rngs, activation="soft_exponential", **options)


_KAN_OPTIONS = ("grid", "order", "grid_range", "grid_eps", "mult_arity")


def _kan(in_features: int, out_features: int, *, rngs: nnx.Rngs, **options: Any) -> KAN:
    """:class:`KAN` ``[in, width × depth, out]``: ``width`` (hidden nodes, default 5) and
    ``depth`` (hidden layers, default 1), or ``widths`` (the hidden widths as a list);
    ``grid``, ``order``, ``grid_range``, ``grid_eps``, ``mult_arity`` as in :class:`KAN`,
    and ``activation`` (the base function, default silu)."""
    width = options.pop("width", 5)
    depth = options.pop("depth", 1)
    hidden = options.pop("widths", None)
    if hidden is None:
        integer("kan", "width", width, low=1)
        integer("kan", "depth", depth, low=1)
        hidden = [width] * depth
    kwargs = {}
    if "activation" in options:
        kwargs["base_activation"] = options.pop("activation")
    known_options("kan", options, ("width", "depth", "widths", "activation", *_KAN_OPTIONS))
    return KAN([in_features, *hidden, out_features], rngs=rngs, **kwargs, **options)


def _polynomial(
    in_features: int, out_features: int, *, rngs: nnx.Rngs, **options: Any
) -> Polynomial:
    """:class:`Polynomial` with the given options (``degree``, ``constant``, ``exclude``,
    ``init_scale``)."""
    _check_options("polynomial", options, Polynomial.__init__)
    return Polynomial(in_features, out_features, rngs=rngs, **options)


APPROXIMATORS = {"mlp": _mlp, "softexp": _softexp, "kan": _kan, "polynomial": _polynomial}
"""The approximator builders by registered name (``physnet train --approximator NAME``)."""


def approximator_builder(kind: str | type):
    """The builder ``(in_features, out_features, *, rngs, **options)`` of a registered
    approximator name, or a user's own class (the class itself or its import path
    ``package.module:Class``, whose module is imported): a subclass of
    :class:`AbstractApproximator` constructed as ``cls(in_features, out_features, rngs=rngs,
    **options)``.

    Raises:
        ConfigError: for an unknown name or a path that does not import such a class.
    """
    if isinstance(kind, type):
        return check_class(kind, AbstractApproximator, flag=f"approximator {kind!r}")
    if is_class_path(kind):
        return import_class(kind, AbstractApproximator, flag="--approximator")
    if kind not in APPROXIMATORS:
        raise ConfigError(
            f"unknown approximator {kind!r}; choose one of {', '.join(APPROXIMATORS)}, or "
            "name your own class as package.module:Class"
        )
    return APPROXIMATORS[kind]


def build_approximator(
    kind: str | type, in_features: int, out_features: int, *, rngs: nnx.Rngs, **options: Any
):
    """Build an approximator by registered name or class, with options.

    An approximator ``(in_features,) -> (out_features,)`` by registered name (``"mlp"``,
    ``"softexp"``, ``"kan"``, ``"polynomial"``) or a user's own class (the class or
    ``package.module:Class``, see :func:`approximator_builder`) and options; options that are
    ``None`` take the defaults.

    Raises:
        ConfigError: for an unknown name or option (the message names it and the choices).
    """
    builder = approximator_builder(kind)
    options = {k: v for k, v in options.items() if v is not None}
    _check_options(str(kind), options, builder)  # the registered builders check their own
    return builder(in_features, out_features, rngs=rngs, **options)
