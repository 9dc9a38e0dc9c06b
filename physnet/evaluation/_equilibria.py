"""The equilibria of a vector field, their linear stability, and the decay rate they imply.

What a scientist asks first of a learned law dy/dt = f(y): where does it rest (f(y*) = 0), is
each rest point stable (the eigenvalues of the Jacobian ∂f/∂y at y*), and how fast does a
dissipative system settle. :func:`equilibria` answers the first two for any field with the
diffrax signature (a physnet model, or a known system's ``vector_field``, so the learned and
the true answers come from the same routine); :func:`decay_rate` the third.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .._errors import ConfigError

#: the classes of :func:`classify`
KINDS = ("stable", "unstable", "saddle", "centre", "non-hyperbolic")

#: an eigenvalue whose |Re λ| is at most this times max(1, max_i |λ_i|) lies on the imaginary
#: axis (and one whose |λ| is at most that is zero); see :func:`classify`
STABILITY_TOL = 1e-6
#: a start has converged to an equilibrium when max_i |f_i(y)| is at most this times the
#: field's RMS over the starts (its typical speed)
RESIDUAL_TOL = 1e-8
#: the search box is the data's range widened by this fraction of its width on each side
MARGIN = 0.1


@dataclasses.dataclass(frozen=True)
class Equilibrium:
    """A fixed point f(y*) = 0 of a vector field and its linearisation.

    Attributes:
        state: y* ``(d,)``.
        eigenvalues: the eigenvalues of the Jacobian ∂f/∂y at y*, complex ``(d,)``, sorted by
            real part then imaginary part.
        kind: :func:`classify` of the eigenvalues.
        residual: max_i |f_i(y*)|.
    """

    state: np.ndarray
    eigenvalues: np.ndarray
    kind: str
    residual: float

    def to_json(self) -> dict[str, Any]:
        """``{"state", "eigenvalues" (pairs [Re, Im]), "kind", "residual"}``, plain floats."""
        return {
            "state": [float(x) for x in self.state],
            "eigenvalues": [[float(z.real), float(z.imag)] for z in self.eigenvalues],
            "kind": self.kind,
            "residual": float(self.residual),
        }


def classify(eigenvalues, tol: float = STABILITY_TOL) -> str:
    """The linear stability of an equilibrium from its Jacobian's eigenvalues λ.

    With ε = ``tol`` · max(1, max_i |λ_i|) (the tolerance, relative to the fastest rate):
    ``"saddle"`` if some Re λ > ε and some Re λ < -ε; ``"unstable"`` if some Re λ > ε and
    none < -ε; ``"stable"`` (asymptotically: node or focus) if every Re λ < -ε; ``"centre"``
    if every |Re λ| <= ε and every |Im λ| > ε (what a Hamiltonian field has at a minimum of
    H); otherwise ``"non-hyperbolic"`` (a zero eigenvalue, or stable and centre directions
    together: the linearisation does not decide).
    """
    lam = np.asarray(eigenvalues, dtype=complex)
    eps = tol * max(1.0, float(np.max(np.abs(lam)))) if lam.size else tol
    pos = int(np.sum(lam.real > eps))
    neg = int(np.sum(lam.real < -eps))
    if pos and neg:
        return "saddle"
    if pos:
        return "unstable"
    if neg == lam.size:
        return "stable"
    if neg == 0 and bool(np.all(np.abs(lam.imag) > eps)):
        return "centre"
    return "non-hyperbolic"


def decay_rate(found: Sequence[Equilibrium]) -> float | None:
    """The slowest asymptotic decay rate at the field's stable equilibria (1/time units).

    At a stable equilibrium y*, a small perturbation decays as exp(-σ t) with
    σ = min_i (-Re λ_i), the slowest mode; this returns the minimum of σ over every
    ``"stable"`` equilibrium in ``found``, or ``None`` if none is stable (a conservative
    field: centres and saddles). For the damped Duffing oscillator (α > 0, γ² < 4α) it is γ/2,
    the rate at which the amplitude decays (the energy decays at γ).
    """
    rates = [float(np.min(-e.eigenvalues.real)) for e in found if e.kind == "stable"]
    return min(rates) if rates else None


def search_box(samples, margin: float = MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """The per-component range of samples, widened by a margin.

    The range of ``samples`` ``(n, d)`` per component, widened by ``margin`` times its width
    on each side (a constant component by ``margin`` times max(1, |value|))."""
    x = np.asarray(samples, dtype=float).reshape(-1, np.shape(samples)[-1])
    x = x[np.all(np.isfinite(x), axis=1)]
    if x.shape[0] == 0:
        raise ConfigError("equilibria: no finite samples to take the search box from")
    lo, hi = x.min(axis=0), x.max(axis=0)
    width = np.where(hi > lo, hi - lo, np.maximum(1.0, np.abs(lo)))
    return lo - margin * width, hi + margin * width


def _solve_all(f, y0s, iterations: int):
    """Levenberg-Marquardt from every start: the end points, their field and Jacobian, and
    the field at the starts (its scale)."""
    ys = jax.vmap(lambda y: _newton(f, y, iterations))(y0s)
    return ys, jax.vmap(f)(ys), jax.vmap(jax.jacfwd(f))(ys), jax.vmap(f)(y0s)


@functools.partial(jax.jit, static_argnames=("graphdef", "iterations"))
def _solve_module(graphdef, state, y0s, *, iterations):
    """:func:`_solve_all` for a physnet model, compiled once per structure (its parameters
    are arguments, so the members of an ensemble share one compilation)."""
    f = lambda y: nnx.merge(graphdef, state)(0.0, y, None)  # noqa: E731
    return _solve_all(f, y0s, iterations)


def _solve(field, y0s, iterations: int):
    if isinstance(field, nnx.Module):
        graphdef, state = nnx.split(field)
        return _solve_module(graphdef, state, y0s, iterations=iterations)
    try:
        hash(field)
    except TypeError:  # an unhashable callable: compiled for this call only
        f = lambda y: field(0.0, y, None)  # noqa: E731
        return jax.jit(lambda y0s: _solve_all(f, y0s, iterations))(y0s)
    return _solve_callable(field, y0s, iterations=iterations)


@functools.partial(jax.jit, static_argnames=("field", "iterations"))
def _solve_callable(field, y0s, *, iterations):
    """:func:`_solve_all` for a callable ``field(t, y, args)`` (a system's ``vector_field``),
    compiled once per field (equal systems hash equal)."""
    return _solve_all(lambda y: field(0.0, y, None), y0s, iterations)


def _newton(f, y0, iterations: int):
    """Levenberg-Marquardt on f(y) = 0 from ``y0``: steps (JᵀJ + μ I)⁻¹ Jᵀ f, μ shrunk on
    success and grown on failure, so a start far from a root still descends ‖f‖² and one near a
    root converges quadratically (μ -> 0 is Newton's method)."""
    jac = jax.jacfwd(f)
    d = y0.shape[0]

    def body(_, carry):
        y, mu = carry
        r, j = f(y), jac(y)
        step = jnp.linalg.solve(j.T @ j + mu * jnp.eye(d, dtype=y.dtype), -(j.T @ r))
        y_new = y + step
        r_new = f(y_new)
        better = jnp.all(jnp.isfinite(r_new)) & (jnp.sum(r_new**2) < jnp.sum(r**2))
        y = jnp.where(better, y_new, y)
        mu = jnp.where(better, jnp.maximum(mu / 10.0, 1e-15), jnp.minimum(mu * 10.0, 1e15))
        return y, mu

    y, _ = jax.lax.fori_loop(0, iterations, body, (y0, jnp.asarray(1e-3, dtype=y0.dtype)))
    return y


def equilibria(
    field,
    state_size: int,
    *,
    box: tuple[Any, Any] | None = None,
    samples=None,
    key=None,
    n_starts: int = 256,
    iterations: int = 60,
    residual_tol: float = RESIDUAL_TOL,
    stability_tol: float = STABILITY_TOL,
    max_count: int = 32,
) -> list[Equilibrium]:
    """The fixed points f(y*) = 0 of a vector field in a box, with their linear stability.

    ``n_starts`` points drawn uniformly in the box (plus its centre and, when inside, the
    origin) are each driven to a root by Levenberg-Marquardt (:func:`jax.jacfwd`, vmapped over
    the starts, ``iterations`` steps). A start counts when its residual max_i |f_i(y)| is at
    most ``residual_tol`` times the field's RMS over the starts and it ends inside the box;
    starts that end within 1e-6 of the box's width (per component) of each other are one
    equilibrium. Each is classified by the eigenvalues of its Jacobian (:func:`classify`, ``stability_tol``).

    Args:
        field: a vector field with the diffrax signature ``f(t, y, args)`` (a physnet model, a
            system's ``vector_field``); time-independent (it is evaluated at t = 0).
        state_size: d.
        box: ``(lo, hi)``, each ``(d,)``: where to search.
        samples: states ``(n, d)`` (the data) whose range, widened by :data:`MARGIN` on each
            side (:func:`search_box`), is the box when ``box`` is not given.
        key: PRNG key of the starts (default ``jax.random.key(0)``: deterministic).
        max_count: at most this many equilibria are returned (the nearest the box's centre),
            so a field with a continuum of rest points answers in bounded time and size.

    Returns:
        The equilibria, sorted by distance from the box's centre (in box-width units).

    Raises:
        ConfigError: without ``box`` or ``samples``, or on a box of the wrong shape.
    """
    if box is None:
        if samples is None:
            raise ConfigError("equilibria: give a search box (lo, hi) or samples of the states")
        box = search_box(samples)
    lo, hi = (np.asarray(b, dtype=np.float64).reshape(-1) for b in box)
    if lo.shape != (state_size,) or hi.shape != (state_size,) or not np.all(hi > lo):
        raise ConfigError(
            f"equilibria: the box must be two arrays of shape ({state_size},) with lo < hi, "
            f"got {lo} and {hi}"
        )
    key = jax.random.key(0) if key is None else key
    u = np.asarray(jax.random.uniform(key, (n_starts, state_size), dtype=jnp.float64))
    extra = [(lo + hi) / 2]
    if np.all((lo <= 0) & (0 <= hi)):
        extra.append(np.zeros(state_size))
    starts = jnp.asarray(np.concatenate([np.stack(extra), lo + u * (hi - lo)]))

    ys, rs, jacobians, r0 = (np.asarray(a) for a in _solve(field, starts, int(iterations)))
    scale = float(np.sqrt(np.mean(r0[np.all(np.isfinite(r0), axis=1)] ** 2))) or 1.0
    width = hi - lo
    residual = np.max(np.abs(rs), axis=1)
    inside = np.all((ys >= lo - 1e-9 * width) & (ys <= hi + 1e-9 * width), axis=1)
    ok = np.flatnonzero(np.isfinite(residual) & (residual <= residual_tol * scale) & inside)
    found: list[int] = []
    for i in ok[np.argsort(residual[ok])]:
        if all(np.max(np.abs(ys[i] - ys[k]) / width) > 1e-6 for k in found):
            found.append(i)
    centre = (lo + hi) / 2
    found.sort(key=lambda i: float(np.linalg.norm((ys[i] - centre) / width)))
    out = []
    for i in found[:max_count]:
        lam = np.linalg.eigvals(jacobians[i]) + 0.0  # + 0.0: no signed zeros
        lam = lam[np.lexsort((lam.imag, lam.real))]
        out.append(Equilibrium(ys[i], lam, classify(lam, stability_tol), float(residual[i])))
    return out


def match_equilibria(
    learned: Sequence[Equilibrium], true: Sequence[Equilibrium], width
) -> list[dict]:
    """Pair each learned equilibrium with its nearest true one.

    For each learned equilibrium, its nearest true one: ``{"true": index, "distance"
    (max-norm, in the states' units), "eigenvalue_error"}``, the eigenvalue error the largest
    |λ - λ_true| after pairing each learned eigenvalue with its nearest unused true one.
    ``width`` ``(d,)`` (the box's) weighs the components in choosing the nearest."""
    out = []
    for e in learned:
        if not true:
            out.append({"true": None, "distance": None, "eigenvalue_error": None})
            continue
        dist = [float(np.max(np.abs(e.state - t.state) / width)) for t in true]
        i = int(np.argmin(dist))
        t = true[i]
        unused = list(t.eigenvalues)
        err = 0.0
        for lam in e.eigenvalues:
            k = int(np.argmin([abs(lam - mu) for mu in unused]))
            err = max(err, abs(lam - unused.pop(k)))
        out.append(
            {
                "true": i,
                "distance": float(np.max(np.abs(e.state - t.state))),
                "eigenvalue_error": float(err),
            }
        )
    return out


def format_eigenvalues(eigenvalues) -> str:
    """Format eigenvalues compactly, conjugate pairs once.

    ``-0.05±0.999i, ...``: conjugate pairs once, real ones alone, 3 significant digits; a
    real part below 1e-9 · max(1, max |λ|) (round-off of a centre) shows as 0."""
    lam = np.asarray(eigenvalues, dtype=complex)
    tiny = 1e-9 * max(1.0, float(np.max(np.abs(lam)))) if lam.size else 0.0
    lam = np.where(np.abs(lam.real) <= tiny, 0.0, lam.real) + 1j * lam.imag  # round-off: 0
    parts, lam = [], list(lam)
    while lam:
        z = lam.pop(0)
        if abs(z.imag) > 1e-12 * max(1.0, abs(z)):
            k = int(np.argmin([abs(w - z.conjugate()) for w in lam])) if lam else None
            if k is not None:
                lam.pop(k)
            parts.append(f"{z.real:.3g}±{abs(z.imag):.3g}i")
        else:
            parts.append(f"{z.real:.3g}")
    return ", ".join(parts)
