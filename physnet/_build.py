"""Build models and approximators from names and options (used by the CLI and experiments).

Each builder validates its options and raises :class:`ConfigError` naming the bad one.
"""

from __future__ import annotations

from typing import Any

from flax import nnx

from ._errors import ConfigError
from .approximators import KAN, MLP


def build_approximator(
    kind: str, in_features: int, out_features: int, *, rngs: nnx.Rngs, **options: Any
):
    """An approximator by name: ``"mlp"``, ``"softexp"`` (MLP with soft-exponential) or ``"kan"``.

    Options are passed to the constructor (``width``, ``depth``, ``activation`` for MLPs).
    For ``"kan"``: ``width`` (hidden nodes, default 5) and ``depth`` (hidden layers, default
    1), or ``widths`` (the hidden widths as a list); ``grid`` (default 5), ``order`` (default
    3), ``grid_range``, ``grid_eps``, ``mult_arity`` and ``activation`` (the base function,
    default silu).
    """
    options = {k: v for k, v in options.items() if v is not None}
    if kind == "mlp":
        return MLP(in_features, out_features, rngs=rngs, **options)
    if kind == "softexp":
        options["activation"] = "soft_exponential"
        return MLP(in_features, out_features, rngs=rngs, **options)
    if kind == "kan":
        return _build_kan(in_features, out_features, rngs=rngs, **options)
    raise ConfigError(f"unknown approximator {kind!r}; choose one of {', '.join(APPROXIMATORS)}")


APPROXIMATORS = ("mlp", "softexp", "kan")

_KAN_OPTIONS = ("grid", "order", "grid_range", "grid_eps", "mult_arity")


def _build_kan(in_features: int, out_features: int, *, rngs: nnx.Rngs, **options: Any) -> KAN:
    width = options.pop("width", 5)
    depth = options.pop("depth", 1)
    hidden = options.pop("widths", None)
    if hidden is None:
        for name, value in (("width", width), ("depth", depth)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"kan: {name} must be a positive integer, got {value!r}")
        hidden = [width] * depth
    kwargs = {}
    if "activation" in options:
        kwargs["base_activation"] = options.pop("activation")
    unknown = sorted(set(options) - set(_KAN_OPTIONS))
    if unknown:
        raise ConfigError(
            f"kan: unknown option(s) {', '.join(unknown)}; choose from width, depth, widths, "
            f"activation, {', '.join(_KAN_OPTIONS)}"
        )
    return KAN([in_features, *hidden, out_features], rngs=rngs, **kwargs, **options)


def build_model(kind: str, state_size: int, approximator: str, *, seed: int = 0, **options: Any):
    """A model by name (``"node"``, ``"hnn"``, ``"dhnn"``, ``"lnn"``) around a freshly
    initialised approximator.

    ``"dhnn"`` takes the model options ``dissipation`` (``"friction"``, the default;
    ``"general"``, with A from a second approximator of the same kind with
    ``dissipation_rank`` rows, default the state size; or ``"none"``) and ``gamma_init``.
    ``"lnn"`` takes the model option ``kinetic`` (default 1.0: L = |q̇|²/2 + L_NN, see
    :class:`~physnet.LNN`) and with an MLP defaults to ``activation="softplus"``.
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
        kinetic = options.pop("kinetic", None)
        kinetic = 1.0 if kinetic is None else kinetic
        if approximator == "mlp" and options.get("activation") is None:
            options["activation"] = "softplus"
        lagrangian = build_approximator(approximator, state_size, 1, rngs=rngs, **options)
        return LNN(lagrangian, kinetic=kinetic)
    raise ConfigError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")


MODELS = ("node", "hnn", "dhnn", "lnn")
