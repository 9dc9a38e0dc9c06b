"""Pure helpers of Hamiltonian and Lagrangian mechanics used by the energy models."""

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


def mass_matrix(lagrangian, q: Array, qdot: Array) -> Array:
    r"""The generalised mass matrix ∂²L/∂q̇∂q̇ of a Lagrangian at one state.

    Args:
        lagrangian: scalar function ``lagrangian(q, qdot)`` with ``q``, ``qdot`` of shape
            ``(n,)``.
        q: positions, shape ``(n,)``.
        qdot: velocities, shape ``(n,)``.

    Returns:
        The symmetric matrix ∂²L/∂q̇², shape ``(n, n)``.
    """
    return jax.hessian(lagrangian, argnums=1)(q, qdot)


def euler_lagrange_acceleration(
    lagrangian, q: Array, qdot: Array, force: Array | None = None
) -> Array:
    r"""The acceleration q̈ solved from the Euler-Lagrange equations of ``lagrangian``.

    d/dt ∂L/∂q̇ = ∂L/∂q + Q expands to (∂²L/∂q̇²) q̈ + (∂²L/∂q̇∂q) q̇ = ∂L/∂q + Q, so

    .. math::
        \ddot q = \left(\frac{\partial^2 L}{\partial \dot q^2}\right)^{-1}
        \left(\frac{\partial L}{\partial q}
        - \frac{\partial^2 L}{\partial \dot q\, \partial q}\, \dot q + Q\right),

    with (∂²L/∂q̇∂q)_ij = ∂²L/∂q̇_i∂q_j. The mass matrix is factorised once (LU with partial
    pivoting) and the system solved: no pseudo-inverse, so a singular mass matrix is never
    hidden. When it is singular to working precision (its smallest LU pivot is at most
    ``n·eps`` times its largest, which includes the zero matrix) the result is NaN in every
    component, on purpose: under ``jit`` the failure then shows up as a non-finite loss
    (:func:`physnet.fit` stops with :class:`~physnet.TrainingDivergedError`) or a NaN rollout,
    never as a silently wrong finite number. Check a Lagrangian outside ``jit`` with
    :meth:`physnet.LNN.check_mass_matrix`.

    Args:
        lagrangian: scalar function ``lagrangian(q, qdot)``, twice differentiable.
        q: positions, shape ``(n,)``.
        qdot: velocities, shape ``(n,)``.
        force: an optional generalised force Q, shape ``(n,)`` (e.g. a Rayleigh friction
            -γq̇); none by default.

    Returns:
        q̈, shape ``(n,)``.

    Reference: Cranmer et al., "Lagrangian Neural Networks", 2020, eq. 6.
    """
    n = q.shape[-1]
    gradient = jax.grad(lagrangian, argnums=(0, 1))

    def directional(tangent_q, tangent_qdot):  # (∇L, d∇L along the tangent): forward-over-reverse
        return jax.jvp(gradient, (q, qdot), (tangent_q, tangent_qdot))

    # one batch of n + 1 forward-over-reverse passes: along (q̇, 0) gives (∂²L/∂q̇∂q) q̇, and
    # along (0, e_i) the columns of the mass matrix ∂²L/∂q̇²; every primal output is ∇L
    tangents_q = jnp.concatenate([qdot[None], jnp.zeros((n, n), qdot.dtype)])
    tangents_qdot = jnp.concatenate([jnp.zeros((1, n), qdot.dtype), jnp.eye(n, dtype=qdot.dtype)])
    (grad_q, _), (_, d_qdot) = jax.vmap(directional)(tangents_q, tangents_qdot)
    rhs = grad_q[0] - d_qdot[0]
    if force is not None:
        rhs = rhs + force
    mass = d_qdot[1:].T  # mass[:, i] = ∂(∂L/∂q̇)/∂q̇_i
    if n == 1:  # LU of a 1 x 1 matrix is the matrix: divide, without LAPACK calls
        qddot = rhs / mass[0]
        pivots = jnp.abs(mass[0])
    else:
        lu, piv = jax.scipy.linalg.lu_factor(mass)
        qddot = jax.scipy.linalg.lu_solve((lu, piv), rhs)
        pivots = jnp.abs(jnp.diagonal(lu))
    tolerance = n * jnp.finfo(pivots.dtype).eps * jnp.max(pivots)
    singular = jnp.min(pivots) <= tolerance
    return jnp.where(singular, jnp.nan, qddot)
