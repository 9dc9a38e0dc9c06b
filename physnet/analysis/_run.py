"""NTK analysis of a trained run directory (what ``physnet analyze ntk`` reports)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._errors import ConfigError
from ..models import Ensemble
from ._frequency import rollout_error_spectrum
from ._ntk import default_operator, ntk
from ._spectrum import (
    condition_number,
    convergence_times,
    decay_exponent,
    effective_rank,
    spectrum,
    trace_ratio_weights,
)

#: the fewest training states ``analyze_run`` takes: with fewer, the power-law fit of the
#: spectrum (2 parameters) would pass exactly through as many eigenvalues as it has
MIN_SAMPLES = 3


def analyze_run(run: str | os.PathLike, *, samples: int = 400, modes: int = 50) -> dict[str, Any]:
    """The NTK read-outs of a trained run, at its final parameters.

    The kernel is the one of the run's loss operator (``"acceleration"`` for the acceleration
    loss, else the model's vector field; for the trajectory loss this is the kernel of the
    vector field at the training states, not of the solved trajectories) on at most
    ``samples`` training states, beside the kernel of the plain approximator output. The
    residual is T[u_θ] - dy/dt (or q̈) at those states. The spectral error is that of
    rollouts from the test trajectories' first states against the test trajectories.

    Args:
        run: a run directory (``physnet train``).
        samples: the most training states in the kernel.
        modes: how many leading modes to report per-mode numbers for.

    Returns:
        A JSON-serialisable dict: ``operator``, ``n_params``, ``n_samples``, ``eigenvalues``,
        ``decay_exponent``, ``condition_number``, ``effective_rank``, ``traces``,
        ``trace_ratio_weights``, ``predicted_steps`` (N/(2ηλ_i), η the run's ``lr``),
        ``residual_coefficients``, ``output_kernel`` (the same read-outs for the plain
        output), and ``rollout_error_spectrum`` when the test data allow it.

    Raises:
        DataError: if the run or its data cannot be read.
        ConfigError: for an ensemble run (analyse one member).
    """
    from ..evaluation import rollout
    from ..runs import RunDirectory

    if isinstance(samples, bool) or not isinstance(samples, int) or samples < MIN_SAMPLES:
        raise ConfigError(
            f"analyze ntk: --samples must be an integer >= {MIN_SAMPLES} (the spectrum's "
            f"power-law fit needs more eigenvalues than its 2 parameters), got {samples!r}"
        )
    rd = RunDirectory.open(run)
    model = rd.load_model()
    if isinstance(model, Ensemble):
        raise ConfigError(f"analyze ntk: {run} holds an ensemble; train a single model")
    from ..runs._warnings import _check_data_checksum

    _check_data_checksum(rd, None, "restore it, or train the run again")
    train, test = rd.train_test()
    loss = rd.config.get("loss", "derivative")
    operator = "acceleration" if loss == "acceleration" else default_operator(model)
    y, dy = train.flat()
    step = max(1, y.shape[0] // samples)
    y, dy = np.asarray(y)[::step][:samples], np.asarray(dy)[::step][:samples]
    if operator == "acceleration":
        dy = dy[:, dy.shape[1] // 2 :]
    result = ntk(model, y, operator=operator)
    spec = spectrum(result)
    lr = rd.config.get("lr")
    if lr is None:  # trained with a recipe: its (peak) Adam learning rate
        from ..training import recipe_spec

        lr = getattr(recipe_spec(rd.config.get("preset") or "fast"), "learning_rate", 1e-3)
    lr = float(lr)
    n = result.matrix.shape[0]
    residual = result.outputs - dy.reshape(-1)
    traces = result.traces()
    components = [k for k in traces if "[" in k]
    out: dict[str, Any] = {
        "operator": operator,
        "loss": loss,
        "n_params": result.n_params,
        "n_samples": int(y.shape[0]),
        "learning_rate": lr,
        **_readouts(spec),
        "traces": traces,
        "trace_ratio_weights": trace_ratio_weights(traces, components) if components else {},
        "predicted_steps": convergence_times(spec, lr, n_residuals=n)[:modes].tolist(),
        "residual_coefficients": spec.project(residual)[:modes].tolist(),
        "residual_norm": float(np.linalg.norm(residual)),
    }
    out["output_kernel"] = _readouts(spectrum(ntk(model, y, operator="output")))
    if test.n_trajectories and test.shared_times and test.is_uniform():
        ts = np.asarray(test.ts)
        pred = np.asarray(rollout(model, test.y0, ts))
        out["rollout_error_spectrum"] = rollout_error_spectrum(
            pred, np.asarray(test.states), ts
        ).to_json()
    return out


def _readouts(spec) -> dict[str, Any]:
    lam = spec.eigenvalues
    positive = int(np.sum(lam > 1e-12 * lam[0]))
    return {
        "eigenvalues": lam.tolist(),
        "decay_exponent": decay_exponent(spec) if positive >= 2 else float("nan"),
        "condition_number": condition_number(spec, rtol=1e-12),
        "effective_rank": effective_rank(spec),
    }
