r"""The controller protocol, the closed loop on a system, and the energy port of a model.

A controller reads the measured state every ``period`` seconds and holds its input until the
next sample (a digital controller, zero-order hold):

.. math:: u(t) = \kappa(y(t_i)) \quad \text{on } [t_i, t_{i+1}),

and :func:`closed_loop` integrates the system under that input between samples.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import ConfigError
from ..integrators import solve
from ..models import PortHNN
from ..systems import AbstractSystem


class AbstractController(abc.ABC):
    """A feedback law u = κ(y) with ``input_size`` channels, possibly with a state of its own.

    A memoryless law implements :meth:`feedback`; a controller with memory (the warm start of
    :class:`~physnet.control.MPC`) overrides :meth:`init` and :meth:`step`.
    """

    input_size: int

    def feedback(self, y: Array) -> Array:
        """u ``(m,)`` at the state ``y`` ``(d,)``."""
        raise NotImplementedError(f"{type(self).__name__} has memory: call step(t, y, memory)")

    def init(self, y0: Array) -> Any:
        """The controller's memory before the first sample (a pytree; none by default)."""
        return ()

    def step(self, t, y: Array, memory) -> tuple[Array, Any]:
        """The input for the sample at time ``t`` and the memory for the next one."""
        return self.feedback(y), memory


def wrap_error(y: Array, target: Array, periodic: tuple[int, ...]) -> Array:
    """y - target, with the coordinates at indices ``periodic`` (angles) wrapped to [-π, π)."""
    e = y - target
    if not periodic:
        return e
    index = jnp.asarray(periodic)
    return e.at[index].set(jnp.mod(e[index] + jnp.pi, 2 * jnp.pi) - jnp.pi)


def energy_port(source) -> tuple[Callable[[Array], Array], Callable[[Array], Array], int]:
    """The energy H(y), the input matrix G(y) ``(d, m)`` and m of a model or a system.

    ``source`` is a :class:`~physnet.models.PortHNN` with an input port (its learned H and
    G) or a system with an input (``system.input_size > 0``: its true energy and G).

    Raises:
        ConfigError: for anything else (a model without an input port, a system without an
            input), in one line.
    """
    if isinstance(source, PortHNN) and source.input_port is not None:
        return source.energy, source.input_port.matrix, source.input_size
    if isinstance(source, AbstractSystem) and source.input_size > 0:
        return source.energy, source.input_matrix, source.input_size
    raise ConfigError(
        "energy port: need a PortHNN with an input port (build_model('port-hnn', ..., "
        f"input_size=m)) or a system with an input (driven-pendulum, ...), got "
        f"{type(source).__name__} without one"
    )


def controlled_field(where: str, source) -> tuple[Callable, int]:
    """``f(t, y, u)`` and m of a model with an input port or a system with an input.

    Raises:
        ConfigError: for a source without an input, in one line naming ``where``.
    """
    m = int(getattr(source, "input_size", 0))
    if m < 1 or not callable(source) and not isinstance(source, AbstractSystem):
        raise ConfigError(
            f"{where}: {type(source).__name__} has no input port (a model built with "
            "input_size=m, or a system with an input such as driven-pendulum)"
        )
    if isinstance(source, AbstractSystem):
        return source.vector_field, m
    return source, m


def closed_loop(
    system: AbstractSystem,
    controller: AbstractController,
    y0,
    *,
    period: float,
    n_samples: int,
    substeps: int = 10,
) -> tuple[Array, Array, Array]:
    """Run ``controller`` on ``system``: sample the state every ``period`` s, hold the input.

    Args:
        system: a system with an input (its ``vector_field(t, y, u)``).
        controller: a controller of ``system.input_size`` channels.
        y0: the initial state ``(d,)`` at t = 0.
        period: the sampling period (> 0).
        n_samples: the number of samples (the run lasts ``n_samples * period``).
        substeps: RK4 steps per period.

    Returns:
        ``(ts, ys, us)``: times ``(n + 1,)``, states ``(n + 1, d)`` and the held inputs
        ``(n, m)`` (``us[i]`` acts on [ts[i], ts[i+1])).

    Raises:
        ConfigError: for a system without an input, a controller of another input size, or
            invalid ``period``/``n_samples``/``y0``.
    """
    if not isinstance(system, AbstractSystem) or system.input_size == 0:
        raise ConfigError(f"closed_loop: {system!r} has no input to control")
    if getattr(controller, "input_size", None) != system.input_size:
        raise ConfigError(
            f"closed_loop: the controller gives {getattr(controller, 'input_size', None)} "
            f"input(s), the system {type(system).__name__} takes {system.input_size}"
        )
    if not (np.isfinite(period) and period > 0) or int(n_samples) < 1:
        raise ConfigError(
            f"closed_loop: period must be > 0 and n_samples >= 1, got {period!r}, {n_samples!r}"
        )
    y0 = jnp.asarray(y0, dtype=jnp.float64)
    if y0.shape != (system.state_size,):
        raise ConfigError(f"closed_loop: y0 must have shape ({system.state_size},), got {y0.shape}")
    ts = period * jnp.arange(int(n_samples) + 1, dtype=jnp.float64)

    def sample(carry, t):
        y, memory = carry
        u, memory = controller.step(t, y, memory)
        span = jnp.stack([t, t + period])
        y_next = solve(system.vector_field, y, span, args=u, substeps=substeps)[-1]
        return (y_next, memory), (y_next, u)

    @jax.jit
    def run(y0):
        _, (ys, us) = jax.lax.scan(sample, (y0, controller.init(y0)), ts[:-1])
        return jnp.concatenate([y0[None], ys]), us

    ys, us = run(y0)
    return ts, ys, us


def settling_time(ts, ys, target, tolerance, *, periodic: tuple[int, ...] = ()) -> float:
    """The first time after which every state stays within ``tolerance`` of ``target``.

    Args:
        ts: times ``(T,)``; ys: states ``(T, d)``.
        target: ``(d,)``; tolerance: ``(d,)`` (or one number), |y_j - target_j| < tol_j.
        periodic: angle coordinates, compared modulo 2π.

    Returns:
        The time (``inf`` when the last state is outside: the run never settled).
    """
    errors = jax.vmap(lambda y: wrap_error(y, jnp.asarray(target), periodic))(jnp.asarray(ys))
    inside = np.all(np.abs(np.asarray(errors)) < np.asarray(tolerance), axis=1)
    if not inside[-1]:
        return float("inf")
    outside = np.flatnonzero(~inside)
    return float(ts[0] if outside.size == 0 else ts[outside[-1] + 1])
