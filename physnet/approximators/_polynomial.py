"""Polynomial: a linear-in-parameters approximator on the monomials of its inputs."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import integer, number
from .._errors import ConfigError
from ._base import AbstractApproximator


def monomial_exponents(n_vars: int, degree: int) -> list[tuple[int, ...]]:
    """Exponent tuples of all monomials in ``n_vars`` variables up to a total degree.

    Exponent tuples of all monomials in ``n_vars`` variables up to total ``degree``,
    ordered by total degree, then as :func:`itertools.product` (the order of
    :func:`physnet.interpret.fit_polynomial`): ``(0, 0), (0, 1), (1, 0), (0, 2), ...``."""
    return [
        e
        for total in range(degree + 1)
        for e in itertools.product(range(total + 1), repeat=n_vars)
        if sum(e) == total
    ]


class Polynomial(AbstractApproximator):
    r"""A polynomial map, linear in its coefficients and readable as a formula.

    A polynomial map: learnable coefficients on all monomials of the inputs up to a total
    degree, so the approximator is linear in its parameters and readable as a formula.

    .. math::
        f_o(x) = \sum_{e \in E} c_{e,o}\, x_1^{e_1} \cdots x_n^{e_n}, \qquad
        E = \{e : |e| \le \text{degree}\} \setminus \text{exclude},

    The monomials are built by products of powers (no ``x**0`` at x = 0), so every input
    derivative is exact. Use it where the form of the function is known to be polynomial
    (a polynomial Hamiltonian or vector field): with it a model's derivative or weak-form loss
    is quadratic in the coefficients and the learned function reads exactly as a formula
    (:meth:`expressions`; :func:`physnet.interpret.read_hamiltonian` with
    ``method="symbolic"``). It is a strong prior: a function that is not a polynomial of this
    degree is only approximated, and the fit does not warn.

    Args:
        in_features: input size n.
        out_features: output size.
        degree: the total degree (>= 1; default 3).
        constant: keep the constant monomial (default True; a Hamiltonian is defined up to a
            constant, so ``constant=False`` removes that gauge freedom).
        exclude: further monomials held at zero, as exponent tuples of length n (e.g.
            ``[(0, 1)]`` removes x_2).
        init_scale: standard deviation of the normal initial coefficients (default 1e-2).
        param_dtype: parameter dtype (float64 by default).
        rngs: random number streams for initialisation (keyword-only, required).

    Shapes: ``(in_features,) -> (out_features,)``.

    Raises:
        ConfigError: on an invalid option, or an exclusion that is not a monomial of the
            polynomial.

    Reference: the monomial library of SINDy, Brunton, Proctor & Kutz, PNAS 113(15),
    3932-3937 (2016).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        degree: int = 3,
        constant: bool = True,
        exclude: Sequence[Sequence[int]] = (),
        init_scale: float = 1e-2,
        param_dtype=jnp.float64,
        rngs: nnx.Rngs,
    ):
        self.in_features = integer("Polynomial", "in_features", in_features, low=1)
        self.out_features = integer("Polynomial", "out_features", out_features, low=1)
        self.degree = integer("Polynomial", "degree", degree, low=1)
        if not isinstance(constant, bool):
            raise ConfigError(f"Polynomial: constant must be True or False, got {constant!r}")
        number("Polynomial", "init_scale", init_scale, low=0)
        every = monomial_exponents(self.in_features, self.degree)
        excluded = set()
        for e in exclude:
            e = tuple(int(k) for k in e) if isinstance(e, Sequence) else e
            if e not in every:
                raise ConfigError(
                    f"Polynomial: exclude entry {e!r} is not the exponent tuple of a monomial "
                    f"of {self.in_features} inputs up to degree {self.degree}"
                )
            excluded.add(e)
        if not constant:
            excluded.add((0,) * self.in_features)
        self.constant = (0,) * self.in_features not in excluded
        self.exclude = tuple(sorted(e for e in excluded if any(e)))  # hashable: a static field
        self.init_scale = float(init_scale)
        self.param_dtype = jnp.dtype(param_dtype).name
        self.exponents = tuple(e for e in every if e not in excluded)
        if not self.exponents:
            raise ConfigError("Polynomial: every monomial is excluded; keep at least one")
        key = rngs.params()
        self.coefficients = nnx.Param(
            self.init_scale
            * jax.random.normal(key, (len(self.exponents), self.out_features), dtype=param_dtype)
        )

    @property
    def n_terms(self) -> int:
        """The number of monomials M."""
        return len(self.exponents)

    def features(self, x: Array) -> Array:
        """The monomials ``(M,)`` at one input ``x`` ``(in_features,)``."""
        powers = [jnp.ones_like(x)]
        for _ in range(self.degree):
            powers.append(powers[-1] * x)
        table = jnp.stack(powers, axis=-1)  # (n, degree + 1): x_j^k
        powers_of = np.asarray(self.exponents, dtype=np.int32)  # (M, n)
        picked = table[np.arange(self.in_features)[None, :], powers_of]  # (M, n)
        return jnp.prod(picked, axis=-1)

    def __call__(self, x: Array) -> Array:
        if x.shape != (self.in_features,):
            raise ValueError(
                f"Polynomial expects one input of shape ({self.in_features},), got {x.shape}; "
                "use jax.vmap for batches"
            )
        return self.features(x) @ self.coefficients[...]

    def expressions(self, names: Sequence[str] | None = None) -> list:
        """The polynomial of every output as a sympy expression (zero coefficients left out).

        Args:
            names: the inputs' names (default ``x1, ..., xn``).

        Returns:
            A list of ``out_features`` sympy expressions.
        """
        import sympy

        names = list(names or [f"x{j + 1}" for j in range(self.in_features)])
        if len(names) != self.in_features:
            raise ConfigError(
                f"Polynomial.expressions: names must have {self.in_features} entries, "
                f"got {len(names)}"
            )
        symbols = sympy.symbols(names)
        coef = np.asarray(self.coefficients[...])
        out = []
        for o in range(self.out_features):
            out.append(
                sympy.Add(
                    *(
                        sympy.Float(float(c))
                        * sympy.Mul(*(s**k for s, k in zip(symbols, e, strict=True)))
                        for c, e in zip(coef[:, o], self.exponents, strict=True)
                        if c != 0.0
                    )
                )
            )
        return out

    def config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "degree": self.degree,
            "constant": self.constant,
            "exclude": [list(e) for e in self.exclude],
            "init_scale": self.init_scale,
            "param_dtype": self.param_dtype,
        }
