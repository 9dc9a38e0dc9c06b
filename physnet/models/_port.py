r"""Port-Hamiltonian neural network: dissipation and a learned external force of time.

du/dt = (J - R(u)) ∇H(u) + G F(t): R = -D ⪰ 0 comes from the dissipation components of
:class:`~physnet.DissipativeHNN`, G = (0, I)ᵀ lets the force act on the momenta, and F(t) is a
forcing component:

- :class:`FourierForce` — F(t) = Σ_k a_k cos(ω_k t) + b_k sin(ω_k t), readable amplitudes
  A_k = |(a_k, b_k)| and frequencies ω_k = softplus(raw) > 0;
- :class:`LearnedForce` — F(t) = NN(t), an approximator of time.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._checks import integer, number
from .._errors import ConfigError
from ..approximators import AbstractApproximator
from ._base import AbstractComponent, Part
from ._dissipation import AbstractDissipation, _inverse_softplus
from ._dissipative import HamiltonianWithDissipation
from ._input_port import AbstractInputPort, KnownInputPort, LearnedInputPort

#: the accepted string values of ``PortHNN.build(force=...)``
FORCE_FORMS = ("fourier", "learned", "none")


class AbstractForce(AbstractComponent):
    """An external force F(t) of shape ``(N,)`` acting on the N momenta."""

    dof: int

    @abc.abstractmethod
    def __call__(self, t) -> Array:
        """F(t), shape ``(N,)``, at the scalar time ``t``."""


class NoForce(AbstractForce):
    """F = 0: the port-HNN is a :class:`~physnet.DissipativeHNN`."""

    def __init__(self, dof: int = 1):
        self.dof = int(dof)

    def __call__(self, t) -> Array:
        return jnp.zeros((self.dof,), dtype=jnp.float64)

    def config(self) -> dict[str, Any]:
        return {"dof": self.dof}


class FourierForce(AbstractForce):
    r"""A learned external force: a small Fourier series with learned frequencies.

    A small Fourier series with learned frequencies:

    .. math:: F(t) = \sum_{k=1}^{K} a_k \cos(\omega_k t) + b_k \sin(\omega_k t),
        \qquad \omega_k = \omega_\min + \mathrm{softplus}(r_k) > \omega_\min,

    with a_k, b_k of shape ``(N,)``; :attr:`amplitudes` A_k = sqrt(a_k² + b_k²) and
    :attr:`frequencies` ω_k are the readable parameters (for γ cos(ωt): A = γ, ω).

    Args:
        dof: number of forced momenta N.
        n_terms: K >= 1 terms.
        omega_init: initial frequencies, one float (term k starts at k·omega_init) or K
            floats, all > 0. Frequencies are found by gradient descent, which converges only
            from inside the basin of the true one (about ±π/(record length) wide): start near
            the expected value (a spectrum of the data gives it).
        amplitude_init: initial a_k (b_k start at 0); a small nonzero value so that the
            frequencies receive gradient from the first step.
        min_frequency: ω_min >= 0, a lower bound on every frequency (default 0). A term whose
            period is longer than the record cannot be told from a trend, which the learned
            H absorbs (a constant force is a linear term in H), so a fit can slide into
            ω -> 0; ``min_frequency = 2π / (record length)`` excludes that degenerate branch.

    Raises:
        ConfigError: for a non-positive ``dof``/``n_terms`` or frequencies <= 0.
    """

    def __init__(
        self,
        dof: int = 1,
        n_terms: int = 1,
        *,
        omega_init: float | tuple[float, ...] = 1.0,
        amplitude_init: float = 0.01,
        min_frequency: float = 0.0,
    ):
        integer("FourierForce", "dof", dof, low=1)
        integer("FourierForce", "n_terms", n_terms, low=1)
        if isinstance(omega_init, int | float):
            omegas = [float(omega_init) * (k + 1) for k in range(n_terms)]
        else:
            omegas = [float(w) for w in omega_init]
        min_frequency = number("FourierForce", "min_frequency", min_frequency, low=0)
        if len(omegas) != n_terms or not all(
            math.isfinite(w) and w > min_frequency for w in omegas
        ):
            raise ConfigError(
                f"FourierForce: omega_init must be one number or {n_terms} numbers > "
                f"min_frequency = {min_frequency}, got {omega_init!r}"
            )
        number("FourierForce", "amplitude_init", amplitude_init)
        self.dof, self.n_terms = dof, n_terms
        self.omega_init = tuple(omegas)
        self.amplitude_init = float(amplitude_init)
        self.min_frequency = min_frequency
        self.raw_omega = nnx.Param(
            jnp.asarray([_inverse_softplus(w - min_frequency) for w in omegas])
        )
        self.cos = nnx.Param(jnp.full((n_terms, dof), self.amplitude_init, dtype=jnp.float64))
        self.sin = nnx.Param(jnp.zeros((n_terms, dof), dtype=jnp.float64))

    @property
    def frequencies(self) -> Array:
        """ω_k, shape ``(K,)``."""
        return self.min_frequency + jax.nn.softplus(self.raw_omega[...])

    @property
    def amplitudes(self) -> Array:
        """A_k = sqrt(a_k² + b_k²), shape ``(K, N)``."""
        return jnp.sqrt(self.cos[...] ** 2 + self.sin[...] ** 2)

    @property
    def phases(self) -> Array:
        """φ_k with a_k cos ωt + b_k sin ωt = A_k cos(ωt - φ_k), shape ``(K, N)``."""
        return jnp.arctan2(self.sin[...], self.cos[...])

    def __call__(self, t) -> Array:
        wt = self.frequencies * t
        return jnp.cos(wt) @ self.cos[...] + jnp.sin(wt) @ self.sin[...]

    def readout(self) -> dict[str, float]:
        """``force_frequency_k`` (ω_k) and ``force_amplitude_k`` (A_k; ``force_amplitude_k_i``
        for the momentum i of several), k and i from 1."""
        out: dict[str, float] = {}
        omegas, amplitudes = self.frequencies, self.amplitudes
        for k in range(self.n_terms):
            out[f"force_frequency_{k + 1}"] = float(omegas[k])
            for i in range(self.dof):
                key = f"force_amplitude_{k + 1}" + (f"_{i + 1}" if self.dof > 1 else "")
                out[key] = float(amplitudes[k, i])
        return out

    def readout_in(self, scales: np.ndarray) -> dict[str, float]:
        """The amplitudes in the data's units (the force drives ṗ_i: A_k,i = b_i Ã_k,i with
        p_i = b_i p̃_i); frequencies are rates, unchanged."""
        out = self.readout()
        b = scales[self.dof :]
        for key in list(out):
            if key.startswith("force_amplitude_"):
                i = int(key.split("_")[3]) - 1 if self.dof > 1 else 0
                out[key] *= float(b[i])
        return out

    def config(self) -> dict[str, Any]:
        return {
            "dof": self.dof,
            "n_terms": self.n_terms,
            "omega_init": list(self.omega_init),
            "amplitude_init": self.amplitude_init,
            "min_frequency": self.min_frequency,
        }


class LearnedForce(AbstractForce):
    """F(t) = NN(t): an approximator ``(1,) -> (N,)`` of time (the port-HNN paper's form).

    Args:
        approximator: ``(1,) -> (N,)``.

    Raises:
        ConfigError: if it is not an approximator of one input.
    """

    def __init__(self, approximator: AbstractApproximator):
        if not isinstance(approximator, AbstractApproximator) or approximator.in_features != 1:
            raise ConfigError(
                "LearnedForce: approximator must be an approximator of time (in_features=1), "
                f"got {approximator!r}"
            )
        self.approximator = approximator
        self.dof = approximator.out_features

    def __call__(self, t) -> Array:
        return self.approximator(jnp.reshape(jnp.asarray(t, dtype=jnp.float64), (1,)))

    def config(self) -> dict[str, Any]:
        return {}

    def submodules(self) -> dict[str, nnx.Module]:
        return {"approximator": self.approximator}

    def parts(self) -> tuple[Part, ...]:
        return (Part("F", "force", self.approximator, "the force network F(t)", inputs="time"),)


class PortHNN(HamiltonianWithDissipation):
    r"""Port-Hamiltonian neural network (Desai et al., 2021).

    .. math::
        \dot u = \bigl(J - R(u)\bigr)\nabla H(u) + G F(t), \qquad
        G = \begin{pmatrix} 0 \\ I \end{pmatrix}, \qquad R \succeq 0,

    so along the field

    .. math:: \frac{dH}{dt} = -\nabla H^\top R \nabla H + \nabla H^\top G F(t):

    energy leaves only through R and enters only through the port G F. R = -D with D a
    dissipation component (:class:`Friction` by default: R = diag(0, γI), so for
    H = p²/2 + V(q) the model is q̈ = -V'(q) - γq̇ + F(t)); F is a forcing component
    (:class:`FourierForce`, readable amplitudes and frequencies, or :class:`LearnedForce`,
    an approximator of t). The vector field depends on t, so data, losses and rollouts carry
    the true time of every sample (see :meth:`Trajectories.flat_times`).

    Args:
        hamiltonian: approximator ``(2N,) -> (1,)`` with a smooth activation.
        dissipation: a dissipation component or ``"friction"``/``"none"``/an approximator
            (as :class:`DissipativeHNN`).
        force: a forcing component, ``"fourier"`` (``FourierForce(N)``, the default without
            an input port), ``"none"`` (the default with one), or an approximator
            ``(1,) -> (N,)`` of time (:class:`LearnedForce`).
        gamma_init: initial damping of the ``"friction"`` string form.
        input_port: ``None`` (no measured input) or an input port
            (:class:`KnownInputPort`, :class:`LearnedInputPort`) G(y) of m channels: the
            model becomes ẏ = (J - R)∇H + G F(t) + G(y) u, called as ``model(t, y, u)``
            with ``u`` ``(m,)``, and dH/dt = -∇HᵀR∇H + ∇HᵀG F + ∇HᵀG(y) u exactly.

    Raises:
        ConfigError: for invalid parts, a force whose size is not N, or an input port of
            another N.

    Reference: Desai, Mattheakis, Sondak, Protopapas, Roberts, "Port-Hamiltonian neural
    networks for learning explicit time-dependent dynamical systems", Phys. Rev. E 104 (2021).
    """

    name = "port-hnn"
    scaling = "canonical"

    def __init__(
        self,
        hamiltonian: AbstractApproximator,
        dissipation: AbstractDissipation | AbstractApproximator | str = "friction",
        force: AbstractForce | AbstractApproximator | str | None = None,
        *,
        gamma_init: float | None = None,
        input_port: AbstractInputPort | None = None,
    ):
        self._set_core("PortHNN", hamiltonian, dissipation, gamma_init)
        if force is None:
            force = "fourier" if input_port is None else "none"
        self.force = as_force(force, self.state_size // 2)
        if input_port is not None and (
            not isinstance(input_port, AbstractInputPort) or input_port.dof != self.state_size // 2
        ):
            raise ConfigError(
                f"PortHNN: input_port must be None or an input port of {self.state_size // 2} "
                f"degree(s) of freedom (KnownInputPort, LearnedInputPort), got {input_port!r}"
            )
        self.input_port = input_port
        self.input_size = 0 if input_port is None else input_port.input_size

    _no_gamma: ClassVar[str] = "PortHNN: gamma is defined for the friction form only"

    def dissipation_matrix(self, y: Array) -> Array:
        """R(y) = -D(y), positive semi-definite, shape ``(2N, 2N)``."""
        return -self.dissipation.matrix(y)

    def input_matrix(self) -> Array:
        """G = (0, I)ᵀ, shape ``(2N, N)``."""
        n = self.state_size // 2
        return jnp.concatenate([jnp.zeros((n, n)), jnp.eye(n)], axis=0)

    def __call__(self, t, y: Array, args=None) -> Array:
        n = self.state_size // 2
        f = self.force(t)
        out = self.autonomous_field(y) + jnp.concatenate([jnp.zeros((n,), f.dtype), f])
        if self.input_port is None or args is None:
            return out
        return out + self.input_port.matrix(y) @ jnp.reshape(args, (-1,))

    def config(self) -> dict[str, Any]:
        return {}

    def submodules(self):
        out = {
            "hamiltonian": self.hamiltonian,
            "dissipation": self.dissipation,
            "force": self.force,
        }
        if self.input_port is not None:
            out["input_port"] = self.input_port
        return out

    def parts(self) -> tuple[Part, ...]:
        port = () if self.input_port is None else self.input_port.parts()
        return (*super().parts(), *self.force.parts(), *port)

    @classmethod
    def build(
        cls,
        state_size: int,
        approximator,
        *,
        dissipation: str = "friction",
        gamma_init: float | None = None,
        force: str | None = None,
        n_terms: int = 1,
        omega_init: float = 1.0,
        input_size: int = 0,
        input_form: str = "learned",
    ) -> PortHNN:
        """A port-HNN from options (see :func:`physnet.build_model`): H is
        ``approximator(state_size, 1)``; ``dissipation`` ``"friction"`` or ``"none"``;
        ``force`` ``"fourier"`` (:class:`FourierForce` with ``n_terms`` terms from
        ``omega_init``; the default without inputs), ``"learned"`` (:class:`LearnedForce`
        around ``approximator(1, N)``) or ``"none"`` (the default with inputs); with
        ``input_size = m > 0`` an input port of form ``input_form``: ``"learned"`` (a constant
        learned gain, :class:`LearnedInputPort`), ``"learned-q"`` (B(q) an approximator) or
        ``"known"`` (G = (0, I)ᵀ, m = N)."""
        if force is None:
            force = "none" if input_size else "fourier"
        if force not in FORCE_FORMS:
            raise ConfigError(
                f"PortHNN: force must be one of {', '.join(map(repr, FORCE_FORMS))}, got {force!r}"
            )
        n = state_size // 2
        forcing = as_force(
            force, n, n_terms=n_terms, omega_init=omega_init, approximator=approximator
        )
        port = None
        if input_size:
            port = as_input_port(input_form, n, input_size, approximator)
        return cls(
            approximator(state_size, 1),
            dissipation,
            forcing,
            gamma_init=gamma_init,
            input_port=port,
        )


#: the accepted string values of ``PortHNN.build(input_form=...)``
INPUT_PORT_FORMS = ("learned", "learned-q", "known")


def as_input_port(
    form: str, dof: int, input_size: int, approximator, owner: str = "PortHNN"
) -> AbstractInputPort:
    """The input port of ``PortHNN.build(input_form=form)`` and ``LNN.build`` (see
    :data:`INPUT_PORT_FORMS`); ``owner`` names the model in the error messages.

    Raises:
        ConfigError: for an unknown form, or ``"known"`` with m != N.
    """
    if form == "learned":
        return LearnedInputPort(dof, input_size)
    if form == "learned-q":
        return LearnedInputPort(dof, input_size, approximator=approximator(dof, dof * input_size))
    if form == "known":
        if input_size != dof:
            raise ConfigError(
                f"{owner}: input_form='known' is G = (0, I) with one input per momentum "
                f"({dof}), but the data have {input_size} input(s); use 'learned'"
            )
        return KnownInputPort.on_momenta(dof)
    raise ConfigError(
        f"{owner}: input_form must be one of {', '.join(INPUT_PORT_FORMS)}, got {form!r}"
    )


def as_force(
    force, dof: int, *, n_terms: int = 1, omega_init: float = 1.0, approximator=None
) -> AbstractForce:
    """The component for ``PortHNN(force=...)`` and ``PortHNN.build(force=...)``: the one place
    where the string forms and a bare approximator become forcing components.

    ``"fourier"`` -> :class:`FourierForce` (``dof``, ``n_terms`` terms from ``omega_init``),
    ``"none"`` -> :class:`NoForce`, ``"learned"`` -> :class:`LearnedForce` around
    ``approximator(1, dof)`` (a factory, as in ``build``), an approximator ->
    :class:`LearnedForce`; a component is returned as it is.

    Raises:
        ConfigError: for any other value or a force whose size is not ``dof``.
    """
    if isinstance(force, str) and force == "fourier":
        force = FourierForce(dof, n_terms, omega_init=omega_init)
    elif isinstance(force, str) and force == "none":
        force = NoForce(dof)
    elif isinstance(force, str) and force == "learned" and approximator is not None:
        force = LearnedForce(approximator(1, dof))
    elif isinstance(force, AbstractApproximator):
        force = LearnedForce(force)
    if not isinstance(force, AbstractForce) or force.dof != dof:
        raise ConfigError(
            f"PortHNN: force must be 'fourier', 'none' or a forcing component of {dof} "
            f"component(s) (FourierForce({dof}), LearnedForce(approximator(1, {dof}))), got "
            f"{force!r}"
        )
    return force
