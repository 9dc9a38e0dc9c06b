r"""Input ports of port-Hamiltonian models: how a measured input u enters, G(y) u.

A port-Hamiltonian model with an input port is

.. math:: \dot y = \bigl(J - R(y)\bigr)\nabla H(y) + G(y)\, u,

so that dH/dt = -∇Hᵀ R ∇H + ∇Hᵀ G u: the input's power (∇Hᵀ G u = yᵀ_out u, with the
collocated output y_out = Gᵀ∇H) minus the dissipation, whatever H, R and G (passivity).

- :class:`KnownInputPort` — G given (a torque on the momenta: G = (0, I)ᵀ);
- :class:`LearnedInputPort` — G = (0, B)ᵀ with B (N × m) learned: constant, or B(q) an
  approximator of the positions (SymODEN's g(q), Zhong et al. 2020).
"""

from __future__ import annotations

import abc
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import integer, number
from .._errors import ConfigError
from ..approximators import AbstractApproximator
from ._base import AbstractComponent, Part


class AbstractInputPort(AbstractComponent):
    """The input matrix G(y) of shape ``(2N, m)`` of a port-Hamiltonian model."""

    dof: int
    input_size: int

    @abc.abstractmethod
    def matrix(self, y: Array) -> Array:
        """G(y), shape ``(2N, m)``, at one state ``y`` ``(2N,)``."""


class KnownInputPort(AbstractInputPort):
    """A fixed input matrix G ``(2N, m)`` (no parameters).

    Args:
        matrix: G as nested lists or an array of shape ``(2N, m)``, 2N even.

    Raises:
        ConfigError: for a matrix that is not 2-D with an even number of rows, or not finite.
    """

    def __init__(self, matrix):
        g = np.asarray(matrix, dtype=np.float64)
        if g.ndim != 2 or g.shape[0] % 2 or g.shape[1] < 1 or not np.all(np.isfinite(g)):
            raise ConfigError(
                "KnownInputPort: matrix must be a finite (2N, m) array with m >= 1, got shape "
                f"{g.shape}"
            )
        self.dof, self.input_size = g.shape[0] // 2, g.shape[1]
        self.g = nnx.Variable(jnp.asarray(g))

    @classmethod
    def on_momenta(cls, dof: int) -> KnownInputPort:
        """G = (0, I)ᵀ: one input per momentum (a force or torque on each coordinate)."""
        return cls(np.concatenate([np.zeros((dof, dof)), np.eye(dof)]))

    def matrix(self, y: Array) -> Array:
        return self.g[...]

    def config(self) -> dict[str, Any]:
        return {"matrix": np.asarray(self.g[...]).tolist()}


class LearnedInputPort(AbstractInputPort):
    r"""G = (0, B)ᵀ with B learned: constant ``(N, m)``, or B(q) = an approximator of q.

    The input acts on the momenta only (forces and torques), as in every mechanical system;
    :meth:`readout` gives the constant gain ``input_gain_i_j`` = B_ij.

    Args:
        dof: N.
        input_size: m.
        approximator: ``(N,) -> (N·m,)`` for B(q), or ``None`` for a constant B.
        gain_init: initial value of every entry of the constant B (default 0.5).

    Raises:
        ConfigError: for non-positive sizes or an approximator of the wrong shape.
    """

    def __init__(
        self,
        dof: int,
        input_size: int,
        *,
        approximator: AbstractApproximator | None = None,
        gain_init: float = 0.5,
    ):
        self.dof = integer("LearnedInputPort", "dof", dof, low=1)
        self.input_size = integer("LearnedInputPort", "input_size", input_size, low=1)
        self.gain_init = number("LearnedInputPort", "gain_init", gain_init)
        if approximator is not None and (
            not isinstance(approximator, AbstractApproximator)
            or approximator.in_features != dof
            or approximator.out_features != dof * input_size
        ):
            raise ConfigError(
                f"LearnedInputPort: approximator must map q ({dof},) to B(q) "
                f"({dof * input_size},), got {approximator!r}"
            )
        self.approximator = approximator
        self.gain = nnx.Param(jnp.full((dof, input_size), self.gain_init, dtype=jnp.float64))

    def gain_matrix(self, q: Array) -> Array:
        """B(q), shape ``(N, m)``."""
        if self.approximator is None:
            return self.gain[...]
        return self.gain[...] + jnp.reshape(self.approximator(q), (self.dof, self.input_size))

    def matrix(self, y: Array) -> Array:
        b = self.gain_matrix(y[: self.dof])
        return jnp.concatenate([jnp.zeros_like(b), b], axis=0)

    def readout(self) -> dict[str, float]:
        """``input_gain_i_j`` = B_ij (i, j from 1) of a constant gain (none for B(q))."""
        if self.approximator is not None:
            return {}
        gain = np.asarray(self.gain[...])
        return {
            f"input_gain_{i + 1}_{j + 1}": float(gain[i, j])
            for i in range(self.dof)
            for j in range(self.input_size)
        }

    def readout_in(self, scales: np.ndarray) -> dict[str, float]:
        """B in the data's units: the input drives ṗ_i, so with p_i = b_i p̃_i (u never
        rescaled) B_ij = b_i B̃_ij. (In an LNN the gain is relative to the learned L's scale
        instead; :class:`~physnet.LNN` reports it unconverted.)"""
        out = self.readout()
        b = scales[self.dof :]
        return {k: v * float(b[int(k.split("_")[2]) - 1]) for k, v in out.items()}

    def config(self) -> dict[str, Any]:
        return {"dof": self.dof, "input_size": self.input_size, "gain_init": self.gain_init}

    def submodules(self) -> dict[str, nnx.Module]:
        return {} if self.approximator is None else {"approximator": self.approximator}

    def parts(self) -> tuple[Part, ...]:
        if self.approximator is None:
            return ()
        return (Part(
                "B",
                "input_matrix",
                self.approximator,
                "the input-gain network B(q)",
                inputs="configuration",
            ),)
