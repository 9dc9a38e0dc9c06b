"""A closed-form scalar 'approximator' for testing energy models against hand derivations."""

import jax.numpy as jnp

from physnet.approximators import AbstractApproximator


class Formula(AbstractApproximator):
    """The scalar function ``fn(x)`` of one state of size ``in_features``, without parameters."""

    def __init__(self, fn, in_features: int = 2):
        self.fn = fn
        self.in_features, self.out_features = in_features, 1

    def __call__(self, x):
        return jnp.reshape(self.fn(x), (1,))

    def config(self):
        return {}
