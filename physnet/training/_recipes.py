"""Named training recipes: an optimizer spec (and a step count) that reaches a given accuracy in
the least wall time on physnet's benchmark problems (see ``benchmarks/bench_time_to_accuracy.py``).

``pn.fit(model, data, steps=..., optimizer="fast")`` and ``physnet train --preset fast`` use
:data:`RECIPES`; ``"source"`` is the source's recipe (3000 Adam steps at 1e-3).
"""

from __future__ import annotations

import dataclasses

import optax

from .._errors import ConfigError
from ._optimizers import Adam, AdamThenLBFGS, OptimizerSpec
from ._optimizers import adam_then_lbfgs as adam_then_lbfgs  # kept importable from here


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named training recipe.

    Attributes:
        name: its name (``pn.fit(..., optimizer=name)``, ``physnet train --preset name``).
        steps: the default number of optimizer steps.
        optimizer: the optimizer spec (its step-dependent options filled by the fit).
        description: one line.
    """

    name: str
    steps: int
    optimizer: OptimizerSpec
    description: str


RECIPES: dict[str, Recipe] = {
    "fast": Recipe(
        "fast",
        1000,
        AdamThenLBFGS(learning_rate=1e-2),
        "50 Adam steps (warm-up-cosine, peak 1e-2), then L-BFGS; full batch",
    ),
    "source": Recipe(
        "source", 3000, Adam(1e-3), "the source's recipe: Adam at a constant rate of 1e-3"
    ),
}
"""The training recipes by name (``pn.fit(optimizer=NAME)``, ``--preset NAME``)."""


def recipe_spec(name: str) -> OptimizerSpec:
    """The optimizer spec of recipe ``name``; ConfigError for an unknown name."""
    if name not in RECIPES:
        raise ConfigError(
            f"unknown training recipe {name!r}; choose one of {', '.join(RECIPES)} or pass an "
            "optax optimizer"
        )
    return RECIPES[name].optimizer


def recipe_optimizer(name: str, steps: int) -> optax.GradientTransformation:
    """The optimizer of recipe ``name`` for ``steps`` steps; ConfigError for an unknown name."""
    return recipe_spec(name).resolve(steps).build()
