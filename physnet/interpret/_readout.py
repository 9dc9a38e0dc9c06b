"""Physics read-outs of learned models: H of (dissipative) HNNs, γ, Duffing coefficients.

What a model can read out is declared by the model (:meth:`AbstractVectorField.parts`,
:meth:`AbstractVectorField.readout`); how an approximator becomes a formula is declared here,
once per approximator class, in :data:`READERS`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

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
    """The learned damping γ of a model with a scalar friction: a
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


# ----------------------------------------------------------------- reading a whole model
@dataclasses.dataclass(frozen=True)
class ApproximatorReader:
    """How one approximator class becomes formulas (an entry of :data:`READERS`).

    Attributes:
        read: ``read(approximator, xs, names, output_names) -> (expressions, r2)``: one sympy
            expression per output in the input ``names``, from the samples ``xs`` ``(n, in)``
            where it needs them, and the R² of the formulas against the approximator.
        exact: whether the expressions are the approximator itself (not a fit to samples).
    """

    read: Callable[..., tuple[tuple[sympy.Expr, ...], float]]
    exact: bool


def _read_polynomial(approx, xs, names, output_names):
    return tuple(sympy.expand(e) for e in approx.expressions(names)), 1.0


def _read_kan(approx, xs, names, output_names):
    result = symbolic_formula(approx, xs, names=names, output_names=output_names)
    return result.expressions, result.r2_min


#: approximator class -> its :class:`ApproximatorReader`; subclasses use their parent's entry.
#: Make your own approximator readable by adding ``READERS[MyApproximator] = ApproximatorReader(
#: read, exact)``.
READERS: dict[type, ApproximatorReader] = {
    Polynomial: ApproximatorReader(_read_polynomial, exact=True),
    KAN: ApproximatorReader(_read_kan, exact=False),
}


def approximator_reader(approximator) -> ApproximatorReader | None:
    """The :data:`READERS` entry of ``approximator``'s class or nearest parent (``None``)."""
    for cls in type(approximator).__mro__:
        if cls in READERS:
            return READERS[cls]
    return None


def _article(word: str) -> str:
    return "an" if word[:1].upper() in "AEIOU" or word in ("MLP", "NN") else "a"


def unreadable(model) -> str | None:
    """``None`` if every learned part of ``model`` can be read as a formula; otherwise one line
    naming the first part that cannot and why."""
    if not isinstance(model, AbstractVectorField):
        return f"{type(model).__name__} is not a physnet model"
    parts = model.parts()
    if not parts:
        return f"{type(model).__name__} declares no learned parts to read (see Model.parts)"
    for part in parts:
        if approximator_reader(part.approximator) is None:
            kind = type(part.approximator).__name__
            return (
                f"{part.label} of the {type(model).__name__} is {_article(kind)} {kind}, which "
                "has no symbolic form; use --approximator kan or polynomial (a KAN or "
                "Polynomial approximator)"
            )
    return None


def check_readable(model) -> None:
    """Raise :class:`ConfigError` with the one line of :func:`unreadable` unless every
    learned part of ``model`` can be read."""
    reason = unreadable(model)
    if reason is not None:
        raise ConfigError(f"--symbolic: {reason}")


@dataclasses.dataclass(frozen=True)
class ModelReadout:
    """A learned model as formulas (see :func:`read_model`).

    Attributes:
        formula: every part's formula, the main law first, joined by ``"; "``.
        coefficients: monomial -> coefficient of the main law (H, L or the vector field).
        r2: R² of the main law's formula (see :class:`PhysicsReadout`).
        constants: the model's :meth:`~physnet.models.AbstractVectorField.readout`
            (``gamma_hat``, force amplitudes and frequencies), with an LNN's friction on the
            scale of its normalised L.
        parts: part name -> ``{"formula", "coefficients", "r2"}`` for every learned part.
    """

    formula: str
    coefficients: dict[str, float]
    r2: float
    constants: dict[str, float]
    parts: dict[str, dict]


def _default_names(kind: str, d: int) -> tuple[str, ...]:
    n = d // 2
    q = ["q"] if n == 1 else [f"q{i + 1}" for i in range(n)]
    if kind == "lagrangian":
        return (*q, *(v + "dot" for v in q))
    if kind == "vector_field" or 2 * n != d:
        return tuple(f"y{j + 1}" for j in range(d))
    return (*q, *(v.replace("q", "p") for v in q))


