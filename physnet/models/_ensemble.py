"""Ensembles: N models of one structure with their parameters stacked on a leading axis."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from .._checks import integer
from .._errors import ConfigError


class Ensemble:
    """N models of identical structure stored with a leading member axis.

    N models of identical structure (for example, different seeds), stored as one graph
    definition and one state whose every array has a leading member axis of size N.

    The stacked form is what ``jax.vmap`` needs: :func:`physnet.training.fit_ensemble` trains
    all members in one compiled call, and :func:`physnet.rollout` rolls all members out at once
    (returning a leading member axis), so the spread over members is an uncertainty estimate.

    Args:
        models: at least one model; all must have the same structure and variable shapes.

    Raises:
        ConfigError: if the models differ in structure or shapes.
    """

    def __init__(self, models: Sequence[nnx.Module]):
        models = list(models)
        if not models:
            raise ConfigError("Ensemble: need at least one model")
        graphdef, first = nnx.split(models[0])
        states = [first]
        for i, m in enumerate(models[1:], 1):
            g, s = nnx.split(m)
            shapes = jax.tree.map(jnp.shape, s)
            if g != graphdef or shapes != jax.tree.map(jnp.shape, first):
                raise ConfigError(f"Ensemble: model {i} differs in structure from model 0")
            states.append(s)
        self.graphdef = graphdef
        self.state = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
        self.size = len(models)

    @classmethod
    def from_factory(cls, factory: Callable[[nnx.Rngs], nnx.Module], size: int, *, seed: int = 0):
        """``size`` models ``factory(nnx.Rngs(seed + i))``, i = 0..size-1."""
        integer("Ensemble", "size", size, low=1)
        return cls([factory(nnx.Rngs(seed + i)) for i in range(size)])

    @classmethod
    def from_state(cls, graphdef, state) -> Ensemble:
        """An ensemble from a graph definition and a state whose arrays all carry the same
        leading member axis (the inverse of reading ``ensemble.graphdef, ensemble.state``).

        Raises:
            ConfigError: if the state is empty or its arrays disagree on the member count.
        """
        sizes = {int(jnp.shape(x)[0]) if jnp.ndim(x) else 0 for x in jax.tree.leaves(state)}
        if len(sizes) != 1 or 0 in sizes:
            raise ConfigError(
                "Ensemble.from_state: every array needs the same leading member axis, got "
                f"sizes {sorted(sizes)}"
            )
        self = cls.__new__(cls)
        self.graphdef, self.state, self.size = graphdef, state, sizes.pop()
        return self

    def __len__(self) -> int:
        return self.size

    def member(self, i: int) -> nnx.Module:
        """A standalone copy of member ``i``."""
        if not -self.size <= i < self.size:
            raise IndexError(f"Ensemble has {self.size} members, got index {i}")
        return nnx.merge(self.graphdef, jax.tree.map(lambda x: x[i], self.state))

    def members(self) -> list[nnx.Module]:
        return [self.member(i) for i in range(self.size)]

    def apply(self, fn: Callable[[nnx.Module], jax.Array]) -> jax.Array:
        """``fn(member)`` for every member, vmapped; the result has a leading member axis."""
        graphdef = self.graphdef
        return jax.vmap(lambda s: fn(nnx.merge(graphdef, s)))(self.state)
