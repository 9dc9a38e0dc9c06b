"""Physics read-outs of learned models: H of (dissipative) HNNs, γ, Duffing coefficients.

What a model can read out is declared by the model (:meth:`AbstractVectorField.parts`,
:meth:`AbstractVectorField.readout`); :mod:`._model_readout` reads a whole model.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import sympy
from flax import nnx

from .._errors import ConfigError, DataError
from ..approximators import KAN, Polynomial
from ..models import AbstractEnergyModel, AbstractVectorField, Part
from ._expressions import (
    _as_samples,
    _check_names,
    _coefficients,
    _evaluate,
    _round,
)
from ._library import (
    r_squared,
)
from ._polynomial import fit_polynomial
from ._symbolic import symbolic_formula


@dataclasses.dataclass(frozen=True)
class PhysicsReadout:
    """A learned H or L as a formula (see :func:`read_hamiltonian`, :func:`read_lagrangian`).

    Attributes:
        quantity: ``"H"`` or ``"L"``.
        expression: the formula without its constant term (and, for L, rescaled).
        coefficients: monomial -> coefficient, without the constant.
        formula: ``"H = ..."`` / ``"L = ..."``, coefficients rounded to 6 digits.
        r2: R² of the formula (constant and scale restored) against the learned function
            on the samples; for ``method="dynamics"``, R² of the formula's Euler-Lagrange
            accelerations against the model's.
        method: ``"direct"``, ``"symbolic"`` or ``"dynamics"``.
        scale: the factor the learned L was multiplied by (1 for H).
        names: the variable names.
        gauge_terms: for a Lagrangian of one degree of freedom, the terms f(q)·q̇ removed
            from :attr:`expression` because they are total time derivatives d/dt F(q)
            (same scale as :attr:`coefficients`; empty for ``"dynamics"``, which cannot see
            them, and for H).
    """

    quantity: str
    expression: sympy.Expr
    coefficients: dict[str, float]
    formula: str
    r2: float
    method: str
    scale: float
    names: tuple[str, ...]
    gauge_terms: dict[str, float] = dataclasses.field(default_factory=dict)


def _physics_readout(quantity, expression, r2, method, scale, names, gauge=0) -> PhysicsReadout:
    """The :class:`PhysicsReadout` of ``quantity`` ("H" or "L") from its constant-free
    ``expression`` (and, for L, the removed total-derivative terms ``gauge``)."""
    return PhysicsReadout(
        quantity=quantity,
        expression=expression,
        coefficients=_coefficients(expression),
        formula=f"{quantity} = {_round(expression, 6)} + const",
        r2=r2,
        method=method,
        scale=scale,
        names=names,
        gauge_terms=_coefficients(gauge) if gauge != 0 else {},
    )


def _state_samples(data, d: int, points: int, function: str) -> np.ndarray:
    """Samples of states from Trajectories, an ``(n, d)`` array or a box of d (lo, hi)."""
    from ..data import Trajectories

    if isinstance(data, Trajectories):
        if data.state_size != d:
            raise DataError(
                f"{function}: the data's state size {data.state_size} is not the model's {d}"
            )
        return _as_samples(np.asarray(data.states).reshape(-1, d), d, function)
    arr = np.asarray(data, dtype=np.float64)
    if arr.shape == (d, 2) and d <= 3:  # a box
        lo, hi = arr[:, 0], arr[:, 1]
        if not (np.isfinite(arr).all() and np.all(lo < hi)):
            raise DataError(
                f"{function}: a box must be {d} finite pairs (lo < hi), got {arr.tolist()}"
            )
        axes = [np.linspace(a, b, points) for a, b in zip(lo, hi, strict=True)]
        return np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=-1)
    return _as_samples(arr, d, function)


def _scalar_values(fn, module, xs: np.ndarray) -> np.ndarray:
    graphdef, state = nnx.split(module)

    @jax.jit
    def values(state, xs):
        return jax.vmap(functools.partial(fn, nnx.merge(graphdef, state)))(xs)

    return np.asarray(values(state, jnp.asarray(xs)))


def _without_constant(expr: sympy.Expr) -> sympy.Expr:
    return sympy.Add(*(t for t in sympy.Add.make_args(expr) if not t.is_number))


def _read(quantity, values, kan, xs, names, *, method, degree, threshold, drop, extra=None):
    """Polynomial of the learned scalar (``values`` at ``xs``), constant term removed."""
    if method == "direct":
        fit = fit_polynomial(xs, values, names=names, degree=degree, threshold=threshold)
        expression = fit.expression
    elif method == "symbolic" and isinstance(kan, Polynomial):  # exact: its own formula
        expression = sympy.expand(kan.expressions(names)[0])
        if extra is not None:
            expression = sympy.expand(expression + extra)
    elif method == "symbolic":
        if not isinstance(kan, KAN):
            raise ConfigError(
                f"read_{'hamiltonian' if quantity == 'H' else 'lagrangian'}: method='symbolic' "
                f"needs a KAN or Polynomial approximator, got {type(kan).__name__}; use method='direct'"
            )
        expression = symbolic_formula(
            kan, xs, names=names, degree=degree, threshold=threshold, drop=drop
        ).expression
        if extra is not None:
            expression = sympy.expand(expression + extra)
    else:
        raise ConfigError(f"method must be 'direct' or 'symbolic', got {method!r}")
    prediction = _evaluate(expression, sympy.symbols(names), xs)
    return _without_constant(expression), r_squared(values, prediction)


def read_hamiltonian(
    model,
    data,
    *,
    names: Sequence[str] = ("q", "p"),
    method: str = "direct",
    degree: int = 4,
    threshold: float = 1e-2,
    drop: float = 1e-6,
    points: int = 41,
) -> PhysicsReadout:
    r"""Read the learned Hamiltonian H_θ(q, p) of an HNN or dissipative HNN as a polynomial.

    H_θ is defined only up to an additive constant (the dynamics see ∇H), which is dropped;
    derivative matching fixes its scale, so the other coefficients are absolute: for the
    Duffing oscillator expect H = α/2·q² + β/4·q⁴ + 1/2·p² (:func:`duffing_coefficients`).

    - ``method="direct"`` (default, robust, any approximator): samples of H_θ at the states
      are fitted by :func:`fit_polynomial` (STLSQ on all monomials of (q, p) up to ``degree``).
    - ``method="symbolic"`` (KAN or :class:`~physnet.approximators.Polynomial`; for a
      Polynomial its own formula, exact): for a KAN the edge-by-edge formula of :func:`symbolic_formula`
      with polynomial edges; exact in structure for a one-layer KAN, but for a [2, n, 1] KAN
      the composed degree-4 edge fits give high-order cross terms that cancel only as well as
      the edges are fitted (removed below ``drop``).

    Args:
        model: :class:`~physnet.HNN`, :class:`~physnet.DissipativeHNN`,
            :class:`~physnet.PortHNN` or :class:`~physnet.NeuralSymplecticForm` (whose H is
            in its own coordinates and scaled with its 2-form).
        data: where to sample: :class:`~physnet.Trajectories` (their states), an array of
            states ``(n, 2N)``, or a box, a ``(2N, 2)`` array of (low, high) per coordinate
            (2N <= 3), sampled on a grid of ``points`` per coordinate.
        names: the coordinates' names, q's first.
        method: ``"direct"`` or ``"symbolic"``.
        degree: total polynomial degree.
        threshold: STLSQ's relative threshold.
        drop: for ``"symbolic"``, the relative size of terms removed.
        points: grid points per coordinate for a box.

    Returns:
        :class:`PhysicsReadout` with ``quantity="H"`` and ``scale=1``.

    Raises:
        ConfigError: for another model, or ``"symbolic"`` without a KAN. DataError: on bad
            samples.
    """
    hamiltonian = _part(model, "hamiltonian")
    if hamiltonian is None or not isinstance(model, AbstractEnergyModel):
        raise ConfigError(
            "read_hamiltonian: model must have a learned Hamiltonian (an HNN, DissipativeHNN, "
            f"PortHNN or NeuralSymplecticForm), got {type(model).__name__}"
        )
    d = model.state_size
    names = _check_names(names, d, "names", "read_hamiltonian")
    xs = _state_samples(data, d, points, "read_hamiltonian")
    values = _scalar_values(lambda m, y: m.energy(y), model, xs)
    expression, r2 = _read(
        "H",
        values,
        hamiltonian.approximator,
        xs,
        names,
        method=method,
        degree=degree,
        threshold=threshold,
        drop=drop,
    )
    return _physics_readout("H", expression, r2, method, 1.0, names)


def _part(model, kind: str) -> Part | None:
    """The first of ``model``'s declared parts of ``kind`` (``None`` if it has none)."""
    if not isinstance(model, AbstractVectorField):
        return None
    return next((p for p in model.parts() if p.kind == kind), None)


