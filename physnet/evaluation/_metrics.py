"""Metrics of learned models: derivative and acceleration errors on data, energy error and
drift and trajectory error of rollouts."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import Array

from .._errors import ConfigError
from .._formula import parse_formula
from ..data import Trajectories
from ..models import AbstractEnergyModel
from ..systems import AbstractSystem
from ..training import AccelerationLoss, DerivativeLoss
from ._rollout import rollout


def energy_error(energy, ys: Array, reference: Array | None = None) -> Array:
    """Relative energy error |E(y(t)) - E(y(0))| / |E(y(0)) - E(y_ref)| along trajectories.

    Args:
        energy: scalar function of one state.
        ys: states ``(T, d)`` or ``(B, T, d)``.
        reference: optional state ``y_ref`` whose energy is the zero of the scale. A learned
            energy H_θ has an arbitrary additive constant, which would make a relative error
            as small or as large as one likes; measuring it from the equilibrium
            (``reference=jnp.zeros(d)`` for the systems physnet ships) fixes that gauge. The
            default (``None``) uses E itself, right for a true energy that is zero at rest.

    Returns:
        ``(T,)`` or ``(B, T)``.
    """
    ys = jnp.asarray(ys)
    e = jax.vmap(energy)(ys.reshape(-1, ys.shape[-1])).reshape(ys.shape[:-1])
    e0 = e[..., :1]
    scale = e0 if reference is None else e0 - energy(jnp.asarray(reference, dtype=ys.dtype))
    return jnp.abs(e - e0) / jnp.abs(scale)


def energy_drift(energy, ys: Array, reference: Array | None = None) -> Array:
    """Maximum relative energy error over time: max_t |E(y(t)) - E(y(0))| / |E(y(0))|.

    Args:
        energy: scalar function of one state (for example ``system.energy``).
        ys: states ``(T, d)`` (returns a scalar) or ``(B, T, d)`` (returns ``(B,)``).
        reference: as in :func:`energy_error`; pass the equilibrium for a learned energy.
    """
    return jnp.max(energy_error(energy, ys, reference), axis=-1)


def trajectory_rmse(predicted: Array, target: Array) -> Array:
    """Root mean squared error between two trajectories (or batches) of equal shape."""
    predicted, target = jnp.asarray(predicted), jnp.asarray(target)
    if predicted.shape != target.shape:
        raise ValueError(f"trajectory_rmse: shapes differ, {predicted.shape} vs {target.shape}")
    return jnp.sqrt(jnp.mean((predicted - target) ** 2))


def derivative_mse(model, data: Trajectories, *, clean: bool = False) -> float:
    r"""Mean squared error of the model's vector field against the data's derivatives.

    .. math:: \frac{1}{N d} \sum_{n} |f_\theta(y_n) - \dot y_n|^2

    over every state of every trajectory (the :class:`~physnet.training.DerivativeLoss`).

    Args:
        model: a vector field ``model(t, y)`` on one state ``(d,)``.
        data: trajectories with derivatives ``(B, T, d)``.
        clean: use the noise-free states and derivatives when the data hold them.

    Returns:
        The mean squared error, a Python float.
    """
    loss = DerivativeLoss()
    return float(jax.jit(loss.__call__)(model, loss.prepare(data, clean=clean)))


def acceleration_mse(model, data: Trajectories, *, clean: bool = False) -> float:
    r"""Mean squared error of the model's acceleration against the data's q̈.

    .. math:: \frac{1}{N n} \sum_{k} |\ddot q_\theta(q_k, \dot q_k) - \ddot q_k|^2

    with q̈_θ the second half of ``model(t, y)`` on y = (q, q̇) (the
    :class:`~physnet.training.AccelerationLoss`, the loss of Lagrangian models).

    Args:
        model: a vector field on states (q, q̇) of even size ``d = 2n``.
        data: trajectories whose derivatives hold (q̇, q̈).
        clean: use the noise-free states and derivatives when the data hold them.

    Returns:
        The mean squared error, a Python float.

    Raises:
        DataError: if the state size is odd.
    """
    loss = AccelerationLoss()
    return float(jax.jit(loss.__call__)(model, loss.prepare(data, clean=clean)))


def trajectory_metrics(
    learned: Array,
    true: Array,
    *,
    energy: Callable[[Array], Array] | None = None,
    learned_energy: Callable[[Array], Array] | None = None,
) -> dict[str, float]:
    """Summary metrics of a batch of learned rollouts against the true ones.

    - ``rollout_rmse``: :func:`trajectory_rmse` of ``learned`` against ``true``.
    - ``energy_drift`` (with ``energy``): median over initial conditions of
      max_t |E(y(t)) - E(y(0))| / |E(y(0))| of the true energy along the learned rollout.
    - ``learned_energy_drift`` (with ``learned_energy``): the same for the model's own energy
      H_θ, measured from the equilibrium y = 0 (H_θ's additive constant is arbitrary:
      ``reference=0`` in :func:`energy_error`).

    Args:
        learned: learned rollouts ``(B, T, d)``.
        true: true rollouts ``(B, T, d)`` at the same times.
        energy: the true energy of one state (for example ``system.energy``).
        learned_energy: the model's energy of one state (for example ``model.energy``).

    Returns:
        ``{"energy_drift"?, "rollout_rmse", "learned_energy_drift"?}`` as Python floats.
    """
    learned, true = jnp.asarray(learned), jnp.asarray(true)
    metrics = {}
    if energy is not None:
        metrics["energy_drift"] = float(jnp.median(energy_drift(energy, learned)))
    metrics["rollout_rmse"] = float(trajectory_rmse(learned, true))
    if learned_energy is not None:
        origin = jnp.zeros(learned.shape[-1], dtype=learned.dtype)
        drift = energy_drift(learned_energy, learned, reference=origin)
        metrics["learned_energy_drift"] = float(jnp.median(drift))
    return metrics


def rollout_times(t1: float, dt: float, substeps: int = 1) -> Array:
    """The recording times of :func:`rollout_metrics`.

    The recording times of :func:`rollout_metrics`: ``linspace(0, t1, n + 1)`` with
    n = round(t1 / (dt · substeps)) (at least 1)."""
    n_out = max(1, int(round(t1 / (dt * substeps))))
    return jnp.linspace(0.0, t1, n_out + 1)


def true_rollout(
    system: AbstractSystem, y0: Array, *, t1: float, dt: float, substeps: int = 10
) -> Array:
    """The true system's rollout that :func:`rollout_metrics` compares with.

    The true system's rollout that :func:`rollout_metrics` compares a model with (RK4 on
    :func:`rollout_times`): compute it once and pass it as ``true=`` when several models are
    scored on the same system and initial states."""
    ts = rollout_times(t1, dt, substeps)
    return rollout(system.vector_field, y0, ts, solver="rk4", substeps=substeps)


def rollout_metrics(
    model,
    system: AbstractSystem,
    y0: Array,
    *,
    t1: float,
    dt: float,
    solver="rk4",
    substeps: int = 10,
    learned_energy: bool = False,
    true: Array | None = None,
) -> dict[str, float]:
    """Roll the model and the true system out from ``y0`` and compare them.

    Both are recorded at ``ts = linspace(0, t1, n + 1)`` with n = round(t1 / (dt ·
    substeps)) (at least 1), so a fixed-step solver takes steps of about ``dt``; the true
    system is always integrated with RK4 on the same grid.

    Args:
        model: the learned vector field (any model :func:`rollout` accepts, not an ensemble).
        system: the true system (its ``vector_field`` and ``energy``).
        y0: initial states ``(B, d)``.
        t1: final time.
        dt: step size of fixed-step solvers.
        solver: the model's solver (see :func:`physnet.integrators.solve`).
        substeps: steps per recording interval.
        learned_energy: also report ``learned_energy_drift`` (energy models only).
        true: :func:`true_rollout` of the same system, ``y0``, ``t1``, ``dt`` and
            ``substeps``, when the caller has it (several models compared on one system);
            default: computed here.

    Returns:
        :func:`trajectory_metrics` with the true energy: ``energy_drift``, ``rollout_rmse``
        (and ``learned_energy_drift``).

    Raises:
        ConfigError: if ``learned_energy`` is set for a model without an energy, or
            ``t1``/``dt`` are not positive.
    """
    if learned_energy and not isinstance(model, AbstractEnergyModel):
        raise ConfigError(
            f"rollout_metrics: learned_energy=True needs an energy model (HNN, DissipativeHNN, "
            f"LNN), got {type(model).__name__}; drop learned_energy"
        )
    if not (t1 > 0 and dt > 0):
        raise ConfigError(f"rollout_metrics: need t1 > 0 and dt > 0, got t1={t1!r}, dt={dt!r}")
    ts = rollout_times(t1, dt, substeps)
    learned = rollout(model, y0, ts, solver=solver, substeps=substeps)
    if true is None:
        true = true_rollout(system, y0, t1=t1, dt=dt, substeps=substeps)
    elif jnp.shape(true) != jnp.shape(learned):
        raise ConfigError(
            f"rollout_metrics: true has shape {jnp.shape(true)}, the rollout "
            f"{jnp.shape(learned)}; pass true_rollout(system, y0, t1=..., dt=..., substeps=...) of the same settings"
        )
    return trajectory_metrics(
        learned,
        true,
        energy=system.energy,
        learned_energy=model.energy if learned_energy else None,
    )


def energy_mse(energy, learned: Array, target: Array, mask: Array | None = None) -> Array:
    """Mean squared energy error along trajectories (Greydanus et al. 2019).

    Mean squared energy error along trajectories (the metric of Greydanus et al. 2019):
    mean over times (and trajectories) of (E(ŷ(t)) - E(y(t)))².

    Args:
        energy: scalar function of one state.
        learned, target: states ``(T, d)`` or ``(B, T, d)`` of equal shape.
        mask: optional boolean ``(T,)`` or ``(B, T)``: only these points count (ragged data).
    """
    learned, target = jnp.asarray(learned), jnp.asarray(target)
    if learned.shape != target.shape:
        raise ValueError(f"energy_mse: shapes differ, {learned.shape} vs {target.shape}")
    d = learned.shape[-1]
    e_hat = jax.vmap(energy)(learned.reshape(-1, d))
    e = jax.vmap(energy)(target.reshape(-1, d))
    err = (e_hat - e) ** 2
    if mask is None:
        return jnp.mean(err)
    m = jnp.asarray(mask).reshape(-1)
    return jnp.sum(jnp.where(m, err, 0.0)) / jnp.sum(m)


def energy_function(expression: str, names, *, what: str = "energy") -> Callable[[Array], Array]:
    """A scalar energy ``E(y)`` of one state from a formula in the state's names.

    Example: ``energy_function("2.4*(1 - cos(theta)) + omega**2", ["theta", "omega"])``.

    The formula is read by :func:`physnet._formula.parse_formula`, which runs no Python code:
    numbers, the state's names, ``pi``, ``E``, ``+ - * / **`` and ``sin cos tan asin acos atan
    sinh cosh tanh asinh acosh atanh exp log sqrt abs atan2``; a name that is a Python keyword
    is written with a trailing underscore (``lambda_``).

    Args:
        expression: the formula.
        names: the state components' names, in order.
        what: what the formula is, for messages (``"expression"`` for a regression target).

    Raises:
        ConfigError: one line, if the formula is outside that grammar, uses names that are not
            state components (the message lists the state's names) or is undefined (``1/0``).
    """
    import sympy

    names = [str(n) for n in names]
    symbols = [sympy.Symbol(n) for n in names]
    expr = parse_formula(expression, names, what=what)
    # the state's symbols renamed _physnet_y0, ... (lambdify puts every symbol of the expression in
    # the generated code's namespace by name: a state called sin would shadow the function)
    # and integers beyond int64 as floats (jax cannot take them)
    args = [sympy.Symbol(f"_physnet_y{i}") for i in range(len(names))]
    big = [n for n in expr.atoms(sympy.Rational) if max(abs(n.p), n.q) >= 2**63]
    renamed = dict(reversed(list(zip(symbols, args, strict=True))))  # a repeated name: the first
    renamed |= {n: sympy.Float(n) for n in big}
    fn = sympy.lambdify(args, expr.xreplace(renamed), modules="jax")

    def energy(y: Array) -> Array:
        return jnp.asarray(fn(*(y[i] for i in range(len(names)))), dtype=y.dtype)

    return energy
