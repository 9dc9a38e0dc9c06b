r"""Linear-quadratic regulation of a (learned) field at an equilibrium, and the switch to it.

The field f(t, y, u) is linearised at (y*, u*): ẏ ≈ A (y - y*) + B (u - u*), A = ∂f/∂y,
B = ∂f/∂u (by ``jax.jacfwd``); the LQR gain minimises ∫ eᵀQe + vᵀRv dt with the Riccati
solution P of AᵀP + PA - PBR⁻¹BᵀP + Q = 0 (``scipy.linalg.solve_continuous_are``):

.. math:: u = u^* - K (y - y^*), \qquad K = R^{-1} B^\top P,

and A - BK is Hurwitz when (A, B) is stabilisable. :class:`Switched` uses it inside the
ellipsoid eᵀPe < level and another law (energy shaping) outside.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ._base import AbstractController, controlled_field, wrap_error


def linearize(field, y_eq, u_eq) -> tuple[np.ndarray, np.ndarray]:
    """A = ∂f/∂y ``(d, d)`` and B = ∂f/∂u ``(d, m)`` of ``field(t, y, u)`` at ``(y_eq, u_eq)``."""
    y_eq, u_eq = jnp.asarray(y_eq, jnp.float64), jnp.asarray(u_eq, jnp.float64)
    a = jax.jacfwd(lambda y: field(0.0, y, u_eq))(y_eq)
    b = jax.jacfwd(lambda u: field(0.0, y_eq, u))(u_eq)
    return np.asarray(a), np.asarray(b)


def lqr(a, b, q, r) -> tuple[np.ndarray, np.ndarray]:
    """The continuous-time LQR gain K ``(m, d)`` and Riccati solution P ``(d, d)``.

    Raises:
        ConfigError: when the Riccati equation has no stabilising solution ((A, B) not
            stabilisable, or Q, R not positive (semi-)definite).
    """
    from scipy.linalg import solve_continuous_are

    a, b, q, r = (np.atleast_2d(np.asarray(x, dtype=np.float64)) for x in (a, b, q, r))
    try:
        p = solve_continuous_are(a, b, q, r)
    except (np.linalg.LinAlgError, ValueError) as error:
        raise ConfigError(f"LQR: no stabilising Riccati solution ({error})") from None
    return np.linalg.solve(r, b.T @ p), p


class LQR(AbstractController):
    """u = sat(u* - K (y - y*)), K the LQR gain of the source's linearisation at (y*, u*).

    Args:
        source: a model with an input port (``model(t, y, u)``) or a system with an input.
        target: y* ``(d,)``, an equilibrium of the source under u*.
        q: state weight ``(d, d)``; r: input weight ``(m, m)``.
        target_input: u* ``(m,)`` (default 0).
        periodic: indices of angle coordinates (the error is wrapped to [-π, π)).
        bound: the input bound ū (default none).

    Attributes:
        gain: K ``(m, d)``; riccati: P ``(d, d)``; a, b: the linearisation;
        eigenvalues: those of A - BK (all in the left half-plane).

    Raises:
        ConfigError: for a source without an input port, weights of the wrong shape or a
            Riccati equation without a stabilising solution.
    """

    def __init__(self, source, target, *, q, r, target_input=None, periodic=(), bound=None):
        field, self.input_size = controlled_field("LQR", source)
        self.target = jnp.asarray(target, dtype=jnp.float64)
        d, m = self.target.shape[0], self.input_size
        self.target_input = (
            jnp.zeros((m,)) if target_input is None else jnp.asarray(target_input, jnp.float64)
        )
        q, r = np.atleast_2d(np.asarray(q, float)), np.atleast_2d(np.asarray(r, float))
        if q.shape != (d, d) or r.shape != (m, m) or self.target_input.shape != (m,):
            raise ConfigError(
                f"LQR: q must be ({d}, {d}), r ({m}, {m}) and target_input ({m},), got "
                f"{q.shape}, {r.shape}, {self.target_input.shape}"
            )
        self.periodic = tuple(int(i) for i in periodic)
        self.bound = None if bound is None else number("LQR", "bound", bound, positive=True)
        self.a, self.b = linearize(field, self.target, self.target_input)
        self.gain, self.riccati = lqr(self.a, self.b, q, r)
        self.eigenvalues = np.linalg.eigvals(self.a - self.b @ self.gain)

    def error(self, y: Array) -> Array:
        """y - y* with the angles wrapped."""
        return wrap_error(y, self.target, self.periodic)

    def cost_to_go(self, y: Array) -> Array:
        """eᵀPe, the linearisation's optimal cost from ``y`` (a region: eᵀPe < level)."""
        e = self.error(y)
        return e @ jnp.asarray(self.riccati) @ e

    def feedback(self, y: Array) -> Array:
        u = self.target_input - jnp.asarray(self.gain) @ self.error(y)
        return u if self.bound is None else jnp.clip(u, -self.bound, self.bound)


class Switched(AbstractController):
    """The LQR law inside its ellipsoid eᵀPe < ``level``, ``outside`` elsewhere.

    Args:
        near: an :class:`LQR`.
        outside: any memoryless controller of the same input size (:class:`EnergyShaping`).
        level: the ellipsoid's level (> 0).

    Raises:
        ConfigError: for controllers of different input sizes or a non-positive level.
    """

    def __init__(self, near: LQR, outside: AbstractController, *, level: float):
        if not isinstance(near, LQR) or near.input_size != outside.input_size:
            raise ConfigError(
                "Switched: near must be an LQR with the input size of outside, got "
                f"{type(near).__name__} and {type(outside).__name__}"
            )
        self.near, self.outside = near, outside
        self.level = number("Switched", "level", level, positive=True)
        self.input_size = near.input_size

    def feedback(self, y: Array) -> Array:
        inside = self.near.cost_to_go(y) < self.level
        return jnp.where(inside, self.near.feedback(y), self.outside.feedback(y))
