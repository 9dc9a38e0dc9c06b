"""Build models and approximators from names and options (used by the CLI and experiments).

Each builder validates its options and raises :class:`ConfigError` naming the bad one.
"""

from __future__ import annotations

from typing import Any

from flax import nnx

from ._errors import ConfigError
from .approximators import MLP


def build_approximator(
    kind: str, in_features: int, out_features: int, *, rngs: nnx.Rngs, **options: Any
):
    """An approximator by name: ``"mlp"`` or ``"softexp"`` (MLP with soft-exponential).

    Options are passed to the constructor (``width``, ``depth``, ``activation`` for MLPs).
    """
    options = {k: v for k, v in options.items() if v is not None}
    if kind == "mlp":
        return MLP(in_features, out_features, rngs=rngs, **options)
    if kind == "softexp":
        options["activation"] = "soft_exponential"
        return MLP(in_features, out_features, rngs=rngs, **options)
    raise ConfigError(f"unknown approximator {kind!r}; choose one of {', '.join(APPROXIMATORS)}")


APPROXIMATORS = ("mlp", "softexp")


def build_model(kind: str, state_size: int, approximator: str, *, seed: int = 0, **options: Any):
    """A model by name (``"node"``, ``"hnn"``, ``"dhnn"``, ``"lnn"``) around a freshly
    initialised approximator.

    ``"dhnn"`` takes the model options ``dissipation`` (``"friction"``, the default;
    ``"general"``, with A from a second approximator of the same kind with
    ``dissipation_rank`` rows, default the state size; or ``"none"``) and ``gamma_init``.
    ``"lnn"`` with an MLP defaults to ``activation="softplus"`` and ``init="lnn"``.
    Other options go to the approximator.
    """
    from .models import HNN, LNN, DissipativeHNN, NeuralODE

    rngs = nnx.Rngs(seed)
    if kind == "node":
        return NeuralODE(
            build_approximator(approximator, state_size, state_size, rngs=rngs, **options)
        )
    if kind == "hnn":
        return HNN(build_approximator(approximator, state_size, 1, rngs=rngs, **options))
    if kind == "dhnn":
        form = options.pop("dissipation", None) or "friction"
        rank = options.pop("dissipation_rank", None)
        gamma_init = options.pop("gamma_init", None)
        extra = {} if gamma_init is None else {"gamma_init": gamma_init}
        hamiltonian = build_approximator(approximator, state_size, 1, rngs=rngs, **options)
        if form == "general":
            rank = state_size if rank is None else rank
            if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
                raise ConfigError(f"dissipation_rank must be a positive integer, got {rank!r}")
            form = build_approximator(
                approximator, state_size, rank * state_size, rngs=rngs, **options
            )
        return DissipativeHNN(hamiltonian, form, **extra)
    if kind == "lnn":
        if approximator == "mlp":
            for name, default in (("activation", "softplus"), ("init", "lnn")):
                if options.get(name) is None:
                    options[name] = default
        return LNN(build_approximator(approximator, state_size, 1, rngs=rngs, **options))
    raise ConfigError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")


MODELS = ("node", "hnn", "dhnn", "lnn")
