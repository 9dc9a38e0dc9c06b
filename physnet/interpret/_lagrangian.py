"""The learned Lagrangian of an LNN as a formula (:func:`read_lagrangian`)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import sympy
from flax import nnx

from .._checks import integer
from .._errors import ConfigError, DataError
from ..models import LNN
from ._expressions import (
    _check_names,
    _check_option,
    _coefficients,
)
from ._library import (
    r_squared,
    stlsq,
)
from ._readout import PhysicsReadout, _physics_readout, _read, _scalar_values, _state_samples


def _monomial_derivative(xs: np.ndarray, exponents, wrt: Sequence[int]) -> np.ndarray:
    """∂^k/∂x_{wrt[0]}⋯∂x_{wrt[-1]} of the monomial Π_j x_j^{e_j} at the samples ``xs``."""
    e = np.array(exponents, dtype=np.int64)
    factor = 1.0
    for j in wrt:
        if e[j] == 0:
            return np.zeros(xs.shape[0])
        factor *= e[j]
        e[j] -= 1
    return factor * np.prod(xs ** e[None, :], axis=-1)


def _lagrangian_exponents(d: int, degree: int, gauge_free: bool) -> list[tuple[int, ...]]:
    """Exponents of the non-constant monomials of (q, q̇) up to total ``degree``, without the
    terms f(q)·q̇ (q̇-degree exactly 1) when ``gauge_free`` (one degree of freedom)."""
    n = d // 2
    return [
        e
        for total in range(1, degree + 1)
        for e in itertools.product(range(total + 1), repeat=d)
        if sum(e) == total and not (gauge_free and sum(e[n:]) == 1)
    ]


def _el_parts(xs: np.ndarray, exponents, coef: np.ndarray, n: int):
    """∂P/∂q (s, n), ∂²P/∂q̇_i∂q̇_j (s, n, n) and ∂²P/∂q̇_i∂q_j (s, n, n) of the polynomial
    P = Σ_k coef_k·monomial_k."""
    s = xs.shape[0]
    grad_q, m_vv, m_vq = np.zeros((s, n)), np.zeros((s, n, n)), np.zeros((s, n, n))
    for c, e in zip(coef, exponents, strict=True):
        if c == 0.0:
            continue
        for i in range(n):
            grad_q[:, i] += c * _monomial_derivative(xs, e, (i,))
            for j in range(n):
                m_vv[:, i, j] += c * _monomial_derivative(xs, e, (n + i, n + j))
                m_vq[:, i, j] += c * _monomial_derivative(xs, e, (n + i, j))
    return grad_q, m_vv, m_vq


def _read_lagrangian_dynamics(model, xs, names, degree, threshold, normalize):
    r"""Sparse polynomial P(q, q̇) whose Euler-Lagrange equations reproduce the model's
    accelerations on ``xs``; see :func:`read_lagrangian`. Returns (expression, r2, scale)."""
    function = "read_lagrangian"
    d = xs.shape[1]
    n = d // 2
    graphdef, state = nnx.split(model)

    @jax.jit
    def accel_and_mass(state, xs):
        m = nnx.merge(graphdef, state)
        acc = jax.vmap(lambda y: m.conservative_acceleration(y[:n], y[n:]))(xs)
        return acc, jax.vmap(m.mass_matrix)(xs)

    acc, mass = (np.asarray(a) for a in accel_and_mass(state, jnp.asarray(xs)))
    ok = np.isfinite(acc).all(axis=1)
    if not ok.any():
        raise DataError(
            f"{function}: the model's acceleration is not finite at any sample (singular mass "
            "matrix); check it with LNN.check_mass_matrix"
        )
    xs, acc, mass = xs[ok], acc[ok], mass[ok]
    exponents = _lagrangian_exponents(d, degree, gauge_free=n == 1)
    lead = tuple(2 if j == n else 0 for j in range(d))  # q̇_1²
    if lead not in exponents:
        raise ConfigError(f"{function}: method='dynamics' needs degree >= 2, got {degree}")
    v = xs[:, n:]

    def residual_columns(e):  # (E-L residual of the monomial) for every component i
        cols = []
        for i in range(n):
            r = -_monomial_derivative(xs, e, (i,))
            for j in range(n):
                r = r + _monomial_derivative(xs, e, (n + i, n + j)) * acc[:, j]
                r = r + _monomial_derivative(xs, e, (n + i, j)) * v[:, j]
            cols.append(r)
        return np.concatenate(cols)

    # the overall scale is free: fix the q̇_1² coefficient and regress the others on it
    lead_value = 0.5 if normalize else 0.5 * float(np.mean(mass[:, 0, 0]))
    rest = [e for e in exponents if e != lead]
    features = np.stack([residual_columns(e) for e in rest], axis=1)
    target = -lead_value * residual_columns(lead)
    coef_rest = stlsq(features, target, threshold=threshold)
    coef = np.array([lead_value] + list(coef_rest))
    exponents = [lead, *rest]
    grad_q, m_vv, m_vq = _el_parts(xs, exponents, coef, n)
    try:
        predicted = np.linalg.solve(m_vv, (grad_q - np.einsum("sij,sj->si", m_vq, v))[..., None])
        r2 = r_squared(acc.ravel(), predicted[..., 0].ravel())
    except np.linalg.LinAlgError:
        r2 = float("nan")
    symbols = sympy.symbols(names)
    expression = sympy.Add(
        *(
            sympy.Float(c) * sympy.Mul(*(s**k for s, k in zip(symbols, e, strict=True)))
            for c, e in zip(coef, exponents, strict=True)
            if c != 0.0
        )
    )
    scale = 0.5 / (0.5 * float(np.mean(mass[:, 0, 0]))) if normalize else 1.0
    return expression, r2, scale


def _split_gauge(expression: sympy.Expr, symbols, n: int):
    """(expression without its f(q)·q̇ terms, those terms) for one degree of freedom."""
    if n != 1:
        return expression, sympy.Integer(0)
    qdot = symbols[1]
    kept, gauge = [], []
    for term in sympy.Add.make_args(sympy.expand(expression)):
        (gauge if sympy.degree(term, qdot) == 1 else kept).append(term)
    return sympy.Add(*kept), sympy.Add(*gauge)


def read_lagrangian(
    model,
    data,
    *,
    names: Sequence[str] | None = None,
    method: str = "dynamics",
    degree: int = 4,
    threshold: float = 1e-2,
    drop: float = 1e-6,
    points: int = 41,
    normalize: bool = True,
) -> PhysicsReadout:
    r"""Read the Lagrangian of an LNN as a polynomial, up to what the dynamics cannot see.

    L is the model's full Lagrangian, :meth:`~physnet.LNN.lagrangian_at` (with a kinetic
    reference term k/2·|q̇|² when the LNN has ``kinetic=k > 0``; it is part of the model's L).
    For the Duffing oscillator expect L = q̇²/2 - α/2·q² - β/4·q⁴
    (:func:`duffing_coefficients`).

    **What the data determine.** The Euler-Lagrange equations, hence the dynamics and the
    loss, do not change under

    - L -> c·L and L -> L + const: the constant is dropped and, with ``normalize=True``, the
      formula is scaled to a coefficient 1/2 of the first velocity squared;
    - L -> L + d/dt F(q) = L + ∇F(q)·q̇ (a total time derivative). With one degree of freedom
      *every* term f(q)·q̇ is one (F = ∫f dq): such terms are removed from the formula and
      reported in :attr:`PhysicsReadout.gauge_terms`. (With several, f(q)·q̇ is a total
      derivative only if f is a gradient, so nothing is removed.)
    - and, beyond these, with one degree of freedom and a conservative force: any L' with
      ∂²L'/∂q̇² = φ(E) for a function φ of the energy E gives the same equations (the 1-DOF
      inverse problem of the calculus of variations, Darboux/Helmholtz), e.g. for the
      harmonic oscillator L' = q̇⁴/12 + ω²q²q̇²/2 - ω⁴q⁴/4. So the learned L_θ may contain
      components that no data can fix, and its *values* need not be c·L_true.

    Methods:

    - ``"dynamics"`` (default, any approximator): fit what the dynamics determine. The
      model's accelerations q̈_θ at the samples are computed, and the sparse polynomial P of
      total degree <= ``degree`` (terms f(q)·q̇ excluded for one degree of freedom, the
      q̇_1² coefficient fixed) is found by STLSQ on the Euler-Lagrange residual,
      Σ_j P_{q̇_i q̇_j} q̈_θj + Σ_j P_{q̇_i q_j} q̇_j - P_{q_i} ≈ 0, which is linear in P's
      coefficients. Sample where the data are (pass the training
      :class:`~physnet.Trajectories`): that is where the accelerations were fitted. Within
      degree 4 the Duffing L is the unique solution up to scale and gauge (φ(E)-Lagrangians
      of the Duffing oscillator have degree >= 6); at higher ``degree`` the fit can mix them
      in, so keep the degree at the physics' own. ``r2`` compares the formula's
      accelerations with the model's.
    - ``"direct"``: sparse regression of the values of L_θ at the samples on all monomials
      (:func:`fit_polynomial`), then gauge terms removed. Sensitive to the unidentifiable
      components above and to where L_θ is poorly constrained (sample on a box where the
      data are dense rather than on high-energy outliers).
    - ``"symbolic"`` (KAN only): the composed edge formulas (:func:`symbolic_formula`).

    Measured on E5's [2, 10, 1] KAN Lagrangian (Duffing α = 1/2, β = 1/4, seed 0, train MSE
    1.4e-5), errors of the q² and q⁴ coefficient ratios: ``"direct"`` on a grid over the
    central 95 % box 0.55 % and 1.9 % (on the training states 8.7 % and 12 %); a
    least-squares fit of P to ∇L_θ on the box 0.4 % and 0.9 % (on the states 5 % and 4 %);
    ``"dynamics"`` on the training states < 0.01 % for both (on the box 0.04 %, 0.08 %).

    Args:
        model: :class:`~physnet.LNN`.
        data: :class:`~physnet.Trajectories`, states ``(n, 2N)`` or a box (see
            :func:`read_hamiltonian`).
        names: coordinate names, q's first (default ``("q", "qdot")`` for one degree of
            freedom, ``q1.., qdot1..`` otherwise).
        method: ``"dynamics"``, ``"direct"`` or ``"symbolic"``.
        degree, threshold, drop, points: see :func:`read_hamiltonian` (STLSQ's relative
            threshold also for ``"dynamics"``).
        normalize: rescale to a q̇_1² coefficient of 1/2. Without it, ``"direct"`` and
            ``"symbolic"`` keep L_θ's own scale, ``"dynamics"`` the mean of ∂²L_θ/∂q̇_1²
            over the samples.

    Returns:
        :class:`PhysicsReadout` with ``quantity="L"``, ``scale`` the factor applied and
        ``gauge_terms`` the total-derivative terms removed.

    Raises:
        ConfigError: for another model or a bad option. DataError: if ``normalize`` and the
            learned L has no q̇_1² term, or if the accelerations are not finite anywhere.

    Reference: Cranmer et al. (2020), "Lagrangian Neural Networks", arXiv:2003.04630;
    Douglas (1941), "Solution of the inverse problem of the calculus of variations", Trans.
    AMS 50 (non-uniqueness of Lagrangians).
    """
    if not isinstance(model, LNN):
        raise ConfigError(f"read_lagrangian: model must be an LNN, got {type(model).__name__}")
    if method not in ("dynamics", "direct", "symbolic"):
        raise ConfigError(
            f"read_lagrangian: method must be 'dynamics', 'direct' or 'symbolic', got {method!r}"
        )
    d = model.state_size
    n = d // 2
    if names is None:
        names = (
            ("q", "qdot")
            if n == 1
            else tuple([f"q{i + 1}" for i in range(n)] + [f"qdot{i + 1}" for i in range(n)])
        )
    names = _check_names(names, d, "names", "read_lagrangian")
    xs = _state_samples(data, d, points, "read_lagrangian")
    symbols = sympy.symbols(names)
    if method == "dynamics":
        integer("read_lagrangian", "degree", degree, low=1)
        threshold = _check_option(threshold, 0.0, 1.0, "threshold", "read_lagrangian")
        expression, r2, scale = _read_lagrangian_dynamics(
            model, xs, names, degree, threshold, normalize
        )
        gauge = sympy.Integer(0)
    else:
        values = _scalar_values(lambda m, y: m.lagrangian_at(y[:n], y[n:]), model, xs)
        kinetic = sum((s**2 for s in symbols[n:]), sympy.Integer(0)) * model.kinetic / 2
        expression, r2 = _read(
            "L",
            values,
            model.lagrangian,
            xs,
            names,
            method=method,
            degree=degree,
            threshold=threshold,
            drop=drop,
            extra=kinetic,
        )
        expression, gauge = _split_gauge(expression, symbols, n)
        scale = 1.0
        if normalize:
            key = str(symbols[n] ** 2)
            leading = _coefficients(expression).get(key, 0.0)
            if leading == 0.0:
                raise DataError(
                    f"read_lagrangian: the learned L has no {key} term, so it cannot be "
                    "normalised (pass normalize=False)"
                )
            scale = 0.5 / leading
            expression = sympy.expand(expression * scale)
            gauge = sympy.expand(gauge * scale)
    return _physics_readout("L", expression, r2, method, scale, names, gauge)
