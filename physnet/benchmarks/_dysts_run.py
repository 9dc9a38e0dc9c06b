"""``physnet.benchmarks.dysts``: physnet (and PySINDy) on any list of dysts flows.

Per system: data (:func:`physnet.benchmarks.dysts_data`), the true polynomial coefficients
where the field is a polynomial of the library's degree, then per noise level and method a
fit, the coefficient metrics (polynomial systems) and forecasts from the test trajectories'
initial states (sMAPE over the first ``forecast_periods`` periods, valid prediction time and
attractor Hellinger distance over the whole test trajectory). A system or method that fails
(integration, fit, a diverging forecast) is recorded with its reason; the run goes on.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .._errors import ConfigError
from ..evaluation import (
    attractor_hellinger,
    coefficient_error,
    smape,
    support_recovery,
    valid_prediction_time,
)
from ..training import fit_sparse_polynomial_ode
from . import _dysts_peers as peers
from ._dysts_data import add_noise, dysts_data, dysts_system, polynomial_coefficients, vector_field

PHYSNET_METHODS = ("physnet-weak", "physnet-strong", "neural-ode")
"""physnet's methods: the sparse polynomial fit's two forms, and a NeuralODE with an MLP."""
#: the methods run by default
DEFAULT_METHODS = ("physnet-weak", "physnet-strong")
#: a forecast stops (diverged) once a state leaves the training box widened this many times
BLOWUP = 10.0
#: a forecast stops (too costly) after this many field evaluations
MAX_EVALUATIONS = 200_000


class _Budget(Exception):
    pass


def simulate(field: Callable, y0, ts, bound: float) -> tuple[np.ndarray, str | None]:
    """Integrate a NumPy field from ``y0``, recording a blow-up instead of raising.

    ``field(y) -> dy/dt`` is integrated by LSODA (rtol 1e-8) at ``ts``; after a blow-up (``max|y| > bound``), a failure or the evaluation budget, the rest is NaN and the
    reason is returned."""
    out = np.full((len(ts), len(y0)), np.nan)
    count = [0]

    def f(t, y):
        count[0] += 1
        if count[0] > MAX_EVALUATIONS:
            raise _Budget
        return field(y)

    def blowup(t, y):
        return bound - np.max(np.abs(y))

    blowup.terminal = True
    try:
        with np.errstate(all="ignore"):
            from scipy.integrate import solve_ivp  # lazily: 0.9 s at import
            sol = solve_ivp(f, (ts[0], ts[-1]), y0, t_eval=ts, method="LSODA", rtol=1e-8,
                            atol=1e-10, events=blowup)  # fmt: skip
    except _Budget:
        return out, f"more than {MAX_EVALUATIONS} field evaluations"
    n = sol.y.shape[1]
    out[:n] = sol.y.T
    if n < len(ts):
        return out, "diverged" if sol.status == 1 else f"integration failed: {sol.message}"
    return out, None


def _forecast_metrics(field, data, forecast_points: int) -> dict:
    bound = BLOWUP * float(np.max(np.abs(data.train_clean)))
    rows = {"smape": [], "vpt": [], "hellinger": []}
    failures = []
    for true in data.test:
        pred, why = simulate(field, true[0], data.ts, bound)
        if why:
            failures.append(why)
        rows["smape"].append(smape(true[:forecast_points], pred[:forecast_points]))
        rows["vpt"].append(valid_prediction_time(true, pred, data.ts, data.lyapunov))
        rows["hellinger"].append(attractor_hellinger(true, pred))
    out = {k: float(np.median(v)) for k, v in rows.items()}
    out["forecast_failures"] = len(failures)
    if failures:
        out["forecast_failure"] = failures[0]
    return out


def _neural_ode_field(data, *, steps: int, seed: int):
    """A NeuralODE (MLP width 32, depth 2) fitted with ``physnet.fit`` on standardised states
    and time in periods; returns the field in the data's units."""
    import jax.numpy as jnp
    from flax import nnx

    from ..approximators import MLP
    from ..data import Trajectories
    from ..models import NeuralODE
    from ..training import fit

    mean = data.train.mean(axis=(0, 1))
    std = data.train.std(axis=(0, 1))
    std = np.where(std > 0, std, 1.0)
    d = data.train.shape[-1]
    model = NeuralODE(MLP(d, d, width=32, depth=2, rngs=nnx.Rngs(seed)))
    train = Trajectories(
        ts=jnp.asarray(data.ts / data.period), states=jnp.asarray((data.train - mean) / std)
    )
    fit(model, train, steps=steps, progress=False)
    graphdef, state = nnx.split(model)

    import jax

    @jax.jit
    def f(y):
        return nnx.merge(graphdef, state)(0.0, (y - mean) / std) * std / data.period

    return lambda y: np.asarray(f(jnp.asarray(y)))


