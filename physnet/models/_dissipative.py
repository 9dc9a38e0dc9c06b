"""Dissipative Hamiltonian neural network."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import nnx
from jax import Array

from .._checks import integer
from .._errors import ConfigError
from ..approximators import AbstractApproximator
from ._base import AbstractEnergyModel, Part, check_scalar_energy
from ._dissipation import (
    AbstractDissipation,
    Friction,
    LearnedDissipation,
    NoDissipation,
    check_gamma_init,
)
from ._mechanics import symplectic_gradient

DISSIPATION_FORMS = ("friction", "none")
"""The accepted string values of ``DissipativeHNN(dissipation=...)``."""


class HamiltonianWithDissipation(AbstractEnergyModel):
    r"""The port-Hamiltonian core that :class:`DissipativeHNN` and :class:`~physnet.PortHNN`
    share: a learned H and a negative semi-definite dissipation component D, with the
    autonomous field (J + D(u))∇H(u) (:meth:`autonomous_field`). :class:`DissipativeHNN` is
    this field; :class:`~physnet.PortHNN` adds a force through its input port. Abstract:
    a subclass defines ``__call__``, ``config`` and ``submodules``.
    """

    def _set_core(self, owner: str, hamiltonian, dissipation, gamma_init) -> None:
        """Validate and store H and the dissipation (``owner`` names the class in errors)."""
        check_scalar_energy(owner, "hamiltonian", hamiltonian)
        self.hamiltonian = hamiltonian
        self.state_size = hamiltonian.in_features
        self.dissipation = as_dissipation(
            dissipation, gamma_init, param_dtype=hamiltonian.param_dtype
        )
        self.dissipation.check_state_size(self.state_size)

    #: the error of :attr:`gamma` for a dissipation without a scalar damping
    _no_gamma: ClassVar[str] = "gamma is defined for the friction form only"

    @property
    def gamma(self) -> Array:
        """The learned damping γ = softplus(raw) >= 0 (a scalar array) of a :class:`Friction`;
        0 for :class:`NoDissipation`.

        Raises:
            ConfigError: for a state-dependent dissipation such as the general form -AᵀA
                (use :meth:`dissipation_matrix`).
        """
        gamma = self.dissipation.damping
        if gamma is None:
            raise ConfigError(self._no_gamma)
        return gamma

    def energy(self, y: Array) -> Array:
        return self.hamiltonian(y)[0]

    def autonomous_field(self, y: Array) -> Array:
        """(J + D(y))∇H(y), the field without any force, shape ``(2N,)``."""
        grad_h = jax.grad(self.energy)(y)
        n = self.state_size // 2
        conservative = jnp.concatenate([grad_h[n:], -grad_h[:n]])
        return conservative + self.dissipation(y, grad_h)

    def parts(self) -> tuple[Part, ...]:
        return (
            Part("H", "hamiltonian", self.hamiltonian, "the H network"),
            *self.dissipation.parts(),
        )


class DissipativeHNN(HamiltonianWithDissipation):
    r"""Hamiltonian neural network with learned dissipation that can only remove energy.

    The vector field is du/dt = (J + D(u)) ∇H_NN(u), J = [[0, I], [-I, 0]], with a negative
    semi-definite D by construction, so

    .. math::
        \frac{dH_{NN}}{dt} = \nabla H^\top J \nabla H + \nabla H^\top D \nabla H
        = \nabla H^\top D \nabla H \le 0

    for every parameter value: dissipation comes from the parameterisation, never from a
    penalty. D is a component (:mod:`physnet.models._dissipation`), one of (SPEC.md section 1):

    - :class:`Friction` (the default, also ``dissipation="friction"``; eq. 11):
      D = [[0, 0], [0, -γ I]], i.e. dq/dt = ∂H/∂p, dp/dt = -∂H/∂q - γ ∂H/∂p, with one learned
      damping γ = softplus(raw) >= 0, readable as :attr:`gamma`. For the Duffing oscillator
      (H = p²/2 + V(q)) this is exactly q̈ = -V'(q) - γ q̇, so γ is the physical damping.
    - :class:`LearnedDissipation` (the general form; also ``dissipation=`` an approximator;
      eqs. 8-10): D(u) = -A(u)ᵀA(u) with A(u) the approximator's output reshaped row-major to
      ``(k, 2N)``; then dH/dt = -|A(u)∇H|² <= 0.
    - :class:`NoDissipation` (also ``dissipation="none"``): the model is an :class:`HNN`,
      dH/dt = 0.

    The model computes (J + D)∇H and leaves D to the component; :attr:`form` is the legacy
    label of the component (``"friction"``, ``"general"``, ``"none"``).

    Args:
        hamiltonian: approximator ``(2N,) -> (1,)`` with a smooth activation.
        dissipation: a component (:class:`Friction`, :class:`LearnedDissipation`,
            :class:`NoDissipation` or another :class:`AbstractDissipation`), or as in earlier
            versions ``"friction"``, ``"none"``, or an approximator ``(2N,) -> (k·2N,)``
            (k >= 1 rows of A) for the general form.
        gamma_init: initial damping γ > 0 of the ``"friction"`` string form (default 0.01;
            validated but ignored for an approximator; refused with a component, which takes
            ``Friction(gamma_init=...)``). The default 0.01 starts nearly conservative, so the
            early fit of H is not distorted by a large spurious damping (a start at γ = 0.5 ran
            away to γ ≈ 1 on the Duffing data). While γ is small, softplus(raw) ≈ e^raw and
            Adam moves raw by about its learning rate η per step, so γ changes by at most a
            factor e every 1/η steps: start near the expected magnitude if it is known and far
            from 0.01.

    Raises:
        ConfigError: if an approximator has the wrong sizes or a non-smooth activation, if
            ``dissipation`` is not one of the accepted values, or if ``gamma_init`` is not a
            finite number > 0.

    Reference: Yaguchi (2025), eqs. 8-11; Sosanya & Greydanus, "Dissipative Hamiltonian Neural
    Networks", 2022 (which leaves the sign of the dissipation free, unlike this model).
    """

    name = "dhnn"
    scaling = "canonical"

    def __init__(
        self,
        hamiltonian: AbstractApproximator,
        dissipation: AbstractDissipation | AbstractApproximator | str = "friction",
        *,
        gamma_init: float | None = None,
    ):
        self._set_core("DissipativeHNN", hamiltonian, dissipation, gamma_init)

    _no_gamma: ClassVar[str] = (
        "DissipativeHNN: gamma is defined for the friction form only; the general form's "
        "dissipation depends on the state, see dissipation_matrix(y)"
    )

    @property
    def form(self) -> str:
        """The dissipation's label: ``"friction"``, ``"general"``, ``"none"`` (read-only,
        derived from :attr:`dissipation`; prefer asking the component: ``model.dissipation.damping``,
        ``model.readout()``)."""
        return self.dissipation.form

    @property
    def gamma_init(self) -> float | None:
        """The initial damping of a :class:`Friction` component (``None`` otherwise)."""
        d = self.dissipation
        return d.gamma_init if isinstance(d, Friction) else None

    @property
    def raw_gamma(self) -> nnx.Param:
        """The friction's raw parameter (γ = softplus(raw)); a :class:`Friction` only."""
        if not isinstance(self.dissipation, Friction):
            raise AttributeError(f"raw_gamma: the dissipation is {type(self.dissipation).__name__}")
        return self.dissipation.raw_gamma

    def dissipation_matrix(self, y: Array) -> Array:
        """The negative semi-definite matrix D(y), shape ``(2N, 2N)``, of du/dt = (J + D)∇H."""
        return self.dissipation.matrix(y)

    def conservative_field(self, y: Array) -> Array:
        """The Hamiltonian part J∇H(y), shape ``(2N,)`` (conserves H exactly)."""
        return symplectic_gradient(self.energy, y)

    def dissipative_field(self, y: Array) -> Array:
        """The dissipative part D(y)∇H(y), shape ``(2N,)`` (never increases H)."""
        return self.dissipation(y, jax.grad(self.energy)(y))

    def __call__(self, t, y: Array, args=None) -> Array:
        return self.autonomous_field(y)

    def config(self) -> dict[str, Any]:
        return {}

    def submodules(self):
        return {"hamiltonian": self.hamiltonian, "dissipation": self.dissipation}

    @classmethod
    def build(
        cls,
        state_size: int,
        approximator,
        *,
        dissipation: str = "friction",
        dissipation_rank: int | None = None,
        gamma_init: float | None = None,
    ) -> DissipativeHNN:
        """A dissipative HNN from options (see :func:`physnet.build_model`): H is
        ``approximator(state_size, 1)``; ``dissipation`` is ``"friction"`` (:class:`Friction`
        starting at ``gamma_init``, default 0.01), ``"none"``, or ``"general"``
        (:class:`LearnedDissipation` with A from a second ``approximator(state_size,
        dissipation_rank * state_size)``, ``dissipation_rank`` rows, default the state size)."""
        hamiltonian = approximator(state_size, 1)
        if dissipation == "general":
            rank = state_size if dissipation_rank is None else dissipation_rank
            integer("DissipativeHNN", "dissipation_rank", rank, low=1)
            a = approximator(state_size, rank * state_size)
            return cls(hamiltonian, a, gamma_init=gamma_init)
        if dissipation_rank is not None:
            raise ConfigError(
                f"dissipation_rank applies to dissipation='general' only, not {dissipation!r}"
            )
        return cls(hamiltonian, dissipation, gamma_init=gamma_init)


