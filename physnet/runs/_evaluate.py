"""Evaluate a trained run: long rollouts against the true system, energy drift, read-outs
(``physnet evaluate``)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, DataError, UnknownClassError
from .._io import atomic_directory, check_output, write_json
from .._version import __version__
from ..data import Trajectories
from ..evaluation import (
    decay_rate,
    energy_function,
    energy_mse,
    ensemble_readout,
    ensemble_spread,
    equilibria,
    match_equilibria,
    rollout,
    search_box,
    trajectory_metrics,
    trajectory_rmse,
)
from ..models import AbstractEnergyModel, Ensemble
from ..systems import system_from_metadata
from ._rundir import RunDirectory, file_sha256, holds_run_lock, lock_run
from ._select import forecast
from ._warnings import _check_data_checksum, _diverged_at, _run_warnings

#: a learned vector field whose RMS is below this fraction of the data's rate of change has
#: collapsed, above its inverse it has exploded; its rollout scores are then not reported
FIELD_RATIO = 1e-6
#: at most this many output points x initial conditions x substeps in one evaluation rollout
MAX_ROLLOUT_STEPS = 10**7

#: the rollout horizon of data of a known system unless ``t1`` is given
DEFAULT_T1 = 100.0

#: fixed steps per output interval of evaluation rollouts (output every ``10 * dt``)
SUBSTEPS = 10


def check_symbolic(model) -> None:
    """Raise :class:`ConfigError` in one line unless every learned part of ``model`` can be
    read as a formula (:func:`physnet.interpret.check_readable`: a KAN or Polynomial H, L or
    vector field, with any friction, learned dissipation or force that is itself readable)."""
    from ..interpret import check_readable

    check_readable(model)


def symbolic_metrics(model, data: Trajectories) -> dict[str, Any]:
    """The learned law as a formula with its coefficients and constants.

    ``formula``, ``coefficients`` and ``symbolic_r2`` of the model's main law (H, L
    normalised to a q̇² coefficient of 1/2, or the vector field), read on the data's states by
    :func:`physnet.interpret.read_model`, plus the model's physical constants (``gamma_hat``,
    force amplitudes and frequencies). ``formula`` holds every learned part's formula; with
    more than one part, ``symbolic_parts`` holds each part's formula, coefficients and R²."""
    from ..interpret import read_model

    given = data.metadata.get("names")
    names = tuple(given) if isinstance(given, list | tuple) and given else None
    readout = read_model(model, data, names=names)
    out: dict[str, Any] = dict(readout.constants)  # in the file's units (readout_in)
    out |= {
        "formula": readout.formula,
        "coefficients": readout.coefficients,
        "symbolic_r2": readout.r2,
    }
    if len(readout.parts) > 1:
        out["symbolic_parts"] = readout.parts
    if "scales" in data.metadata:  # a run trained in scaled variables (--scale)
        names = state_names(data)
        out["symbolic_scales"] = dict(zip(names, map(float, data.metadata["scales"]), strict=True))
        out["symbolic_note"] = (
            "the formulas are in the run's training variables: each name stands for the "
            "file's value divided by its scale in symbolic_scales (train with --scale none "
            "to read them in the file's units); the constants (gamma_hat, gains, force "
            "amplitudes) are in the file's units"
        )
    return out


def _model_metrics(model, system, learned, true, test: Trajectories) -> dict[str, float]:
    """:func:`~physnet.evaluation.trajectory_metrics` of one model's rollout ``learned``
    (B, T, d, file units) against ``true``, with the system's energy and, for energy models,
    the model's own (measured from the equilibrium; the model sees ``test``'s units)."""
    energy = None
    if isinstance(model, AbstractEnergyModel):
        energy = model.energy
        if "scales" in test.metadata:
            energy = lambda y: model.energy(test.from_units(y))  # noqa: E731
    return trajectory_metrics(learned, true, energy=system.energy, learned_energy=energy)


def _summarise_members(metrics: dict, summary: dict) -> None:
    for key, s in summary.items():
        metrics[key] = s["median"]
        metrics[f"{key}_std"] = s["std"]
        metrics[f"{key}_members"] = s["members"]


