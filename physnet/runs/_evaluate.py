"""Evaluate a trained run: long rollouts against the true system, energy drift, read-outs
(``physnet evaluate``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax.numpy as jnp

from .._errors import ConfigError, DataError
from .._io import atomic_directory, write_json
from ..approximators import KAN
from ..data import Trajectories
from ..evaluation import (
    ensemble_readout,
    ensemble_spread,
    rollout,
    trajectory_metrics,
    trajectory_rmse,
)
from ..models import HNN, LNN, AbstractEnergyModel, DissipativeHNN, Ensemble
from ..systems import system_from_metadata
from ._rundir import RunDirectory

#: fixed steps per output interval of evaluation rollouts (output every ``10 * dt``)
SUBSTEPS = 10


def check_symbolic(model) -> None:
    """Raise :class:`ConfigError` unless every learned function of ``model`` is a KAN."""
    parts = model.submodules().values()
    if not all(isinstance(a, KAN) for a in parts):
        kinds = ", ".join(sorted({type(a).__name__ for a in parts}))
        raise ConfigError(
            f"--symbolic needs a KAN-based model (train with --approximator kan), got "
            f"{type(model).__name__} with {kinds}"
        )


def symbolic_metrics(model, data: Trajectories) -> dict[str, Any]:
    """``formula``, ``coefficients`` and ``symbolic_r2`` (plus ``gamma_hat``) read on the
    data's states: H for HNN/DissipativeHNN, L (normalised to a q̇² coefficient of 1/2) for
    LNN (both by sparse polynomial regression of the learned scalar, degree 4), the composed
    edge formula of the KAN for a neural ODE."""
    from ..interpret import read_damping, read_hamiltonian, read_lagrangian, symbolic_formula

    d = model.state_size
    n = d // 2
    q = ["q"] if n == 1 else [f"q{i + 1}" for i in range(n)]
    states = data.states.reshape(-1, d)
    out: dict[str, Any] = {}
    if isinstance(model, HNN | DissipativeHNN):
        readout = read_hamiltonian(model, states, names=(*q, *(v.replace("q", "p") for v in q)))
        if isinstance(model, DissipativeHNN) and model.form == "friction":
            out["gamma_hat"] = read_damping(model)
    elif isinstance(model, LNN):
        readout = read_lagrangian(model, states, names=(*q, *(v + "dot" for v in q)))
    else:
        names = [f"y{j + 1}" for j in range(d)]
        result = symbolic_formula(
            model.vector_field, states, names=names, output_names=[f"d{v}_dt" for v in names]
        )
        return out | {
            "formula": result.formula,
            "coefficients": result.coefficients,
            "symbolic_r2": result.r2_min,
        }
    return out | {
        "formula": readout.formula,
        "coefficients": readout.coefficients,
        "symbolic_r2": readout.r2,
    }


def _model_metrics(model, system, learned, true) -> dict[str, float]:
    """:func:`~physnet.evaluation.trajectory_metrics` of one model's rollout ``learned``
    (B, T, d) against ``true``, with the system's energy and, for energy models, the model's
    own (measured from the equilibrium)."""
    energy = model.energy if isinstance(model, AbstractEnergyModel) else None
    return trajectory_metrics(learned, true, energy=system.energy, learned_energy=energy)


def _summarise_members(metrics: dict, summary: dict) -> None:
    for key, s in summary.items():
        metrics[key] = s["median"]
        metrics[f"{key}_std"] = s["std"]
        metrics[f"{key}_members"] = s["members"]


def _evaluate_ensemble(ensemble, system, y0, ts, true, solver) -> dict[str, Any]:
    """Rollout metrics of every member, their medians, and the spread of the predictions.

    ``rollout_spread`` is the mean over initial conditions, times and state components of the
    standard deviation over members of the predicted state; ``rollout_spread_t1`` the same at
    the final time only.
    """
    learned = rollout(ensemble, y0, ts, solver=solver, substeps=SUBSTEPS)  # (N, B, T, d)
    spread = ensemble_spread(learned)

    def readout(i):
        return _model_metrics(ensemble.member(i), system, learned[i], true)

    metrics: dict[str, Any] = {}
    _summarise_members(metrics, ensemble_readout(range(len(ensemble)), readout))
    metrics |= {
        "rollout_rmse_ensemble_mean": float(trajectory_rmse(spread.mean, true)),
        "rollout_spread": float(jnp.mean(spread.std)),
        "rollout_spread_t1": float(jnp.mean(spread.std[:, -1])),
        "ensemble": len(ensemble),
        "solver": solver,
        "n_initial_conditions": int(y0.shape[0]),
    }
    return metrics


def evaluate_run(
    run: str | os.PathLike | RunDirectory,
    *,
    data: str | os.PathLike | None = None,
    t1: float = 100.0,
    dt: float = 0.01,
    solver: str = "rk4",
    symbolic: bool = False,
    out: str | os.PathLike | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Roll a trained run's model out from the test initial states and write its metrics.

    The learned model and the true system (named by the data's metadata) are integrated to
    ``t1`` with ``SUBSTEPS`` steps of size ``dt`` per output interval; the test data are the
    run's stored test split (or the file ``data``).

    Returns:
        ``(directory written, metrics)``; the directory defaults to ``RUN/evaluation``.

    Raises:
        DataError, ConfigError: on a bad run directory, data or options; nothing is written.
    """
    run = run if isinstance(run, RunDirectory) else RunDirectory.open(run)
    model = run.load_model()
    ensemble = model if isinstance(model, Ensemble) else None
    if ensemble is not None:
        if symbolic:
            raise ConfigError(
                f"--symbolic reads the formula of one model, and {run.path} holds an ensemble "
                f"of {len(ensemble)}; use physnet.ensemble_readout in Python for per-member "
                "formulas"
            )
        model = ensemble.member(0)  # the structure; all members are rolled out below
    elif symbolic:
        check_symbolic(model)
    test = Trajectories.load(data) if data is not None else run.train_test()[1]
    system = system_from_metadata(test.metadata)
    if test.state_size != model.state_size:
        raise DataError(
            f"data state size {test.state_size} does not match the model's {model.state_size}"
        )
    if not (t1 > 0 and dt > 0 and dt <= t1):
        raise DataError(f"need 0 < --dt <= --t1, got --dt {dt} --t1 {t1}")
    n_out = max(1, int(round(t1 / (dt * SUBSTEPS))))
    ts = jnp.linspace(0.0, t1, n_out + 1)
    y0 = test.y0 if test.clean_states is None else test.clean_states[:, 0]
    true = rollout(system.vector_field, y0, ts, solver="rk4", substeps=SUBSTEPS)
    if ensemble is not None:
        metrics = _evaluate_ensemble(ensemble, system, y0, ts, true, solver)
    else:
        learned = rollout(model, y0, ts, solver=solver, substeps=SUBSTEPS)
        metrics = _model_metrics(model, system, learned, true)
        metrics |= {"solver": solver, "n_initial_conditions": int(y0.shape[0])}
        if symbolic:
            metrics |= symbolic_metrics(model, test)
    metrics |= {"t1": t1, "dt": float(ts[1] - ts[0]) / SUBSTEPS}
    out = Path(out) if out else run.path / "evaluation"
    with atomic_directory(out) as tmp:
        write_json(tmp / "metrics.json", metrics)
    return out, metrics