def _fit(method: str, data, cfg: dict, test_dot):
    """Ξ (or None) and a NumPy field ``y -> dy/dt`` of one method on ``data``."""
    from ..training._sparse_polynomial import monomials

    degree = cfg["degree"]
    if method == "neural-ode":
        return None, _neural_ode_field(data, steps=cfg["neural_ode_steps"], seed=cfg["seed"])
    if method.startswith("physnet-"):
        fit = fit_sparse_polynomial_ode(
            data.ts, data.train, degree=degree, form=method.split("-", 1)[1],
            selection=cfg["selection"],
            validation=(data.ts, data.test) if cfg["select_on_test"] else None,
        )  # fmt: skip
        xi, exponents = fit.coefficients, fit.exponents
    else:
        xi = peers.fit_pysindy(
            method, data.ts, data.train, data.test.reshape(-1, data.test.shape[-1]), test_dot,
            degree=degree,
        )  # fmt: skip
        from ..approximators import monomial_exponents

        exponents = monomial_exponents(data.train.shape[-1], degree)
    return xi, lambda y: monomials(y, exponents) @ xi


def _system(name: str, cfg: dict, methods: Sequence[str], echo) -> dict:
    record = {"name": name, "status": "fitted", "rows": []}
    try:
        system = dysts_system(name, cfg["parameters"].get(name))
    except Exception as err:  # noqa: BLE001 - recorded, the run goes on
        return {**record, "status": "failed", "reason": f"{type(err).__name__}: {err}"}
    record.update(
        dimension=int(len(np.atleast_1d(system.ic))),
        hamiltonian=bool(getattr(system, "hamiltonian", False)),
        nonautonomous=bool(getattr(system, "nonautonomous", False)),
    )
    if getattr(system, "delay", False):
        return {**record, "status": "excluded", "reason": "delay equation (infinite-dimensional)"}
    try:
        clean = dysts_data(
            name, parameters=cfg["parameters"].get(name), seed=cfg["seed"], **cfg["data"]
        )
        true_xi = polynomial_coefficients(system, clean.train_clean, degree=cfg["degree"])
        record["polynomial"] = true_xi is not None
        record["true_terms"] = None if true_xi is None else int((true_xi != 0).sum())
        f = vector_field(system)
        test_states = clean.test.reshape(-1, clean.test.shape[-1])
        test_dot = np.stack([f(0.0, y) for y in test_states])
    except Exception as err:  # noqa: BLE001
        return {**record, "status": "failed", "reason": f"data: {type(err).__name__}: {err}"}
    for noise in cfg["noises"]:
        data = add_noise(clean, noise, seed=cfg["seed"])
        for method in methods:
            if (
                method in peers.VARIANTS and cfg["peer_noises"] is not None
                and noise not in cfg["peer_noises"]
            ):  # fmt: skip
                continue
            row = {"method": method, "noise": noise}
            t0 = time.perf_counter()
            try:
                xi, field = _fit(method, data, cfg, test_dot)
                row["fit_seconds"] = time.perf_counter() - t0
                if xi is not None and true_xi is not None:
                    row["coefficient_error"] = coefficient_error(true_xi, xi)
                    row.update(support_recovery(true_xi, xi))
                if xi is not None and not np.isfinite(xi).all():
                    raise FloatingPointError("the fitted coefficients are not finite")
                if cfg["forecast"]:
                    row.update(_forecast_metrics(field, data, cfg["forecast_points"]))
            except Exception as err:  # noqa: BLE001
                row["error"] = f"{type(err).__name__}: {err}"
                row["fit_seconds"] = time.perf_counter() - t0
                if cfg.get("debug"):
                    traceback.print_exc()
            record["rows"].append(row)
            echo(
                f"  {name} {method} noise={noise:g}: "
                + ", ".join(
                    f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in row.items()
                    if k not in ("method", "noise")
                )
            )
    return record