def _evaluate_ensemble(ensemble, system, y0, ts, true, solver, test, inputs) -> dict[str, Any]:
    """Rollout metrics of every member, their medians, and the spread of the predictions.

    ``rollout_spread`` is the mean over initial conditions, times and state components of the
    standard deviation over members of the predicted state; ``rollout_spread_t1`` the same at
    the final time only.
    """
    learned = rollout(ensemble, y0, ts, solver=solver, substeps=SUBSTEPS, inputs=inputs)
    learned = test.to_units(learned)
    spread = ensemble_spread(learned)

    def readout(i):
        return _model_metrics(ensemble.member(i), system, learned[i], true, test)

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


def input_horizon(test: Trajectories, t1: float, t1_given: bool, step: float, warnings: list):
    """The evaluation times and input signals: ``[0, t1]`` and no inputs for autonomous data;
    for data with inputs the held-out trajectories' own recorded inputs, so the horizon is
    their record (from its first time, at most ``t1``; a ``t1`` past the record is cut, with
    a warning when it was given)."""
    if test.inputs is None:
        return jnp.linspace(0.0, t1, max(1, int(round(t1 / step))) + 1), None
    times = np.asarray(test.common_times("evaluating a run on data with inputs"))
    span = float(times[-1] - times[0])
    if t1 > span and t1_given:
        warnings.append(
            f"--t1 {t1:g} is past the test record of inputs ({span:g}): the forecast stops "
            "where the recorded inputs do"
        )
    t1 = min(t1, span)
    ts = times[0] + jnp.linspace(0.0, t1, max(1, int(round(t1 / step))) + 1)
    return ts, test.input_signals()


def state_names(data: Trajectories) -> list[str]:
    """The names of the state components: the data's ``metadata["names"]`` (imported data), or
    q, p (q1..qN, p1..pN) for simulated canonical states."""
    names = data.metadata.get("names")
    if isinstance(names, list | tuple) and len(names) == data.state_size:
        return [str(n) for n in names]
    n = data.state_size // 2
    if 2 * n != data.state_size:
        return [f"y{j + 1}" for j in range(data.state_size)]
    q = ["q"] if n == 1 else [f"q{i + 1}" for i in range(n)]
    return [*q, *(v.replace("q", "p") for v in q)]


def _measured_metrics(model, test: Trajectories, solver: str, dt: float, energy) -> dict:
    """Metrics of one model on measured data with no known system: ``rollout_rmse`` against the
    held-out measured segments (file units), and with an ``energy`` (a function of a state in
    the file's units) ``energy_mse`` along them and the relative energy change from the first
    to the last point, measured and learned (how much damping the model reproduces)."""
    learned, measured = forecast(model, test, dt, solver=solver)
    metrics: dict[str, Any] = {
        "rollout_rmse": float(trajectory_rmse(learned, measured)),
    }
    if energy is not None:
        metrics["energy_mse"] = float(energy_mse(energy, learned, measured))
        e_true = jax.vmap(energy)(measured)
        e_hat = jax.vmap(energy)(learned)
        metrics["energy_change_measured"] = float((e_true[-1] - e_true[0]) / e_true[0])
        metrics["energy_change_learned"] = float((e_hat[-1] - e_hat[0]) / e_true[0])
    if isinstance(model, AbstractEnergyModel):
        origin = jnp.zeros(model.state_size)
        scaled = test.from_units(learned)
        h = jax.vmap(model.energy)(scaled) - model.energy(origin)
        metrics["learned_energy_change"] = float((h[-1] - h[0]) / h[0])
    metrics |= model.readout_in(test.metadata.get("scales"))
    return metrics


def data_rate(data: Trajectories) -> float:
    """The RMS rate of change of the data: of the derivatives when stored, else of the finite
    differences along every trajectory."""
    if data.derivatives is not None:
        return float(jnp.sqrt(jnp.mean(data.derivatives[data.mask] ** 2)))
    rates = []
    for b in range(data.n_trajectories):
        part = data.trajectory(b)
        rates.append(jnp.diff(part.states[0], axis=0) / jnp.diff(part.ts)[:, None])
    return float(jnp.sqrt(jnp.mean(jnp.concatenate(rates) ** 2)))


