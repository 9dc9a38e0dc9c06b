"""Pure helpers of Hamiltonian mechanics used by the energy models."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


def canonical_matrix(n: int, dtype=jnp.float64) -> Array:
    """The canonical symplectic matrix J = [[0, I], [-I, 0]] of size 2n."""
    eye = jnp.eye(n, dtype=dtype)
    zero = jnp.zeros((n, n), dtype=dtype)
    return jnp.block([[zero, eye], [-eye, zero]])


def symplectic_gradient(hamiltonian, y: Array) -> Array:
    r"""Hamilton's equations J∇H(y): (∂H/∂p, -∂H/∂q) for ``y = (q, p)``.

    Args:
        hamiltonian: scalar function of one state of shape ``(2n,)``.
        y: the state, shape ``(2n,)``.
    """
    n = y.shape[-1] // 2
    g = jax.grad(hamiltonian)(y)
    return jnp.concatenate([g[n:], -g[:n]])