def summarize(systems: Sequence[dict]) -> list[dict]:
    """The summary across systems per method and noise level.

    Per method and noise level: the medians and quartiles across systems of every metric,
    counts of systems with a coefficient error below 0.1 and with the exact support, and
    failures."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for record in systems:
        for row in record.get("rows", []):
            groups.setdefault((row["method"], row["noise"]), []).append(row)
    out = []
    for (method, noise), rows in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        entry = {"method": method, "noise": noise, "systems": len(rows)}
        for key in ("coefficient_error", "smape", "vpt", "hellinger", "fit_seconds"):
            values = [r[key] for r in rows if key in r and np.isfinite(r[key])]
            if values:
                q1, q2, q3 = np.percentile(values, [25, 50, 75])
                entry[key] = {"median": float(q2), "q1": float(q1), "q3": float(q3),
                              "n": len(values)}  # fmt: skip
        scored = [r for r in rows if "coefficient_error" in r]
        entry["below_0.1"] = sum(r["coefficient_error"] < 0.1 for r in scored)
        entry["exact_support"] = sum(bool(r.get("exact")) for r in scored)
        entry["polynomial_systems"] = len(scored)
        entry["errors"] = sum("error" in r for r in rows)
        entry["forecast_failures"] = sum(r.get("forecast_failures", 0) > 0 for r in rows)
        out.append(entry)
    return out


def win_counts(systems: Sequence[dict], key: str = "coefficient_error") -> list[dict]:
    """Win counts of physnet's methods against PySINDy's.

    Per noise level and pair (physnet method, PySINDy method): the systems where physnet's
    ``key`` is lower (wins), higher (losses), both scored."""
    out = []
    table: dict[tuple[str, float], dict[str, float]] = {}
    for record in systems:
        for row in record.get("rows", []):
            if key in row:
                table.setdefault((row["method"], row["noise"]), {})[record["name"]] = row[key]
    noises = sorted({n for _, n in table})
    for noise in noises:
        for ours in PHYSNET_METHODS:
            for theirs in peers.VARIANTS:
                a, b = table.get((ours, noise)), table.get((theirs, noise))
                if not a or not b:
                    continue
                both = set(a) & set(b)
                out.append({"noise": noise, "physnet": ours, "peer": theirs,
                            "wins": sum(a[s] < b[s] for s in both),
                            "losses": sum(a[s] > b[s] for s in both), "systems": len(both)})  # fmt: skip
    return out


def dysts(
    names: Sequence[str],
    *,
    noises: Sequence[float] = (0.0, 0.01),
    methods: Sequence[str] | None = None,
    peers_too: bool = True,
    peer_noises: Sequence[float] | None = None,
    degree: int = 4,
    n_train: int = 5,
    n_test: int = 5,
    n_points: int = 1000,
    points_per_period: int = 100,
    forecast_periods: float = 2.0,
    forecast: bool = True,
    neural_ode_steps: int = 1000,
    selection: str = "aicc",
    select_on_test: bool = True,
    parameters: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 0,
    echo: Callable[[str], None] = print,
) -> dict:
    """Run physnet (and PySINDy, when importable) on the dysts flows ``names``.

    Args:
        names: dysts flow names (:func:`physnet.benchmarks.dysts_names` lists them all).
        noises: measurement noise levels, fractions of each state's standard deviation.
        methods: physnet methods of :data:`PHYSNET_METHODS` (default ``"physnet-weak"``,
            ``"physnet-strong"``: :func:`physnet.training.fit_sparse_polynomial_ode` with its
            defaults; ``"neural-ode"``: a NeuralODE with an MLP, ``neural_ode_steps`` steps).
        peers_too: also run PySINDy's variants (``VARIANTS``) when pysindy is importable.
        peer_noises: the noise levels PySINDy runs at (default all of ``noises``).
        degree: the polynomial library's degree.
        n_train, n_test, n_points, points_per_period: the data (:func:`dysts_data`).
        forecast_periods: the sMAPE horizon in periods (Gilpin 2023: 2).
        forecast: simulate the fitted models from the test initial states.
        neural_ode_steps: training steps of ``"neural-ode"``.
        selection, select_on_test: physnet's model selection
            (:func:`physnet.training.fit_sparse_polynomial_ode`'s ``selection``); with
            ``select_on_test`` (default, Kaptanoglu et al.'s protocol, as PySINDy's threshold
            here) on the clean test trajectories (``validation=``), else on the training data.
        parameters: flow name -> parameter overrides.
        seed: the noise's seed.
        echo: where progress lines go.

    Returns:
        ``{"systems": [per-system records], "summary": summarize(...), "wins":
        win_counts(...), "seconds": ...}``; a record has ``status`` ``"fitted"``,
        ``"failed"`` or ``"excluded"`` (with ``reason``) and per (method, noise) ``rows``
        holding the metrics or an ``error``.

    Raises:
        ConfigError: on an unknown method (an unknown or failing system is recorded).
    """
    methods = tuple(DEFAULT_METHODS if methods is None else methods)
    unknown = [m for m in methods if m not in PHYSNET_METHODS + tuple(peers.VARIANTS)]
    if unknown:
        raise ConfigError(
            f"dysts benchmark: unknown method(s) {', '.join(unknown)}; choose from "
            f"{', '.join(PHYSNET_METHODS + tuple(peers.VARIANTS))}"
        )
    if peers_too and peers.available():
        methods += tuple(v for v in peers.VARIANTS if v not in methods)
    cfg = {
        "noises": tuple(float(n) for n in noises),
        "degree": degree,
        "data": {
            "n_train": n_train,
            "n_test": n_test,
            "n_points": n_points,
            "points_per_period": points_per_period,
        },  # fmt: skip
        "forecast": forecast,
        "forecast_points": max(2, int(round(forecast_periods * points_per_period))),
        "neural_ode_steps": neural_ode_steps,
        "selection": selection,
        "peer_noises": None if peer_noises is None else tuple(float(n) for n in peer_noises),
        "select_on_test": select_on_test,
        "parameters": dict(parameters or {}),
        "seed": seed,
    }
    t0 = time.perf_counter()
    systems = []
    for j, name in enumerate(names):
        echo(f"[{j + 1}/{len(names)}] {name}")
        systems.append(_system(str(name), cfg, methods, echo))
    return {
        "systems": systems,
        "summary": summarize(systems),
        "wins": win_counts(systems),
        "methods": list(methods),
        "seconds": time.perf_counter() - t0,
    }