def read_model(model, data, *, names: Sequence[str] | None = None) -> ModelReadout:
    r"""Read every learned part of a model as a formula, and its physical constants.

    The model declares what there is to read (:meth:`~physnet.models.AbstractVectorField.parts`
    and :meth:`~physnet.models.AbstractVectorField.readout`); each part's approximator is read
    by its :data:`READERS` entry. The main law:

    - a Hamiltonian H (HNN, dissipative HNN, port-HNN, neural symplectic form):
      :func:`read_hamiltonian`, exactly for a Polynomial, by sparse polynomial regression of
      the learned H (degree 4) for a KAN;
    - a Lagrangian L (LNN): :func:`read_lagrangian` (``method="dynamics"``, normalised to a
      q̇² coefficient of 1/2); an LNN's friction γ is reported on that scale, so ``gamma_hat``
      is the damping of q̈ = ... - γq̇ for a unit mass;
    - a vector field (neural ODE): the approximator's formula per component (``dy1_dt``, ...).

    Further parts (a 1-form θ, the dissipation's A, a force F(t)) are read the same way as
    functions of the state (or of the time t).

    Args:
        model: a physnet model.
        data: :class:`~physnet.Trajectories` (their valid states and times) or states
            ``(n, d)`` (then no part may be a function of time).
        names: the state's names (default q, p; q, qdot for an LNN; y1.. for a neural ODE).

    Returns:
        :class:`ModelReadout`.

    Raises:
        ConfigError: in one line, naming the first part that cannot be read and why (an MLP
            has no symbolic form). DataError: on bad samples.
    """
    from ..data import Trajectories
    from ._lagrangian import read_lagrangian

    check_readable(model)
    d = model.state_size
    if isinstance(data, Trajectories):
        states, times = data.states[data.mask], data.flat_times()
    else:
        states, times = _as_samples(np.asarray(data, dtype=np.float64), d, "read_model"), None
    parts = model.parts()
    main = parts[0]
    names = tuple(names) if names else _default_names(main.kind, d)
    constants = dict(model.readout())
    out: dict[str, dict] = {}
    for part in parts:
        reader = approximator_reader(part.approximator)
        if part is main and main.kind == "hamiltonian":
            r = read_hamiltonian(
                model, states, names=names, method="symbolic" if reader.exact else "direct"
            )
            entry = {"formula": r.formula, "coefficients": r.coefficients, "r2": r.r2}
        elif part is main and main.kind == "lagrangian":
            r = read_lagrangian(model, states, names=names)
            entry = {"formula": r.formula, "coefficients": r.coefficients, "r2": r.r2}
            if "gamma_hat" in constants:  # Q = -γq̇ scales with L
                constants["gamma_hat"] = constants["gamma_hat"] * r.scale
        else:
            entry = _read_part(part, reader, states, times, names, main_vector_field=part is main)
        out[part.name] = entry
    first = out[main.name]
    return ModelReadout(
        formula="; ".join(e["formula"] for e in out.values()),
        coefficients=first["coefficients"],
        r2=first["r2"],
        constants=constants,
        parts=out,
    )


def _read_part(part, reader, states, times, names, *, main_vector_field) -> dict:
    """``{"formula", "coefficients", "r2"}`` of one learned function of the state or time."""
    from ._symbolic import _summary

    approx = part.approximator
    if part.inputs == "time":
        if times is None:
            raise DataError(f"read_model: {part.label} is a function of time; pass Trajectories")
        xs, inputs = np.asarray(times, dtype=np.float64).reshape(-1, 1), ("t",)
    else:
        xs, inputs = np.asarray(states, dtype=np.float64), tuple(names)
    m = approx.out_features
    if main_vector_field:
        outputs = [f"d{v}_dt" for v in inputs]
    elif m == 1:
        outputs = [part.name]
    else:
        outputs = [f"{part.name}{k + 1}" for k in range(m)]
    expressions, r2 = reader.read(approx, xs, list(inputs), outputs)
    coefficients, formula = _summary(tuple(expressions), outputs, 6)
    if m == 1:
        formula = f"{outputs[0]} = {formula}"
    return {"formula": formula, "coefficients": coefficients, "r2": float(r2)}
