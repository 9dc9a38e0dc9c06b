"""The empirical neural tangent kernel of a model under the operator its loss applies."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import integer
from .._errors import ConfigError, DataError
from ..approximators import AbstractApproximator
from ..data import Trajectories
from ..models import AbstractEnergyModel, AbstractVectorField


def _vector_field(model, x: Array) -> Array:
    return model(0.0, x)


def _acceleration(model, x: Array) -> Array:
    return model(0.0, x)[x.shape[-1] // 2 :]


def _output(model, x: Array) -> Array:
    if isinstance(model, AbstractApproximator):
        return model(x)
    if isinstance(model, AbstractEnergyModel):
        return model.energy(x)[None]
    parts = model.submodules() if isinstance(model, AbstractVectorField) else {}
    if len(parts) == 1:
        return next(iter(parts.values()))(x)
    raise ConfigError(
        f"ntk: operator='output' needs an approximator, an energy model or a model with one "
        f"approximator, got {type(model).__name__}; pass operator=callable(model, x)"
    )


OPERATORS: dict[str, Callable] = {
    "vector_field": _vector_field,
    "acceleration": _acceleration,
    "output": _output,
}
"""The operators by name: functions ``(model, x (d,)) -> (m,)`` whose NTK :func:`ntk` takes."""


def get_operator(operator) -> Callable:
    """The operator ``(model, x) -> (m,)`` from its name or the callable itself."""
    if callable(operator):
        return operator
    try:
        return OPERATORS[operator]
    except (KeyError, TypeError):
        raise ConfigError(
            f"ntk: unknown operator {operator!r}; choose one of {', '.join(OPERATORS)} or pass "
            "a callable (model, x) -> (m,)"
        ) from None


def default_operator(model) -> str:
    """The operator that a model's default loss applies, by name.

    The operator a model's default loss applies: ``"acceleration"`` for an LNN,
    ``"vector_field"`` for other vector fields, ``"output"`` for an approximator."""
    from ..models import LNN

    if isinstance(model, LNN):
        return "acceleration"
    if isinstance(model, AbstractVectorField):
        return "vector_field"
    return "output"


@dataclasses.dataclass(frozen=True)
class NTKResult:
    """An empirical NTK with its blocks.

    Rows and columns are ordered by loss term, then sample, then output component: row
    ``slices[term].start + s * out_sizes[term] + i`` is component ``i`` of T[u_θ] at sample
    ``s`` of ``term``.

    Attributes:
        matrix: the kernel K, shape ``(N, N)``, N = Σ_terms samples · components.
        outputs: T[u_θ] at the samples, flattened in the same order, shape ``(N,)``.
        terms: the loss terms in order.
        slices: ``term -> slice`` of rows.
        out_sizes: ``term -> m``, the operator's output size.
        n_params: the number of parameters θ (``nnx.Param`` entries).
    """

    matrix: np.ndarray
    outputs: np.ndarray
    terms: tuple[str, ...]
    slices: dict[str, slice]
    out_sizes: dict[str, int]
    n_params: int

    def block(self, a: str | None = None, b: str | None = None) -> np.ndarray:
        """The block K_ab between terms ``a`` and ``b`` (default ``b = a``; with no term,
        the single term's kernel)."""
        a = self._term(a)
        b = a if b is None else self._term(b)
        return self.matrix[self.slices[a], self.slices[b]]

    def component(self, i: int, j: int | None = None, *, term: str | None = None) -> np.ndarray:
        """The block between output components ``i`` and ``j`` (default ``j = i``) of one
        term, shape ``(S, S)``."""
        term = self._term(term)
        m = self.out_sizes[term]
        j = i if j is None else j
        for c in (i, j):
            if not 0 <= c < m:
                raise ConfigError(f"NTKResult.component: component {c} not in [0, {m})")
        k = self.block(term)
        return k[i::m, j::m]

    def traces(self) -> dict[str, float]:
        """Trace of every term's block and of every component block, keyed ``term`` and
        ``term[i]``."""
        out: dict[str, float] = {}
        for term in self.terms:
            out[term] = float(np.trace(self.block(term)))
            if self.out_sizes[term] > 1:
                for i in range(self.out_sizes[term]):
                    out[f"{term}[{i}]"] = float(np.trace(self.component(i, term=term)))
        return out

    def _term(self, term: str | None) -> str:
        if term is None:
            if len(self.terms) != 1:
                raise ConfigError(f"NTKResult: name a term, one of {', '.join(self.terms)}")
            return self.terms[0]
        if term not in self.slices:
            raise ConfigError(f"NTKResult: unknown term {term!r}; one of {', '.join(self.terms)}")
        return term


def _states(data_or_states, samples: int | None) -> Array:
    if isinstance(data_or_states, Trajectories):
        xs = data_or_states.flat()[0]
    else:
        xs = jnp.asarray(data_or_states)
    if xs.ndim == 1:
        xs = xs[:, None]
    if xs.ndim != 2:
        raise DataError(f"ntk: states must have shape (S, d), got {xs.shape}")
    if samples is not None:
        integer("ntk", "samples", samples, low=1)
        step = max(1, xs.shape[0] // samples)
        xs = xs[::step][:samples]
    return xs


@functools.partial(jax.jit, static_argnums=(0, 1))
def _jacobian_rows(graphdef, op, params, rest, xs):
    """(S·m, P): the rows ∂θ T[u_θ](x_s)_i, parameters in the order of the leaves."""

    def value(p, x):
        return op(nnx.merge(graphdef, p, rest), x)

    jac = jax.vmap(jax.jacrev(value), in_axes=(None, 0))(params, xs)
    leaves = jax.tree.leaves(jac)
    rows = leaves[0].shape[0] * leaves[0].shape[1]
    return jnp.concatenate([leaf.reshape(rows, -1) for leaf in leaves], axis=1)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _operator_values_jit(graphdef, op, params, rest, xs):
    return jax.vmap(lambda x: op(nnx.merge(graphdef, params, rest), x))(xs)


def _operator_values(model, xs, op) -> Array:
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return _operator_values_jit(graphdef, op, params, rest, xs)


@jax.jit
def _gram(a, b):
    return a @ b.T


def parameter_jacobian(model, xs: Array, operator="vector_field") -> Array:
    """The Jacobian of the operator's output with respect to the parameters.

    ``∂θ T[u_θ](x)`` at every state: shape ``(S, m, P)``, θ the ``nnx.Param`` entries of
    ``model`` flattened in the order of their leaves (``jax.tree.leaves``).

    Args:
        model: an ``nnx.Module``.
        xs: states ``(S, d)``.
        operator: a name in :data:`OPERATORS` or a callable ``(model, x) -> (m,)`` (a
            callable made anew at every call is compiled anew).
    """
    op = get_operator(operator)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    xs = jnp.asarray(xs)
    rows = _jacobian_rows(graphdef, op, params, rest, xs)
    return rows.reshape(xs.shape[0], -1, rows.shape[-1])


def ntk(
    model,
    data_or_states,
    *,
    operator=None,
    samples: int | None = None,
    chunk_rows: int = 2048,
) -> NTKResult:
    r"""The empirical neural tangent kernel of ``model`` under a loss operator T.

    .. math::
        K_T(x, x')_{ij} = \langle \partial_\theta T[u_\theta](x)_i,\;
        \partial_\theta T[u_\theta](x')_j \rangle,

    θ the model's ``nnx.Param`` entries. Under gradient flow on a mean squared loss of the
    residual r = T[u_θ] - target (N entries, learning rate η), dr/dt = -(2η/N) K r, so the
    eigenvalues of K set how fast each component of the residual is learned.

    Computed as J Jᵀ with J the parameter Jacobian (``jax.jacrev`` vmapped over samples,
    compiled), in row chunks of at most ``chunk_rows`` rows so that memory stays
    ``chunk_rows × P`` per chunk.

    Args:
        model: a physnet model (any :class:`~physnet.models.AbstractVectorField`), an
            approximator, or any ``nnx.Module`` with a callable ``operator``.
        data_or_states: :class:`~physnet.Trajectories` (their valid states), states
            ``(S, d)``, or a mapping ``term -> states`` for a loss with several terms (e.g.
            ``{"residual": x_r, "boundary": x_b}`` of a PINN).
        operator: ``"vector_field"`` (derivative loss: NODE, HNN, DHNN), ``"acceleration"``
            (the second half of the vector field: LNN), ``"output"`` (the approximator's plain
            output; for an energy model its energy, plain regression of H), or a callable
            ``(model, x) -> (m,)``; a mapping ``term -> operator`` for several terms.
            Default: :func:`default_operator`.
        samples: use at most this many states per term (evenly strided).
        chunk_rows: the most kernel rows whose Jacobian is held at once.

    Returns:
        :class:`NTKResult`: the matrix, the operator values, and the per-term and
        per-component blocks.

    Raises:
        ConfigError: for an unknown operator or term, or a non-positive ``samples``.
        DataError: for states of the wrong shape.

    Reference: Jacot, Gabriel, Hongler, "Neural Tangent Kernel", 2018; Wang, Yu, Perdikaris,
    "When and why PINNs fail to train: a neural tangent kernel perspective", 2022.
    """
    if isinstance(data_or_states, Mapping):
        states = {k: _states(v, samples) for k, v in data_or_states.items()}
    else:
        states = {"loss": _states(data_or_states, samples)}
    if operator is None:
        operator = default_operator(model)
    if isinstance(operator, Mapping):
        missing = set(states) - set(operator)
        if missing:
            raise ConfigError(f"ntk: no operator for term(s) {sorted(missing)}")
        ops = {k: get_operator(operator[k]) for k in states}
    else:
        ops = {k: get_operator(operator) for k in states}
    integer("ntk", "chunk_rows", chunk_rows, low=1)

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    n_params = sum(int(np.size(leaf)) for leaf in jax.tree.leaves(params))
    outputs, slices, sizes, pieces = [], {}, {}, []
    start = 0
    for k, xs in states.items():
        values = _operator_values_jit(graphdef, ops[k], params, rest, xs)
        if values.ndim != 2:
            raise ConfigError(f"ntk: the operator of term {k!r} must return a vector (m,)")
        m = int(values.shape[1])
        sizes[k] = m
        slices[k] = slice(start, start + xs.shape[0] * m)
        start += xs.shape[0] * m
        outputs.append(np.asarray(values).reshape(-1))
        per = max(1, chunk_rows // m)
        pieces += [(k, xs[i : i + per]) for i in range(0, xs.shape[0], per)]

    def rows(piece):
        k, xs = piece
        return _jacobian_rows(graphdef, ops[k], params, rest, xs)

    n = start
    matrix = np.empty((n, n))
    offsets = np.cumsum([0] + [p[1].shape[0] * sizes[p[0]] for p in pieces])
    if len(pieces) == 1:
        jac = rows(pieces[0])
        matrix[:] = np.asarray(_gram(jac, jac))
    else:
        for a, pa in enumerate(pieces):
            ja = rows(pa)
            sa = slice(offsets[a], offsets[a + 1])
            matrix[sa, sa] = np.asarray(_gram(ja, ja))
            for b in range(a + 1, len(pieces)):
                jb = rows(pieces[b])
                sb = slice(offsets[b], offsets[b + 1])
                block = np.asarray(_gram(ja, jb))
                matrix[sa, sb] = block
                matrix[sb, sa] = block.T
    return NTKResult(
        matrix=matrix,
        outputs=np.concatenate(outputs),
        terms=tuple(states),
        slices=slices,
        out_sizes=sizes,
        n_params=n_params,
    )