def as_dissipation(
    dissipation, gamma_init: float | None = None, *, param_dtype="float64"
) -> AbstractDissipation:
    """The component for ``DissipativeHNN(dissipation=..., gamma_init=...)``: the one place
    where the string modes and a bare approximator of earlier versions become components.

    ``"friction"`` -> :class:`Friction` (``gamma_init``, default 0.01), ``"none"`` ->
    :class:`NoDissipation`, an approximator -> :class:`LearnedDissipation`; a component is
    returned as it is.

    Raises:
        ConfigError: for any other value; if ``gamma_init`` is not a finite number > 0; or if
            ``gamma_init`` is given with a component (set it on the component instead).
    """
    if isinstance(dissipation, AbstractDissipation):
        if gamma_init is not None:
            raise ConfigError(
                f"DissipativeHNN: gamma_init={gamma_init!r} does not apply to a "
                f"{type(dissipation).__name__} component; pass Friction(gamma_init=...) instead"
            )
        return dissipation
    gamma = 0.01 if gamma_init is None else check_gamma_init(gamma_init, "DissipativeHNN")
    if isinstance(dissipation, AbstractApproximator):
        return LearnedDissipation(dissipation)
    if isinstance(dissipation, str) and dissipation == "friction":
        return Friction(gamma, param_dtype=param_dtype)
    if isinstance(dissipation, str) and dissipation == "none":
        return NoDissipation()
    raise ConfigError(
        "DissipativeHNN: dissipation must be a dissipation component (Friction(), "
        "LearnedDissipation(approximator), NoDissipation()), an approximator (general form) "
        f"or one of {', '.join(map(repr, DISSIPATION_FORMS))}, got {dissipation!r}"
    )