def field_health(model, data: Trajectories) -> str | None:
    """``None`` if the learned vector field is sane on the data's states; otherwise why not:
    non-finite, collapsed (RMS below :data:`FIELD_RATIO` times the data's rate of change,
    e.g. a diverged model whose saturated activations give zero) or exploded (above its
    inverse)."""
    states = data.states[data.mask]
    field = jax.vmap(lambda t, y: model(t, y))(data.flat_times(), states)
    if not bool(jnp.all(jnp.isfinite(field))):
        return "the learned vector field is not finite on the test states"
    rms = float(jnp.sqrt(jnp.mean(field**2)))
    rate = data_rate(data)
    if rate > 0 and rms < FIELD_RATIO * rate:
        return (
            f"the learned vector field collapsed (RMS {rms:.3g} against the data's rate of "
            f"change {rate:.3g}); its rollout scores would be meaningless"
        )
    if rate > 0 and rms > rate / FIELD_RATIO:
        return (
            f"the learned vector field exploded (RMS {rms:.3g} against the data's rate of "
            f"change {rate:.3g})"
        )
    return None


def _time_dependent(model, states) -> bool:
    """Whether a learned field depends on time (a force F(t)): it differs between t = 0 and
    later times at a few of ``states`` by more than round-off."""
    ys = jnp.asarray(states[:16])
    f0 = jax.vmap(lambda y: model(0.0, y))(ys)
    scale = 1.0 + float(jnp.max(jnp.abs(f0)))
    for t in (0.37, 1.9, 5.3):
        ft = jax.vmap(lambda y, t=t: model(t, y))(ys)
        if float(jnp.max(jnp.abs(ft - f0))) > 1e-10 * scale:
            return True
    return False


class _Unforced:
    """The field of a forced model without its force, ``model.autonomous_field(y)``, with the
    diffrax signature (hashed by identity)."""

    def __init__(self, model):
        self.model = model

    def __call__(self, t, y, args=None):
        return self.model.autonomous_field(y)


def equilibrium_metrics(model, test: Trajectories, system=None) -> dict[str, Any]:
    """The rest points of the learned field and their stability, with the true system's.

    Searched by :func:`physnet.evaluation.equilibria` in the test states' range widened by
    10 % on each side (``equilibria_box``, file units) from 256 starts, for one model (an
    ensemble's members each, in ``equilibria_members``), and with the same routine on the
    true system's field when it is known and time-independent. Keys:

    - ``equilibria``: list of ``{"state" (file units), "eigenvalues" ([Re, Im] pairs of the
      Jacobian's eigenvalues, 1/time), "kind" (stable, unstable, saddle, centre,
      non-hyperbolic: :func:`physnet.evaluation.classify`, tolerance |Re λ| <= 1e-6 ·
      max(1, max |λ|)), "residual" (max |f(y*)|)}``, nearest the box's centre first; with a
      known system each also holds ``"true"`` (index of the nearest true equilibrium),
      ``"distance"`` (max-norm distance to it) and ``"eigenvalue_error"`` (largest |λ - λ_true|).
    - ``equilibria_true``: the same for the true field.
    - ``decay_rate`` / ``decay_rate_true``: :func:`physnet.evaluation.decay_rate`, the
      slowest rate min_i(-Re λ_i) over the stable equilibria (``null`` when none is stable);
      ``gamma_true``: the system's damping parameter ``gamma`` when it has one.
    - ``state_names``: the names of the state components, in the order of ``state``.
    - ``equilibria_note``: why equilibria were not computed (a field of time, a system that
      is not autonomous, a model or system with holonomic constraints), or that they are those of the learned field without its force
      (a forced model's ``autonomous_field``: the rest points of the unforced system).
    """
    ensemble = model if isinstance(model, Ensemble) else None
    members = [model] if ensemble is None else ensemble.members()
    states = test.states[test.mask]
    lo, hi = search_box(states)
    d = test.state_size
    width = np.asarray(test.to_units(hi)) - np.asarray(test.to_units(lo))
    out: dict[str, Any] = {
        "state_names": state_names(test),
        "equilibria_box": [
            [float(x) for x in test.to_units(lo)],
            [float(x) for x in test.to_units(hi)],
        ],
    }
    if any(getattr(x, "constraints", None) is not None for x in (system, members[0])):
        out["equilibria_note"] = (
            "not searched in constrained Cartesian coordinates (the projected field also "
            "vanishes on whole sets off the constraint manifold, which are not rest points of "
            "the constrained system)"
        )
        return out
    true_found = None
    if system is not None:
        params = system.parameters()
        if "gamma" in params:
            out["gamma_true"] = float(params["gamma"])
        if getattr(system, "autonomous", True):
            true_box = (np.asarray(test.to_units(lo)), np.asarray(test.to_units(hi)))
            true_found = equilibria(system.vector_field, d, box=true_box)
            out["equilibria_true"] = [e.to_json() for e in true_found]
            out["decay_rate_true"] = decay_rate(true_found)
        else:
            out["equilibria_note"] = "the true system is forced (not autonomous)"
    unforced = False
    if _time_dependent(members[0], states):
        if not hasattr(members[0], "autonomous_field"):
            note = "the learned field depends on time: it has no equilibria"
            out["equilibria_note"] = "; ".join(filter(None, (out.get("equilibria_note"), note)))
            return out
        unforced = True
        note = "the learned field depends on time (a force F(t)): equilibria of its unforced part"
        out["equilibria_note"] = "; ".join(filter(None, (out.get("equilibria_note"), note)))

    def learned(m):
        found = equilibria(_Unforced(m) if unforced else m, d, box=(lo, hi))
        rows = []
        for e in found:
            row = e.to_json()
            row["state"] = [float(x) for x in test.to_units(e.state)]
            rows.append(row)
        if true_found is not None:
            in_units = [
                dataclasses.replace(e, state=np.asarray(test.to_units(e.state))) for e in found
            ]
            for row, m_ in zip(rows, match_equilibria(in_units, true_found, width), strict=True):
                row |= m_
        return rows, decay_rate(found)

    if ensemble is None:
        rows, rate = learned(model)
        out["equilibria"] = rows
        out["decay_rate"] = rate
    else:
        results = [learned(m) for m in members]
        out["equilibria_members"] = [r[0] for r in results]
        rates = [r[1] for r in results]
        out["decay_rate_members"] = rates
        known = [r for r in rates if r is not None]
        out["decay_rate"] = float(np.median(known)) if len(known) == len(rates) else None
    return out


