"""Lagrangian neural network."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._checks import number
from .._errors import ConfigError
from ..approximators import AbstractApproximator
from . import _mechanics
from ._base import AbstractEnergyModel, Part, check_condition, check_scalar_energy, matrices_at
from ._dissipation import AbstractDissipation, Friction
from ._input_port import AbstractInputPort
from ._port import as_input_port


class LNN(AbstractEnergyModel):
    r"""Lagrangian neural network (Cranmer et al., 2020).

    A learned scalar L_NN(q, q̇) defines the dynamics through the Euler-Lagrange equations,
    solved for the acceleration at every state (:func:`~physnet.models.euler_lagrange_acceleration`):

    .. math::
        \ddot q = \left(\frac{\partial^2 L}{\partial \dot q^2}\right)^{-1}
        \left(\frac{\partial L}{\partial q}
        - \frac{\partial^2 L}{\partial \dot q\, \partial q}\, \dot q\right).

    The model is a first-order vector field on the state y = (q, q̇): it returns (q̇, q̈), so it
    rolls out like every other model, and needs no momentum data (train it with the
    ``"acceleration"`` loss on (q, q̇, q̈), or equivalently the derivative loss). The energy
    E = ∂L/∂q̇·q̇ - L (:meth:`energy`) is conserved by the exact flow; other conservation laws
    hold only if their symmetry is built into L.

    **Singular mass matrix.** The mass matrix ∂²L/∂q̇² must be invertible. Where it is singular
    to working precision the acceleration is NaN (no pseudo-inverse), so training stops with
    :class:`~physnet.TrainingDivergedError` and rollouts show NaN. Outside ``jit``,
    :meth:`check_mass_matrix` raises :class:`ConfigError` with the offending state and its
    condition number, and also catches ill-conditioned matrices and a mass matrix whose
    eigenvalue signs differ between states (it must then be singular somewhere in between).

    **Kinetic reference term.** ``kinetic=k > 0`` learns L = k/2 |q̇|² + L_NN(q, q̇) instead of
    L_NN alone. This loses no generality (any L can be written so) and only fixes the gauge
    that the data cannot see (the Euler-Lagrange equations do not change under L -> cL), but
    with a small-output approximator at initialisation the mass matrix starts near k·I,
    invertible everywhere. Without it a 1-DOF LNN usually starts with ∂²L/∂q̇² changing sign
    inside the data region, and training cannot move the singular curve across the data (the
    acceleration loss is infinite there): on the Duffing data it stalls at loss O(1-10). It is
    a mild prior towards mechanical systems with q̇-quadratic kinetic energy.

    **Approximator.** Use a smooth activation (ReLU is refused: its second derivatives are
    zero almost everywhere, so the mass matrix would be singular). Recommended:
    ``LNN(MLP(2N, 1, activation="softplus"), kinetic=1.0)`` (the default LeCun
    initialisation keeps L_NN's Hessian O(0.1), so the kinetic term dominates at the start).
    For ``kinetic=0`` (Cranmer's pure form) use ``init="lnn"``, and expect some seeds to start
    with a mass matrix that changes sign (see :meth:`check_mass_matrix`). Avoid tanh with zero
    biases: an odd network has an odd Hessian, so ∂²L_NN/∂q̇² changes sign through the origin.

    **Friction.** ``dissipation=`` a dissipation component (:class:`~physnet.models.Friction`,
    :class:`~physnet.models.LearnedDissipation`, ...) adds the generalised force
    Q(q, q̇) = [D(y)·(0, q̇)]_q̇ to the Euler-Lagrange equations, d/dt ∂L/∂q̇ = ∂L/∂q + Q: for
    :class:`~physnet.models.Friction` Q = -γq̇ (Rayleigh's dissipation function γ/2·|q̇|²), so
    the energy decays as dE/dt = q̇·Q <= 0 for every parameter value. γ is on the scale of
    the learned L (the equations are unchanged by L -> cL, γ -> cγ); the read-out
    (:func:`physnet.interpret.read_model`) reports it for L normalised to a q̇² coefficient of
    1/2, i.e. the physical damping of q̈ = ... - γq̇ for a unit mass.

    **Inputs.** ``input_port=`` an input port (:class:`~physnet.models.KnownInputPort` with
    G = (0, B)ᵀ, :class:`~physnet.models.LearnedInputPort`: B constant or B(q)) adds the
    generalised force Q = B(q) u of m measured inputs, d/dt ∂L/∂q̇ = ∂L/∂q + Q_friction +
    B(q)u; the model is then called ``model(t, y, u)`` and dE/dt = q̇ᵀQ_friction + q̇ᵀB(q)u
    exactly (the input's power minus the friction's).

    Args:
        lagrangian: approximator ``(2N,) -> (1,)`` on the state (q, q̇), with a smooth
            activation.
        kinetic: coefficient k >= 0 of the kinetic reference term k/2 |q̇|² (default 0).
        dissipation: an optional dissipation component (default ``None``: conservative).
        input_port: an optional input port of N degrees of freedom whose matrix is (0, B)ᵀ
            (default ``None``: no measured input).

    Raises:
        ConfigError: if the approximator has a non-scalar output, an odd input size or a
            non-smooth activation, if ``kinetic`` is negative or not finite, if
            ``dissipation`` is not a dissipation component that fits the state, or if
            ``input_port`` is not an input port of N degrees of freedom acting on q̈ only.

    Reference: Cranmer, Greydanus, Hoyer, Battaglia, Spergel, Ho, "Lagrangian Neural
    Networks", 2020.
    """

    name = "lnn"
    scaling = "configuration"

    @classmethod
    def unsuitable(cls, state_size: int, velocity_coordinates: bool | None) -> str | None:
        """An LNN's state is (q, q̇): an even state size whose second half is dq/dt."""
        if state_size % 2:
            return f"LNN needs states (q, q̇), an even state size, not {state_size}"
        if velocity_coordinates is False:
            return "LNN needs states (q, q̇), and the second half of these states is not dq/dt"
        return None

    def __init__(
        self,
        lagrangian: AbstractApproximator,
        *,
        kinetic: float = 0.0,
        dissipation: AbstractDissipation | None = None,
        input_port: AbstractInputPort | None = None,
    ):
        check_scalar_energy("LNN", "lagrangian", lagrangian)
        number("LNN", "kinetic", kinetic, low=0)
        if dissipation is not None and not isinstance(dissipation, AbstractDissipation):
            raise ConfigError(
                "LNN: dissipation must be a dissipation component (Friction(), "
                f"LearnedDissipation(approximator)) or None, got {dissipation!r}"
            )
        self.lagrangian = lagrangian
        self.state_size = lagrangian.in_features
        self.kinetic = float(kinetic)
        if dissipation is not None:
            dissipation.check_state_size(self.state_size)
        self.dissipation = dissipation
        n = self.state_size // 2
        if input_port is not None and (
            not isinstance(input_port, AbstractInputPort)
            or input_port.dof != n
            or np.any(np.asarray(input_port.matrix(jnp.zeros(2 * n)))[:n] != 0)
        ):
            raise ConfigError(
                f"LNN: input_port must be None or an input port of {n} degree(s) of freedom "
                f"acting on the accelerations (matrix (0, B)ᵀ: KnownInputPort.on_momenta({n}), "
                f"LearnedInputPort), got {input_port!r}"
            )
        self.input_port = input_port
        self.input_size = 0 if input_port is None else input_port.input_size

    @property
    def dof(self) -> int:
        """Number of degrees of freedom N (the state has 2N components)."""
        return self.state_size // 2

    def lagrangian_at(self, q: Array, qdot: Array) -> Array:
        """The model's Lagrangian L(q, q̇) = kinetic/2 |q̇|² + L_NN(q, q̇) (a scalar) for
        ``q``, ``qdot`` of shape ``(N,)``."""
        value = self.lagrangian(jnp.concatenate([q, qdot]))[0]
        if self.kinetic:
            value = value + 0.5 * self.kinetic * jnp.dot(qdot, qdot)
        return value

    def generalised_force(self, q: Array, qdot: Array) -> Array | None:
        """The dissipation's generalised force Q = [D(y)·(0, q̇)]_q̇, shape ``(N,)`` (-γq̇ for a
        :class:`~physnet.models.Friction`), or ``None`` without a dissipation."""
        if self.dissipation is None:
            return None
        y = jnp.concatenate([q, qdot])
        return self.dissipation(y, jnp.concatenate([jnp.zeros_like(q), qdot]))[self.dof :]

    def input_force(self, q: Array, u: Array) -> Array:
        """The inputs' generalised force B(q) u, shape ``(N,)`` (``u`` of shape ``(m,)``)."""
        y = jnp.concatenate([q, jnp.zeros_like(q)])
        return self.input_port.matrix(y)[self.dof :] @ jnp.reshape(u, (-1,))

    def acceleration(self, q: Array, qdot: Array, u: Array | None = None) -> Array:
        """q̈ of shape ``(N,)`` from the Euler-Lagrange equations with the dissipation's
        generalised force, if any, and the inputs' B(q)u when ``u`` is given to a model with
        an input port (NaN if singular)."""
        force = self.generalised_force(q, qdot)
        if self.input_port is not None and u is not None:
            pushed = self.input_force(q, u)
            force = pushed if force is None else force + pushed
        return _mechanics.euler_lagrange_acceleration(self.lagrangian_at, q, qdot, force)

    def conservative_acceleration(self, q: Array, qdot: Array) -> Array:
        """q̈ of shape ``(N,)`` from the Euler-Lagrange equations of L alone (no dissipation;
        equal to :meth:`acceleration` without one)."""
        return _mechanics.euler_lagrange_acceleration(self.lagrangian_at, q, qdot)

    def mass_matrix(self, y: Array) -> Array:
        """∂²L/∂q̇² at one state ``y = (q, q̇)``, shape ``(N, N)``."""
        n = self.dof
        return _mechanics.mass_matrix(self.lagrangian_at, y[:n], y[n:])

    def energy(self, y: Array) -> Array:
        r"""The energy E = ∂L/∂q̇·q̇ - L of one state ``y = (q, q̇)`` (a scalar)."""
        n = self.dof
        q, qdot = y[:n], y[n:]
        momentum = jax.grad(self.lagrangian_at, argnums=1)(q, qdot)
        return jnp.dot(momentum, qdot) - self.lagrangian_at(q, qdot)

    def __call__(self, t, y: Array, args=None) -> Array:
        n = self.dof
        q, qdot = y[:n], y[n:]
        return jnp.concatenate([qdot, self.acceleration(q, qdot, args)])

    def check_mass_matrix(self, ys: Array, *, max_condition: float = 1e8) -> np.ndarray:
        r"""Check that ∂²L/∂q̇² is safely invertible at the states ``ys`` (outside ``jit``).

        Let λ be the eigenvalues of the mass matrices at all states and s = max |λ| over all
        of them. The check fails if a mass matrix is non-finite, if some state has
        s / min |λ| > ``max_condition`` (singular or ill-conditioned, measured against the
        scale over all states, so it also works for one degree of freedom), or if the number
        of positive eigenvalues differs between states (by continuity the mass matrix is then
        singular somewhere in between, and the learned dynamics blow up there).

        Args:
            ys: states ``(d,)`` or ``(S, d)``, for example the training states.
            max_condition: largest accepted condition number s / min |λ|.

        Returns:
            The condition numbers s / min |λ| per state, shape ``(S,)``.

        Raises:
            ConfigError: naming the failing state, with the condition number or eigenvalues.
        """
        what = "LNN: the mass matrix ∂²L/∂q̇²"
        ys, masses = matrices_at(
            "LNN.check_mass_matrix", what, self.mass_matrix, ys, self.state_size
        )
        eigenvalues = np.linalg.eigvalsh(masses)
        scale = np.max(np.abs(eigenvalues))
        smallest = np.min(np.abs(eigenvalues), axis=1)
        condition = check_condition(
            what,
            ys,
            scale,
            smallest,
            max_condition,
            "L must depend on q̇ non-degenerately (use a smooth activation such as softplus and "
            "init='lnn')",
        )
        positive = np.sum(eigenvalues > 0, axis=1)
        if np.any(positive != positive[0]):
            i = int(np.flatnonzero(positive != positive[0])[0])
            raise ConfigError(
                f"LNN: the mass matrix ∂²L/∂q̇² has {positive[0]} positive eigenvalue(s) at "
                f"state 0 but {positive[i]} at state {i} ({ys[i].tolist()}), so it is "
                "singular somewhere in between and the dynamics blow up there"
            )
        return condition

    def config(self) -> dict[str, Any]:
        return {"kinetic": self.kinetic}

    def submodules(self):
        subs = {"lagrangian": self.lagrangian}
        if self.dissipation is not None:
            subs["dissipation"] = self.dissipation
        if self.input_port is not None:
            subs["input_port"] = self.input_port
        return subs

    def readout_in(self, scales=None) -> dict[str, float]:
        """:meth:`readout` unconverted: the LNN's states (q, q̇) share one scale per degree of
        freedom, which leaves a friction rate γ unchanged, and its input gain is relative to
        the learned L's own (arbitrary) scale whatever the state's units."""
        return self.readout()

    def parts(self) -> tuple[Part, ...]:
        dissipation = () if self.dissipation is None else self.dissipation.parts()
        port = () if self.input_port is None else self.input_port.parts()
        return (Part("L", "lagrangian", self.lagrangian, "the L network"), *dissipation, *port)

    @classmethod
    def build(
        cls,
        state_size: int,
        approximator,
        *,
        kinetic: float = 0.0,
        dissipation: str | None = None,
        gamma_init: float | None = None,
        input_size: int = 0,
        input_form: str = "learned",
    ) -> LNN:
        """``LNN(approximator(state_size, 1), kinetic=kinetic)`` (see
        :func:`physnet.build_model`); ``dissipation="friction"`` adds a
        :class:`~physnet.models.Friction` starting at ``gamma_init`` (default 0.01);
        ``None`` (the default) or ``"none"``: no dissipation; ``input_size = m > 0`` adds an
        input port of form ``input_form`` (``"learned"``, ``"learned-q"``, ``"known"``, as
        :meth:`PortHNN.build <physnet.models.PortHNN.build>`), generalised forces B(q)u."""
        if dissipation is None or dissipation == "none":
            if gamma_init is not None:
                raise ConfigError("LNN: gamma_init applies to dissipation='friction' only")
            friction = None
        elif dissipation == "friction":
            friction = Friction(0.01 if gamma_init is None else gamma_init)
        else:
            raise ConfigError(f"LNN: dissipation must be 'none' or 'friction', got {dissipation!r}")
        port = None
        if input_size:
            port = as_input_port(input_form, state_size // 2, input_size, approximator, "LNN")
        return cls(
            approximator(state_size, 1), kinetic=kinetic, dissipation=friction, input_port=port
        )
