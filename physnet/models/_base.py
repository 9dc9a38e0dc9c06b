"""Abstract learned vector fields, their components, and what they can read out.

A model declares its capabilities instead of being enumerated by callers:

- :meth:`AbstractVectorField.parts` — its learned functions (H, L, the vector field, a
  1-form, the dissipation's A, a force F(t)), each a :class:`Part` naming its approximator, so a
  reader (``physnet.interpret.read_model``) can turn each into a formula or say which one
  cannot be read;
- :meth:`AbstractVectorField.readout` — the physical constants it holds as parameters, keyed
  as in ``metrics.json`` (``gamma_hat`` of a friction, a force's amplitudes and frequencies),
  collected from its components (:class:`AbstractComponent`);
- :attr:`AbstractVectorField.scaling` — which per-component rescalings of the state keep its
  structure (how ``physnet train`` may nondimensionalise a record for it), and
  :meth:`AbstractVectorField.unsuitable` — why it cannot describe a data set (``None`` when it
  can), so structure selection (``physnet train --model auto``) tries only what applies;
  :meth:`AbstractVectorField.unsuitable_states` — why a built model cannot describe the states
  of a data set (every fit checks it before any work).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import Array

from .._errors import ConfigError
from ..approximators import NONSMOOTH_ACTIVATIONS, AbstractApproximator

#: the kinds of :class:`Part` physnet's models declare (a reader may support more)
PART_KINDS = (
    "hamiltonian",
    "lagrangian",
    "vector_field",
    "one_form",
    "dissipation",
    "force",
    "potential",
    "input_matrix",
)


@dataclasses.dataclass(frozen=True, eq=False)
class Part:
    """One learned function of a model, declared for read-outs (:meth:`AbstractVectorField.parts`).

    Attributes:
        name: the function's symbol in formulas: ``"H"``, ``"L"``, ``"f"``, ``"theta"``,
            ``"A"``, ``"F"``.
        kind: what the function is, one of :data:`PART_KINDS` (or a model's own).
        approximator: the approximator that computes it.
        label: how to name it to a user, e.g. ``"the H network"``.
        inputs: ``"state"`` (a function of one state), ``"configuration"`` (of the first
            ``approximator.in_features`` components of the state: the coordinates q, or the
            bodies' positions x, as a potential V(q) or an input gain B(q)), ``"angles"``
            (of (cos q, sin q), q the first half of the state: angle coordinates) or
            ``"time"`` (of the scalar time t).
    """

    name: str
    kind: str
    approximator: AbstractApproximator
    label: str
    inputs: str = "state"


class AbstractComponent(nnx.Module, abc.ABC):
    """A learnable part of a model that is not an approximator (a dissipation, a force).

    A learnable piece of a model that is not an approximator (a dissipation, a force):
    it declares its checkpoint arguments and what it can read out."""

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments other than the sub-modules."""

    def submodules(self) -> dict[str, nnx.Module]:
        """The learnable sub-modules by constructor argument name (for checkpoints)."""
        return {}

    def parts(self) -> tuple[Part, ...]:
        """The learned functions inside the component (none by default)."""
        return ()

    def readout(self) -> dict[str, float]:
        """The physical constants the component holds as parameters, by metrics key (none by
        default)."""
        return {}

    def readout_in(self, scales: np.ndarray) -> dict[str, float]:
        """:meth:`readout` in the data's units, for a model trained on rescaled states
        ``ỹ = y / scales`` (``scales``: one positive number per state component; time is never
        rescaled). The default: constants that do not change with the state's units (rates,
        frequencies); a component whose constants carry the state's units converts them."""
        return self.readout()


class AbstractVectorField(nnx.Module, abc.ABC):
    """A learned ODE ``dy/dt = model(t, y, args)`` on ONE state of shape ``(state_size,)``.

    The diffrax signature, so a model drops into ``diffrax.ODETerm`` and physnet's steppers.
    Batching is ``jax.vmap``.
    """

    state_size: int
    #: the number of input channels m of the model's input port: 0 (the default) for an
    #: autonomous model ``model(t, y, args)``; a model with m > 0 is called as
    #: ``model(t, y, u)`` with ``u`` of shape ``(m,)`` the input at t (``None``: zero input),
    #: and trains and rolls out only on data with m inputs
    input_size: int = 0

    #: which rescalings ``y = s * ỹ`` (one positive scale per component, time unchanged) keep
    #: the model's structure, so that a model trained on ỹ is a model of the same kind on y
    #: (:func:`physnet.data.structure_scales`):
    #:
    #: - ``"components"``: any scales (a general vector field; a closed 2-form stays closed);
    #: - ``"canonical"``: q_i and p_i scaled by a_i and b_i with a_i·b_i the same for every
    #:   degree of freedom (Hamilton's equations keep their form, H scaled by 1/(a·b));
    #: - ``"configuration"``: q_i and q̇_i share one scale (a point transformation: the
    #:   Euler-Lagrange equations keep their form, and q̇ stays dq/dt);
    #: - ``"uniform"``: one scale for every component (the default: every structure
    #:   homogeneous in the state keeps its form);
    #: - ``"none"``: train in the file's units.
    scaling: str = "uniform"

    #: constructor arguments added after checkpoints of this class were first written, with
    #: the value such an older checkpoint means (used where a stored config lacks the key,
    #: so an old checkpoint never loads as a different model)
    config_added: dict[str, Any] = {}

    @classmethod
    def unsuitable(cls, state_size: int, velocity_coordinates: bool | None) -> str | None:
        """Why this model cannot describe data of ``state_size`` components (``None`` when
        it can). ``velocity_coordinates`` says whether the second half of the state is the
        time derivative of the first half (None: unknown). The default accepts any data."""
        return None

    def unsuitable_states(self, states: np.ndarray) -> str | None:
        """Why this built model cannot describe these states (``None`` when it can).

        ``states`` is every observed state of a data set, shape ``(N, state_size)``, in the
        units the model is trained in. Checked by every fit before any work (one line naming
        the problem); the default accepts any states. A model with a known relation between
        the components (the rods of :class:`~physnet.models.ConstrainedHNN`) says here when
        the data break it, and how to build a model that fits them."""
        return None

    @abc.abstractmethod
    def __call__(self, t, y: Array, args=None) -> Array: ...

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments other than the sub-modules."""

    @abc.abstractmethod
    def submodules(self) -> dict[str, nnx.Module]:
        """The learnable parts by constructor argument name (for checkpoints)."""

    def parts(self) -> tuple[Part, ...]:
        """The model's learned functions, the main law first (for read-outs).

        The default lists every approximator among :meth:`submodules` under its argument name
        and the parts of every component; physnet's models name theirs (``"H"``, ``"L"``, ...).
        """
        out: list[Part] = []
        for key, module in self.submodules().items():
            if isinstance(module, AbstractApproximator):
                out.append(Part(key, key, module, f"the {key} network"))
            elif isinstance(module, AbstractComponent):
                out.extend(module.parts())
        return tuple(out)

    def readout(self) -> dict[str, float]:
        """Physical constants held as parameters, by ``metrics.json`` key (e.g. ``gamma_hat``):
        the union of the components' :meth:`AbstractComponent.readout` (empty without any)."""
        out: dict[str, float] = {}
        for module in self.submodules().values():
            if isinstance(module, AbstractComponent):
                out |= module.readout()
        return out

    def readout_in(self, scales=None) -> dict[str, float]:
        """:meth:`readout` in the data's units for a model trained on states rescaled by
        ``scales`` (``y = scales · ỹ``; ``None`` or ones: :meth:`readout` itself), from the
        components' :meth:`AbstractComponent.readout_in`: a run trained with ``--scale``
        reports e.g. its damping and input gains in the file's units. A model that overrides
        :meth:`readout` and trains on rescaled states overrides this too."""
        if scales is None or np.all(np.asarray(scales) == 1.0):
            return self.readout()
        scales = np.asarray(scales, dtype=np.float64)
        out: dict[str, float] = {}
        for module in self.submodules().values():
            if isinstance(module, AbstractComponent):
                out |= module.readout_in(scales)
        return out


class AbstractEnergyModel(AbstractVectorField):
    """A vector field built from a learned scalar energy, exposed by :meth:`energy`."""

    @classmethod
    def unsuitable(cls, state_size: int, velocity_coordinates: bool | None) -> str | None:
        """Energy models of physnet act on pairs (q, p) or (q, q̇): an even state size."""
        if state_size % 2:
            return (
                f"{cls.__name__} needs pairs of coordinates (an even state size), not {state_size}"
            )
        return None

    @abc.abstractmethod
    def energy(self, y: Array) -> Array:
        """The model's learned energy of one state (a scalar)."""


def check_input_port(where: str, model, n_inputs: int) -> None:
    """Check that ``model``'s input port fits data (or a signal) of ``n_inputs`` channels.

    Raises:
        ConfigError: one line when inputs are given to a model without an input port, a
            model with a port gets none, or the numbers of channels differ.
    """
    m = int(getattr(model, "input_size", 0))
    name = type(model).__name__
    if m == n_inputs:
        return
    if not m:
        raise ConfigError(
            f"{where}: the data have {n_inputs} input(s), but the model {name} has no input "
            f"port; build one with input_size={n_inputs} (node, port-hnn; physnet train does "
            "this from the data)"
        )
    if not n_inputs:
        raise ConfigError(
            f"{where}: the model {name} has an input port of {m} channel(s), but the data have "
            "no inputs; give the inputs (Trajectories.inputs, physnet import --inputs, "
            f"rollout(..., inputs=signal); pn.signals.Zero({m}) for none)"
        )
    raise ConfigError(f"{where}: the model {name} takes {m} input(s), but the data have {n_inputs}")


def check_scalar_energy(owner: str, name: str, approx) -> None:
    """Check that an approximator can serve as a scalar energy (H or L).

    Validate an approximator used as a scalar energy (H or L): an approximator with a
    scalar output, an even-sized input (q, p) and smooth activations.

    Raises:
        ConfigError: naming ``owner``, the argument ``name`` and the offending value.
    """
    if not isinstance(approx, AbstractApproximator):
        raise ConfigError(f"{owner}: {name} must be an approximator, got {type(approx).__name__}")
    if approx.out_features != 1:
        raise ConfigError(
            f"{owner}: {name} must have a scalar output (out_features=1), got "
            f"out_features={approx.out_features}"
        )
    if approx.in_features % 2:
        raise ConfigError(
            f"{owner}: {name} must take an even-sized state (q, p), got "
            f"in_features={approx.in_features}"
        )
    nonsmooth = [a for a in approx.activation_names() if a in NONSMOOTH_ACTIVATIONS]
    if nonsmooth:
        activation = nonsmooth[0]
        raise ConfigError(
            f"{owner}: {name} uses the non-smooth activation {activation!r}; its derivatives "
            "define the dynamics, so use a smooth one (tanh, softplus, silu)"
        )


def matrices_at(owner: str, what: str, matrix, ys, state_size: int) -> tuple[Array, np.ndarray]:
    """``ys`` as states ``(S, state_size)`` and ``matrix(y)`` at each, ``(S, n, n)``.

    Raises:
        ConfigError: ``"{owner}: ys must have shape ..."`` for other shapes, ``"{what} is not
            finite at state i (...)"`` naming the first state with a non-finite entry.
    """
    ys = jnp.atleast_2d(jnp.asarray(ys))
    if ys.ndim != 2 or ys.shape[-1] != state_size:
        raise ConfigError(f"{owner}: ys must have shape (S, {state_size}), got {ys.shape}")
    values = np.asarray(jax.jit(jax.vmap(matrix))(ys))
    bad = ~np.all(np.isfinite(values), axis=(1, 2))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ConfigError(f"{what} is not finite at state {i} ({ys[i].tolist()})")
    return ys, values


def check_condition(what: str, ys, largest, smallest, max_condition: float, advice: str):
    """The condition numbers ``largest / smallest`` per state (inf where ``smallest`` is 0).

    Raises:
        ConfigError: ``"{what} is singular or ill-conditioned at state i (...): condition number
            c > max_condition=...; {advice}"`` for the worst state when it exceeds the bound.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        condition = np.where(smallest > 0, largest / smallest, np.inf)
    worst = int(np.argmax(condition))
    if not condition[worst] <= max_condition:
        raise ConfigError(
            f"{what} is singular or ill-conditioned at state {worst} ({ys[worst].tolist()}): "
            f"condition number {condition[worst]:.3g} > max_condition={max_condition:.3g}; "
            f"{advice}"
        )
    return condition