def _trained_system(run: RunDirectory) -> tuple[Any, Any]:
    prov = run.config.get("provenance")
    if isinstance(prov, dict):
        return prov.get("system"), prov.get("parameters")
    from .._checkpoint import load_extra

    try:
        system = load_extra(run.checkpoint).get("system", {})
    except Exception:  # an unreadable checkpoint is reported when the model loads
        return None, None
    return system.get("system"), system.get("parameters")


def _load_model(run: RunDirectory):
    """The run's model; for one trained with a user's own class (``--model`` or
    ``--approximator package.module:Class``) that this process has not imported, the error
    says which flag imports it (a module named inside a run is never imported unasked)."""
    try:
        return run.load_model()
    except UnknownClassError as err:
        paths = [
            f"--{k} {v}"
            for k in ("model", "approximator")
            if isinstance(v := run.config.get(k), str) and ":" in v
        ]
        if not paths:
            raise
        raise DataError(
            f"{err}; the run was trained with {' and '.join(paths)}: pass the same flag(s) to "
            "import the class (physnet does not import code named in a run on its own)"
        ) from None


@holds_run_lock
def evaluate_run(
    run: str | os.PathLike | RunDirectory,
    *,
    data: str | os.PathLike | None = None,
    t1: float | None = None,
    dt: float = 0.01,
    solver: str = "rk4",
    symbolic: bool = False,
    energy: str | None = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    allow_other_system: bool = False,
    system=None,
) -> tuple[Path, dict[str, Any]]:
    """Roll a trained run's model out from the test initial states and write its metrics.

    Data that name a known system (simulated): the learned model and the true system are
    integrated to ``t1`` with ``SUBSTEPS`` steps of size ``dt`` per output interval from the
    test initial states (``energy_drift`` with the true energy, ``rollout_rmse``,
    ``learned_energy_drift``). Measured data (no system): the model is rolled out from the
    first state of every held-out segment over its recorded times (steps of at most ``dt``)
    and compared with the measurements in the file's units (``rollout_rmse``, and with
    ``energy`` ``energy_mse``, the metric of Greydanus et al. 2019). The test data are the
    run's stored test split, or the file ``data``.

    Args:
        energy: optional energy formula in the state's names (``metadata["names"]``, else
            q, p), e.g. ``"2.4*(1 - cos(theta)) + omega**2"``; adds ``energy_mse``.

        out: the output directory: new, empty or (with ``overwrite``) a previous evaluation;
            checked before any work. Default ``RUN/evaluation``, the run's own slot, where a
            previous evaluation is replaced (anything else there is still refused). An
            output inside the run is written under the run's lock (:func:`lock_run`, as
            ``physnet train`` holds it): a second evaluation into the run, or one while the
            run trains, is refused in one line.
        allow_other_system: evaluate on data of another system (or other parameters) than
            the run trained on; refused by default.
        system: for data of a user's own system class (``metadata["system_class"]``) not
            defined in this process: the class, or its import path ``package.module:Class``
            (imported: physnet never imports a module named only inside a data file).

    On every run the learned field's equilibria, their stability and its decay rate are added,
    beside the true system's when known (:func:`equilibrium_metrics`: ``equilibria``,
    ``equilibria_true``, ``decay_rate``, ``decay_rate_true``, ``gamma_true``,
    ``equilibria_box``, ``state_names``); :func:`physnet.runs._summary.evaluation_summary` writes them for a person.

    The metrics record what was used (``provenance``: run, data file and SHA-256, system,
    versions). A learned vector field that collapsed or exploded (:func:`field_health`) is
    reported in ``vector_field`` and its rollout scores are written as ``null``.

    Returns:
        ``(directory written, metrics)``.

    Raises:
        DataError, ConfigError: on a bad run directory, data, output or options (data of
            another system without ``allow_other_system``); nothing is written.
    """
    import jax as _jax

    t1_given = t1 is not None
    t1 = DEFAULT_T1 if t1 is None else t1
    warnings: list[str] = []
    run = run if isinstance(run, RunDirectory) else RunDirectory.open(run)
    if out is None:  # the run's own evaluation slot: a previous evaluation there is replaced
        out, overwrite = run.path / "evaluation", True
    out = check_output(out, "evaluation", overwrite=overwrite, inputs=[run.path, data])
    target, home = Path(os.path.abspath(out)).resolve(), run.path.resolve()
    if home in target.parents:  # written into the run: one writer at a time, as train
        lock_run(run.path)  # released when evaluate_run returns (holds_run_lock)
    if not (t1 > 0 and dt > 0 and dt <= t1):
        raise DataError(f"need 0 < --dt <= --t1, got --dt {dt} --t1 {t1}")
    if t1 / dt > MAX_ROLLOUT_STEPS:
        raise ConfigError(
            f"--t1 {t1:g} / --dt {dt:g} is {t1 / dt:.3g} integrator steps per initial state, "
            f"over the budget of {MAX_ROLLOUT_STEPS:.0e}; lower --t1 or raise --dt"
        )
    model = _load_model(run)
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
    _check_data_checksum(run, data)
    data_sha = None
    if data is None:
        test = run.train_test()[1]
    else:
        test = run.in_training_units(Trajectories.load(data))
        data_sha = file_sha256(data)  # after the load, which says why a file is unreadable
        if data_sha == run.config.get("data_sha256"):  # the run's own data, moved or renamed
            if run.split is not None:
                test = run.split.apply(test)[1]
                warnings.append(
                    f"--data {data} is the run's training data (same SHA-256): evaluated on "
                    "its stored test split, the training trajectories left out"
                )
            else:
                warnings.append(
                    f"--data {data} is the run's training data (same SHA-256) and the run "
                    "stores no split: the scores include the training trajectories"
                )
    if test.state_size != model.state_size:
        raise DataError(
            f"data state size {test.state_size} does not match the model's {model.state_size}"
        )
    trained = _trained_system(run)
    given = (test.metadata.get("system"), test.metadata.get("parameters"))
    if trained != given and not allow_other_system:
        if data is None:  # the run's own data disagree with its config.json (edited?)
            raise DataError(
                f"the run's data {run.config.get('data')} hold system {given[0]!r} with "
                f"parameters {given[1]}, but {run.path / 'config.json'} says it trained on "
                f"{trained[0]!r} with {trained[1]} (was it edited?); pass --allow-other-system "
                "to evaluate anyway"
            )
        raise DataError(
            f"--data {data} holds system {given[0]!r} with parameters {given[1]}, the run "
            f"trained on {trained[0]!r} with {trained[1]}; pass --allow-other-system to "
            "evaluate on it anyway"
        )
    energy_fn = None if energy is None else energy_function(energy, state_names(test))
    warnings += _run_warnings(run, data, test, measured="system" not in test.metadata, t1=t1_given)
    if "system" not in test.metadata:
        metrics = _evaluate_measured(model, ensemble, test, solver, dt, energy_fn)
        if symbolic:
            metrics |= symbolic_metrics(model, test)
        metrics |= {"dt": dt}
    else:
        system = system_from_metadata(test.metadata, system=system)
        ts, inputs = input_horizon(test, t1, t1_given, dt * SUBSTEPS, warnings)
        y0 = test.y0 if test.clean_states is None else test.clean_states[:, 0]
        # the true system in the file's units; learned rollouts brought back to them
        options = dict(substeps=SUBSTEPS, inputs=inputs)
        true = rollout(system.vector_field, test.to_units(y0), ts, solver="rk4", **options)
        if ensemble is not None:
            metrics = _evaluate_ensemble(ensemble, system, y0, ts, true, solver, test, inputs)
        else:
            learned = test.to_units(rollout(model, y0, ts, solver=solver, **options))
            metrics = _model_metrics(model, system, learned, true, test)
            if energy_fn is not None:
                metrics["energy_mse"] = float(energy_mse(energy_fn, learned, true))
            metrics |= {"solver": solver, "n_initial_conditions": int(y0.shape[0])}
            metrics |= model.readout_in(test.metadata.get("scales"))
            if symbolic:
                metrics |= symbolic_metrics(model, test)
        metrics |= {"t1": float(ts[-1] - ts[0]), "dt": float(ts[1] - ts[0]) / SUBSTEPS}
    if energy is not None:
        metrics["energy"] = energy
    members = [model] if ensemble is None else [ensemble.member(i) for i in range(len(ensemble))]
    problems = {i: p for i, m in enumerate(members) if (p := field_health(m, test)) is not None}
    true_system = system if "system" in test.metadata else None
    if problems:
        metrics["equilibria_note"] = "the learned vector field is not sane (see vector_field)"
    else:
        metrics |= equilibrium_metrics(model if ensemble is None else ensemble, test, true_system)
    if problems:
        metrics["vector_field"] = "; ".join(
            p if ensemble is None else f"member {i}: {p}" for i, p in problems.items()
        )
        scores = ("drift", "rmse", "energy_mse", "energy_change", "spread")
        if len(problems) == len(members):
            metrics = {k: (None if any(w in k for w in scores) else v) for k, v in metrics.items()}
    metrics["provenance"] = {
        "run": str(run.path.resolve()),
        "run_data_sha256": run.config.get("data_sha256"),
        "data": str(Path(data).resolve()) if data is not None else "the run's test split",
        "data_sha256": data_sha if data is not None else run.config.get("data_sha256"),
        "system": given[0],
        "parameters": given[1],
        **{k: test.metadata[k] for k in ("system_class",) if k in test.metadata},
        "trained_system": trained[0],
        "split": None if run.split is None else run.split.kind,
        "physnet": __version__,
        "jax": _jax.__version__,
    }
    if run.status == "diverged":
        diverged_at = _diverged_at(run)
        metrics["diverged_at"] = diverged_at
        at = "" if diverged_at is None else f" at step {diverged_at}"
        warnings.append(
            f"the run diverged{at} (status diverged): these are the scores of its last good "
            "parameters, not of a finished training"
        )
    if warnings:
        metrics["warnings"] = warnings
    with atomic_directory(out, "evaluation", overwrite=overwrite, inputs=[run.path, data]) as tmp:
        write_json(tmp / "metrics.json", metrics)
    return out, metrics


def _evaluate_measured(model, ensemble, test, solver, dt, energy_fn) -> dict[str, Any]:
    """Measured-data metrics of one model, or the members' medians (``_std``, ``_members``)."""
    info = {
        "solver": solver,
        "n_test_trajectories": test.n_trajectories,
        "n_test_points": test.n_samples,
    }
    if ensemble is None:
        return _measured_metrics(model, test, solver, dt, energy_fn) | info
    metrics: dict[str, Any] = {}
    summary = ensemble_readout(
        range(len(ensemble)),
        lambda i: _measured_metrics(ensemble.member(i), test, solver, dt, energy_fn),
    )
    _summarise_members(metrics, summary)
    return metrics | info | {"ensemble": len(ensemble)}
