"""A whole learned model as formulas (:func:`read_model`): the model declares its learned
parts and constants (:meth:`~physnet.models.AbstractVectorField.parts`,
:meth:`~physnet.models.AbstractVectorField.readout`); how an approximator becomes a formula is
declared here, once per approximator class, in :data:`READERS`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import sympy

from .._errors import ConfigError, DataError
from ..approximators import KAN, Polynomial
from ..data import Trajectories
from ..models import AbstractVectorField
from ._expressions import _as_samples
from ._lagrangian import read_lagrangian
from ._readout import read_hamiltonian
from ._symbolic import _summary, symbolic_formula


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


READERS: dict[type, ApproximatorReader] = {
    Polynomial: ApproximatorReader(_read_polynomial, exact=True),
    KAN: ApproximatorReader(_read_kan, exact=False),
}
"""The formula reader of each approximator class; subclasses use their parent's entry.

Make your own approximator readable by adding
``READERS[MyApproximator] = ApproximatorReader(read, exact)``.
"""


def approximator_reader(approximator) -> ApproximatorReader | None:
    """The :data:`READERS` entry of ``approximator``'s class or nearest parent (``None``)."""
    for cls in type(approximator).__mro__:
        if cls in READERS:
            return READERS[cls]
    return None


def _article(word: str) -> str:
    return "an" if word[:1].upper() in "AEIOU" or word in ("MLP", "NN") else "a"


def unreadable(model) -> str | None:
    """Why a model cannot be read as a formula, or ``None`` if it can.

    ``None`` if every learned part of ``model`` can be read as a formula; otherwise one line
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
    """Raise a ConfigError unless every learned part of a model is readable.

    Raise :class:`ConfigError` with the one line of :func:`unreadable` unless every
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
        constants: the model's :meth:`~physnet.models.AbstractVectorField.readout_in` the
            data's units (``gamma_hat``, input gains, force amplitudes and frequencies; for
            Trajectories rescaled by a run, converted from its training variables), with an
            LNN's friction and input gain on the scale of its normalised L.
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
      q̇² coefficient of 1/2); an LNN's friction γ and constant input gain B are reported on
      that scale, so ``gamma_hat`` and ``input_gain_i_j`` are those of q̈ = ... - γq̇ + Bu
      for a unit mass (a learned B(q) part's formula is not rescaled);
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
    check_readable(model)
    d = model.state_size
    if isinstance(data, Trajectories):
        states, times = data.states[data.mask], data.flat_times()
    else:
        states, times = _as_samples(np.asarray(data, dtype=np.float64), d, "read_model"), None
    parts = model.parts()
    main = parts[0]
    names = tuple(names) if names else _default_names(main.kind, d)
    scales = data.metadata.get("scales") if isinstance(data, Trajectories) else None
    constants = dict(model.readout_in(scales))  # in the data's units
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
            # the generalised forces scale with L: friction Q = -γq̇ and the input's Q = Bu
            for key in constants:
                if key == "gamma_hat" or key.startswith("input_gain_"):
                    constants[key] = constants[key] * r.scale
        else:
            entry = _read_part(
                part,
                reader,
                states,
                times,
                names,
                main_vector_field=part is main and main.kind == "vector_field",
            )
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
    approx = part.approximator
    if part.inputs == "time":
        if times is None:
            raise DataError(f"read_model: {part.label} is a function of time; pass Trajectories")
        xs, inputs = np.asarray(times, dtype=np.float64).reshape(-1, 1), ("t",)
    elif part.inputs == "configuration":
        k = approx.in_features
        xs, inputs = np.asarray(states, dtype=np.float64)[:, :k], tuple(names)[:k]
    elif part.inputs == "angles":
        k = approx.in_features // 2
        q = np.asarray(states, dtype=np.float64)[:, :k]
        xs = np.concatenate([np.cos(q), np.sin(q)], axis=1)
        inputs = (*(f"cos_{v}" for v in names[:k]), *(f"sin_{v}" for v in names[:k]))
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