def read_damping(model) -> float:
    """The learned damping γ of a model with a scalar friction.

    The learned damping γ of a model with a scalar friction: a
    :class:`~physnet.DissipativeHNN` or :class:`~physnet.PortHNN` in the small-friction form
    (dp/dt = -∂H/∂q - γ ∂H/∂p; γ for q̈ = ... - γ q̇ when H = p²/2 + V(q)), 0 without
    dissipation; an :class:`~physnet.LNN` with a friction (γ on its L's own scale; see
    :func:`read_model` for the normalised value). Read from ``model.readout()["gamma_hat"]``.

    Raises:
        ConfigError: for a model without a scalar damping (e.g. the general dissipative form).
    """
    readout = model.readout() if isinstance(model, AbstractVectorField) else {}
    if "gamma_hat" not in readout:
        raise ConfigError(
            "read_damping: model must have a scalar friction γ (a DissipativeHNN or PortHNN in "
            f"the friction form, or an LNN with a Friction), got {type(model).__name__}"
        )
    return float(readout["gamma_hat"])


def duffing_coefficients(
    alpha: float, beta: float, *, kind: str = "hamiltonian", names: Sequence[str] | None = None
) -> dict[str, float]:
    r"""The true coefficients of the Duffing oscillator's H or L (constant omitted).

    H = α/2·q² + β/4·q⁴ + 1/2·p² (``kind="hamiltonian"``, names default ``("q", "p")``);
    L = 1/2·q̇² - α/2·q² - β/4·q⁴ (``kind="lagrangian"``, names default ``("q", "qdot")``).
    Keys are the monomials as :func:`read_hamiltonian` / :func:`read_lagrangian` write them.
    """
    if kind not in ("hamiltonian", "lagrangian"):
        raise ConfigError(
            f"duffing_coefficients: kind must be 'hamiltonian' or 'lagrangian', got {kind!r}"
        )
    default = ("q", "p") if kind == "hamiltonian" else ("q", "qdot")
    q, v = sympy.symbols(_check_names(names or default, 2, "names", "duffing_coefficients"))
    sign = 1.0 if kind == "hamiltonian" else -1.0
    return {
        str(q**2): sign * alpha / 2,
        str(q**4): sign * beta / 4,
        str(v**2): 0.5,
    }


def coefficient_errors(recovered: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    r"""Relative error of every recovered coefficient against the truth, term by term.

    For a term of the truth, |ĉ - c| / |c| (1 if the term was not recovered). For a term
    recovered but absent from the truth (a spurious term; the constant ``"1"`` is ignored),
    |ĉ| / max |c| over the true coefficients.

    Args:
        recovered: monomial -> coefficient, e.g. :attr:`PhysicsReadout.coefficients`.
        truth: monomial -> coefficient, e.g. :func:`duffing_coefficients`.

    Returns:
        monomial -> relative error.
    """
    if not truth or any(c == 0 for c in truth.values()):
        raise ConfigError(f"coefficient_errors: truth must be non-zero coefficients, got {truth!r}")
    scale = max(abs(c) for c in truth.values())
    errors = {k: abs(recovered.get(k, 0.0) - c) / abs(c) for k, c in truth.items()}
    for k, c in recovered.items():
        if k not in truth and k != "1":
            errors[k] = abs(c) / scale
    return errors
