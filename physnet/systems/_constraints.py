"""Holonomic constraints on positions, and the constrained Hamiltonian and Lagrangian flows.

Pure functions shared by the Cartesian systems (:class:`~physnet.systems.CartesianChainPendulum`)
and the constrained models (:class:`~physnet.models.ConstrainedHNN`,
:class:`~physnet.models.ConstrainedLNN`), after Finzi, Wang & Wilson, "Simplifying Hamiltonian
and Lagrangian Neural Networks via Explicit Constraints", NeurIPS 2020.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax import Array

from .._checks import number
from .._errors import ConfigError


def links(owner: str, n) -> int:
    """``n`` as a number of links, an integer >= 1 (an integral float such as 3.0 passes:
    command-line flags are floats)."""
    try:
        ok = float(n) == int(n) and int(n) >= 1 and not isinstance(n, bool)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ConfigError(f"{owner}: n must be an integer >= 1, got {n!r}")
    return int(n)


@dataclasses.dataclass(frozen=True)
class ChainConstraints:
    r"""The rod constraints of a planar chain of ``n`` point masses hung from the origin.

    Positions x = (x_1, y_1, ..., x_n, y_n) of shape ``(2n,)``; the constraints are

    .. math::
        \phi_1(x) = |r_1|^2 - l^2, \qquad \phi_k(x) = |r_k - r_{k-1}|^2 - l^2 \quad (k = 2..n),

    so that :meth:`__call__` returns φ(x) of shape ``(n,)``, zero on the constraint manifold.

    Args:
        n: number of links (an integer >= 1).
        length: rod length l (> 0).
    """

    n: int = 2
    length: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "n", links("ChainConstraints", self.n))
        object.__setattr__(
            self, "length", number("ChainConstraints", "length", self.length, positive=True)
        )

    def __call__(self, x: Array) -> Array:
        r = x.reshape(self.n, 2)
        d = jnp.concatenate([r[:1], r[1:] - r[:-1]])
        return jnp.sum(d**2, axis=-1) - self.length**2


def constraint_drift(constraints, ys: Array) -> Array:
    """How far each state of a rollout lies off the constraint manifold.

    max |φ(x)| over the constraints at each state of a rollout ``ys`` (``(T, 2D)``, first half
    positions); returns ``(T,)``: how far a numerical flow leaves the manifold."""
    d = ys.shape[-1] // 2
    return jax.vmap(lambda y: jnp.max(jnp.abs(constraints(y[:d]))))(ys)


def _velocity_constraints(constraints, x: Array, v: Array) -> Array:
    """Φ̇ = Dφ(x) v, the time derivative of the constraints along velocity ``v``."""
    return jax.jvp(constraints, (x,), (v,))[1]


def constrained_hamiltonian_field(hamiltonian, constraints, z: Array) -> Array:
    r"""Hamilton's equations projected onto the constraint manifold (Finzi et al. 2020, eq. 7).

    With z = (x, p) of shape ``(2D,)`` and the 2C constraints Φ(z) = (φ(x), Dφ(x) ∂H/∂p),

    .. math::
        \dot z = P(z) J \nabla H(z), \qquad
        P = I - J\, D\Phi^\top (D\Phi\, J\, D\Phi^\top)^{-1} D\Phi,

    so Φ is conserved along the flow (DΦ ż = 0) and, for a state on the manifold, the flow
    stays on it; H is conserved too (∇Hᵀ P J ∇H = 0). The Lagrange multipliers' matrix
    DΦ J DΦᵀ is solved directly (no pseudo-inverse).

    Args:
        hamiltonian: scalar function of one state ``(2D,)``.
        constraints: φ, a function of the positions ``(D,)`` returning ``(C,)``.
        z: the state, shape ``(2D,)``.
    """
    d = z.shape[-1] // 2

    def big_phi(z_):
        x = z_[:d]
        v = jax.grad(hamiltonian)(z_)[d:]
        return jnp.concatenate([constraints(x), _velocity_constraints(constraints, x, v)])

    g = jax.grad(hamiltonian)(z)
    field = jnp.concatenate([g[d:], -g[:d]])
    dphi = jax.jacfwd(big_phi)(z)  # (2C, 2D)
    j_dphi_t = jnp.concatenate([dphi[:, d:], -dphi[:, :d]], axis=1).T  # J DΦᵀ, (2D, 2C)
    multipliers = jnp.linalg.solve(dphi @ j_dphi_t, dphi @ field)
    return field - j_dphi_t @ multipliers


def constrained_acceleration(lagrangian, constraints, x: Array, v: Array) -> Array:
    r"""ẍ of a Lagrangian ``lagrangian(x, v)`` under holonomic constraints φ(x) = 0.

    The constrained Euler-Lagrange equations M ẍ = f(x, v) - Dφᵀλ, with M = ∂²L/∂v² and
    f = ∂L/∂x - (∂²L/∂v∂x) v, and the multipliers λ fixed by φ̈ = Dφ ẍ + (d/dt Dφ) v = 0:

    .. math::
        (D\phi\, M^{-1} D\phi^\top) \lambda = D\phi\, M^{-1} f + (\tfrac{d}{dt} D\phi)\, v,
        \qquad \ddot x = M^{-1}(f - D\phi^\top \lambda).

    Args:
        lagrangian: scalar function ``lagrangian(x, v)`` of positions and velocities ``(D,)``.
        constraints: φ, a function of the positions ``(D,)`` returning ``(C,)``.
        x: positions, shape ``(D,)``.
        v: velocities, shape ``(D,)``.
    """
    gradient = jax.grad(lagrangian, argnums=(0, 1))
    (grad_x, _), (_, mixed_v) = jax.jvp(gradient, (x, v), (v, jnp.zeros_like(v)))
    mass = jax.hessian(lagrangian, argnums=1)(x, v)
    force = grad_x - mixed_v
    dphi = jax.jacfwd(constraints)(x)  # (C, D)
    curvature = jax.jvp(lambda x_: _velocity_constraints(constraints, x_, v), (x,), (v,))[1]
    m_inv_f = jnp.linalg.solve(mass, force)
    m_inv_dphi_t = jnp.linalg.solve(mass, dphi.T)
    multipliers = jnp.linalg.solve(dphi @ m_inv_dphi_t, dphi @ m_inv_f + curvature)
    return m_inv_f - m_inv_dphi_t @ multipliers


def project_onto_manifold(
    constraints, z: Array, *, metric: Array | None = None, iterations: int = 8
) -> Array:
    r"""The state ``z = (x, w)`` moved onto the constraint manifold.

    Positions by Gauss-Newton steps x ← x - Dφᵀ(DφDφᵀ)⁻¹φ(x) (quadratic convergence, so a
    few steps reach round-off from a nearby x), then the second half w onto the tangent space:
    w ← w - Dφᵀ(Dφ G Dφᵀ)⁻¹ Dφ G w with G = ``metric`` (default I; pass M⁻¹ for momenta
    p = M v, so that Dφ M⁻¹ p = 0).

    Args:
        constraints: φ, a function of the positions ``(D,)`` returning ``(C,)``.
        z: the state ``(2D,)``: positions, then velocities or momenta.
        metric: G, shape ``(D, D)`` (default identity: w are velocities).
        iterations: Gauss-Newton steps for the positions.
    """
    d = z.shape[-1] // 2
    x, w = z[:d], z[d:]

    def step(x_, _):
        dphi = jax.jacfwd(constraints)(x_)
        return x_ - dphi.T @ jnp.linalg.solve(dphi @ dphi.T, constraints(x_)), None

    x, _ = jax.lax.scan(step, x, None, length=iterations)
    dphi = jax.jacfwd(constraints)(x)
    g = jnp.eye(d, dtype=z.dtype) if metric is None else metric
    w = w - dphi.T @ jnp.linalg.solve(dphi @ g @ dphi.T, dphi @ (g @ w))
    return jnp.concatenate([x, w])
