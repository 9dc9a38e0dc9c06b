"""Real measured data: neural ODE, HNN and dissipative HNN on the Schmidt & Lipson records.

The HNN paper's protocol (Greydanus et al. 2019, real pendulum): the first 80 % of the record in
time trains, the last 20 % tests; derivatives by forward finite differences; MLP 200-200 tanh;
2000 full-batch Adam steps at 1e-3; energy MSE, with E = 2.4(1 - cos θ) + ω², along the learned
rollout from the first test state over the test segment's recorded times. physnet's best
settings change one thing, the derivatives: central differences on the recorded grid, which
removes the fake damping ≈ dt·ω²/2 that forward differences add (a forward difference of a
harmonic signal at step dt has a real part ω²·dt/2 in its symbol).

The Sosanya & Greydanus 2022 protocol, as read from their public repository
(``DrewSosa/dissipative_hnns``: ``experiment_realpend/data.py``, ``train.py``,
``analyze_realpend.ipynb``): the first row dropped, derivatives as the mean of the two adjacent
forward differences (central differences on a uniform grid), the first ``int(0.8 * 556) = 444``
of the remaining rows train, 5000 Adam steps at 5e-3 on batches of 100, hidden width 256 tanh.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._build import build_model
from .._io import write_json
from ..data import TimeSplit, Trajectories
from ..datasets import load as load_dataset
from ..evaluation import derivative_mse, energy_function, energy_mse, rollout, trajectory_rmse
from ..models import HNN, DissipativeHNN, Ensemble
from ..training import fit, fit_ensemble
from ._common import Experiment

#: the models of the study, as ``"<model>-<approximator>"``
MODELS = ("node-mlp", "hnn-mlp", "dhnn-mlp", "hnn-kan", "dhnn-kan")


@dataclasses.dataclass(frozen=True)
class RealConfig:
    """Settings of one real-data study (one protocol).

    Attributes:
        dataset: a shipped record (:func:`physnet.datasets.load`).
        energy: the energy formula of ``energy_mse`` in the state's names, or ``"measured"``:
            ω_m²·(y1 - ȳ1)² + y2², ω_m from the record's measured period (oscillator).
        derivatives: ``"forward"``, ``"central"`` (:func:`physnet.data.estimate_derivatives`).
        drop_first: rows dropped at the start (1 in the 2022 protocol).
        n_train: observations that train (``None``: ``round(train_fraction * n)``).
        train_fraction: fraction of the record in time that trains.
        scale: ``"none"`` or ``"std"`` (:meth:`Trajectories.rescaled`); results in file units.
        models: which models run, from :data:`MODELS`.
        width, depth, activation: the MLPs; kan_width, kan_grid: the KANs ``[d, kan_width, 1]``.
        steps, lr, batch_size: Adam steps, learning rate, minibatch size (``None``: full batch).
        dt: largest integration step of the evaluation rollouts (RK4 with substeps).
        ensemble: members of a dissipative-HNN ensemble (seed 0 only, ``details_*.json``)
            for the learned damping with its spread; 0: none.
        ensemble_derivatives: the derivatives the ensemble trains on (physnet's best:
            ``"central"``); its first member is drawn in the figures as ``dhnn-mlp (central)``.
        model_seed: initialisation (and minibatch) seed.
    """

    dataset: str = "real-pendulum"
    energy: str = "2.4*(1 - cos(theta)) + omega**2"
    derivatives: str = "forward"
    drop_first: int = 0
    n_train: int | None = None
    train_fraction: float = 0.8
    scale: str = "none"
    models: tuple[str, ...] = MODELS
    width: int = 200
    depth: int = 2
    activation: str = "tanh"
    kan_width: int = 5
    kan_grid: int = 5
    steps: int = 2000
    lr: float = 1e-3
    batch_size: int | None = None
    dt: float = 1.0 / 30.0
    ensemble: int = 8
    ensemble_derivatives: str = "central"
    model_seed: int = 0


def measured_oscillation(ts, y) -> dict[str, float]:
    """Period, amplitude and damping read directly off one record of an oscillator.

    Cycles run between upward crossings of the first component through its mean (linear
    interpolation between samples). For each cycle: period T_i and amplitude A_i = (max - min)/2.
    The damping rate c of ẍ + c·ẋ + ω0²·x = 0 comes from the slope of log A_i over the cycles'
    mid times (A ∝ exp(-c t / 2)); ω_m = 2π / median(T_i).

    Args:
        ts: times ``(T,)``; y: states ``(T, 2)`` in the file's units.

    Returns:
        ``period``, ``omega``, ``amplitude_first``, ``amplitude_last``, ``damping_rate``,
        ``n_cycles``, ``center`` and, per cycle, ``periods``, ``amplitudes``.
    """
    ts, x = np.asarray(ts, dtype=float), np.asarray(y, dtype=float)[:, 0]
    center = float(x.mean())
    s = x - center
    up = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0))
    cross = ts[up] - s[up] * (ts[up + 1] - ts[up]) / (s[up + 1] - s[up])
    periods = np.diff(cross)
    amps = np.array(
        [
            0.5 * (np.ptp(x[(ts >= a) & (ts < b)]))
            for a, b in zip(cross[:-1], cross[1:], strict=True)
        ]
    )
    if len(periods) < 2:  # fewer than two whole cycles: no period or decay to read
        nan = float("nan")
        return {
            "period": nan,
            "omega": nan,
            "amplitude_first": nan,
            "amplitude_last": nan,
            "damping_rate": nan,
            "n_cycles": len(periods),
            "center": center,
            "periods": periods.tolist(),
            "amplitudes": amps.tolist(),
        }
    mids = 0.5 * (cross[:-1] + cross[1:])
    slope = float(np.polyfit(mids, np.log(amps), 1)[0]) if len(amps) > 1 else float("nan")
    period = float(np.median(periods))
    return {
        "period": period,
        "omega": 2 * math.pi / period,
        "amplitude_first": float(amps[0]),
        "amplitude_last": float(amps[-1]),
        "damping_rate": -2.0 * slope,
        "n_cycles": len(periods),
        "center": center,
        "periods": periods.tolist(),
        "amplitudes": amps.tolist(),
    }


def pendulum_g_over_l(periods, amplitudes) -> float:
    """g/l implied by a pendulum's measured periods at amplitudes A (radians): the exact period
    T = 4 K(sin²(A/2)) / sqrt(g/l), so g/l = (4 K / T)², median over cycles."""
    from scipy.special import ellipk

    periods, amplitudes = np.asarray(periods), np.asarray(amplitudes)
    return float(np.median((4 * ellipk(np.sin(amplitudes / 2) ** 2) / periods) ** 2))


def linearisation(model, y) -> dict[str, float]:
    """ω0² and damping rate c of the model's field linearised at the state ``y`` (d = 2),
    meaningful only where the data go (the real pendulum never visits its centre, so there
    the period and decay of the learned rollout, ``record_*``, are the read-outs to trust):
    with J the Jacobian, ẍ + c ẋ + ω0² x = 0 has c = -tr J and ω0² = det J (invariant under
    rescaling of the state components, so the same in scaled and file units)."""
    jac = jax.jacfwd(lambda s: model(0.0, s, None))(jnp.asarray(y))
    return {"omega0_sq": float(jnp.linalg.det(jac)), "damping_rate": float(-jnp.trace(jac))}


def prepare(cfg: RealConfig) -> tuple[Trajectories, Trajectories, Trajectories]:
    """The record (file units), and its train and test segments (rescaled, with derivatives)."""
    raw = load_dataset(cfg.dataset)
    n = raw.n_times
    if cfg.drop_first:
        raw = raw.take_times(np.arange(cfg.drop_first, n))
        n -= cfg.drop_first
    data = raw.rescaled(cfg.scale).with_estimated_derivatives(cfg.derivatives)
    n_train = cfg.n_train if cfg.n_train is not None else int(round(cfg.train_fraction * n))
    train, test = TimeSplit(n_train, n).apply(data)
    return raw, train, test


def _build(name: str, cfg: RealConfig, seed: int, train: Trajectories):
    kind, approx = name.split("-")
    if approx == "kan":
        model = build_model(
            kind, train.state_size, "kan", seed=seed, width=cfg.kan_width, grid=cfg.kan_grid
        )
        from ..approximators import update_grids

        update_grids(model, train.states[train.mask])
        return model
    return build_model(
        kind,
        train.state_size,
        "mlp",
        seed=seed,
        width=cfg.width,
        depth=cfg.depth,
        activation=cfg.activation,
    )


def _rollout_units(model, data: Trajectories, dt: float):
    """The model's rollout from the first state of ``data`` (one record) over its recorded
    times, in file units, and the measured states in file units."""
    ts = jnp.asarray(data.times_of(0))
    substeps = max(1, int(math.ceil(float(jnp.max(jnp.diff(ts))) / dt - 1e-9)))
    states = data.trajectory(0).states[0]
    ys = rollout(model, states[0], ts, substeps=substeps)
    return np.asarray(ts), np.asarray(data.to_units(ys)), np.asarray(data.to_units(states))


def energy_for(cfg: RealConfig, raw: Trajectories, names):
    """The energy function of ``energy_mse`` and its formula."""
    if cfg.energy != "measured":
        return energy_function(cfg.energy, names), cfg.energy
    m = measured_oscillation(raw.times_of(0), raw.states[0])
    expr = f"{m['omega'] ** 2:.6g}*({names[0]} - {m['center']:.6g})**2 + {names[1]}**2"
    return energy_function(expr, names), expr


def _score(model, cfg, raw, train, test, energy) -> dict[str, Any]:
    _, learned, measured = _rollout_units(model, test, cfg.dt)
    mean_state = jnp.mean(train.states[train.mask], axis=0)
    lin = linearisation(model, mean_state)
    _, whole, _ = _rollout_units(model, raw.rescaled(cfg.scale), cfg.dt)
    osc = measured_oscillation(raw.times_of(0), whole)
    row = {
        "energy_mse": float(energy_mse(energy, learned, measured)),
        "record_period": osc["period"],
        "record_damping_rate": osc["damping_rate"],
        "rollout_rmse": float(trajectory_rmse(learned, measured)),
        "train_mse": derivative_mse(model, train),
        "test_mse": derivative_mse(model, test),
        "omega0": math.sqrt(max(lin["omega0_sq"], 0.0)),
        "damping_rate": lin["damping_rate"],
    }
    # a dissipation with a scalar damping, in the file's units (the record may be rescaled)
    gamma = model.readout_in(train.metadata.get("scales")).get("gamma_hat")
    if gamma is not None:
        row["gamma_hat"] = gamma
    return row


def train_and_evaluate(cfg: RealConfig, workdir: Path, make_figures: bool) -> dict[str, Any]:
    """Train every model of ``cfg.models`` on the record's training segment and score it on
    the held-out segment (file units). Metrics ``<model>_<metric>``: ``energy_mse`` and
    ``rollout_rmse`` along the held-out segment; ``train_mse``, ``test_mse`` (derivatives);
    ``record_period``, ``record_damping_rate`` (:func:`measured_oscillation` of the learned
    rollout over the whole record from its first state, to compare with ``measured_*``);
    ``omega0``, ``damping_rate`` (:func:`linearisation` at the mean training state);
    ``gamma_hat``. With ``make_figures``: the figures and ``details_<derivatives>.json``
    (the record's cycles, the polynomial read-out of every learned H with the ω0² it implies,
    and the ensemble's learned damping with its spread)."""
    raw, train, test = prepare(cfg)
    names = [str(n) for n in raw.metadata.get("names", ("q", "p"))]
    energy, expr = energy_for(cfg, raw, names)
    measured = measured_oscillation(raw.times_of(0), raw.states[0])
    metrics: dict[str, Any] = {
        "energy": expr,
        "measured_period": measured["period"],
        "measured_omega": measured["omega"],
        "measured_damping_rate": measured["damping_rate"],
    }
    if cfg.dataset == "real-pendulum":
        metrics["measured_g_over_l"] = pendulum_g_over_l(
            measured["periods"], measured["amplitudes"]
        )
    key = jax.random.key(cfg.model_seed)
    models = {}
    for name in cfg.models:
        model = _build(name, cfg, cfg.model_seed, train)
        history = fit(
            model,
            train,
            steps=cfg.steps,
            optimizer=optax.adam(cfg.lr),
            batch_size=cfg.batch_size,
            key=key,
            progress=False,
        )
        row = _score(model, cfg, raw, train, test, energy)
        row["train_seconds"] = history.train_seconds
        for k, v in row.items():
            metrics[f"{name.replace('-', '_')}_{k}"] = v
        models[name] = model
    if make_figures:
        extra = {"measured": measured, "readout": _readouts(models, train, names)}
        if cfg.ensemble > 0:
            extra["ensemble"], first = _ensemble(cfg, raw, energy)
            models[f"dhnn-mlp ({cfg.ensemble_derivatives})"] = first
        _figures(models, cfg, raw, train, test, energy, workdir)
        write_json(workdir / f"details_{cfg.derivatives}.json", extra)
    return metrics


def omega0_sq_from_h(coefficients: dict[str, float], q: str, p: str) -> float:
    """Small-oscillation ω0² of H ≈ a·p² + b·q² + ... read as a polynomial: q̇ = ∂H/∂p = 2a·p,
    ṗ = -∂H/∂q = -2b·q, so q̈ = -4ab·q (for the pendulum, g/l; with a = 1/2 exactly when the
    learned p is q̇). ``nan`` when a term is missing."""
    a, b = coefficients.get(f"{p}**2"), coefficients.get(f"{q}**2")
    return float("nan") if a is None or b is None else 4.0 * a * b


def _readouts(models, train: Trajectories, names) -> dict[str, Any]:
    """Polynomial read-out (degree 4) of every learned H, in the training data's units, and
    the ω0² it implies (:func:`omega0_sq_from_h`; g/l for the pendulum)."""
    from ..interpret import read_hamiltonian

    out = {}
    for name, model in models.items():
        if isinstance(model, HNN | DissipativeHNN):
            r = read_hamiltonian(model, train.states[train.mask], names=tuple(names))
            out[name] = {
                "formula": r.formula,
                "coefficients": r.coefficients,
                "r2": r.r2,
                "omega0_sq": omega0_sq_from_h(r.coefficients, names[0], names[1]),
            }
    return out


def _ensemble(cfg, raw, energy):
    """``cfg.ensemble`` dissipative HNNs (seeds 0..N-1, derivatives
    ``cfg.ensemble_derivatives``) trained in one call: the learned γ, damping rate, ω0 and
    energy MSE of every member, with median and spread; and the first member."""
    from ..evaluation import ensemble_readout

    cfg = dataclasses.replace(cfg, derivatives=cfg.ensemble_derivatives)
    _, train, test = prepare(cfg)
    members = [_build("dhnn-mlp", cfg, s, train) for s in range(cfg.ensemble)]
    ens = Ensemble(members)
    fit_ensemble(
        ens,
        train,
        steps=cfg.steps,
        optimizer=optax.adam(cfg.lr),
        batch_size=cfg.batch_size,
        key=jax.random.key(0),
        progress=False,
        member_batch_size=1,
    )
    summary = ensemble_readout(
        [ens.member(i) for i in range(len(ens))],
        lambda m: _score(m, cfg, raw, train, test, energy),
    )
    out = {
        k: {kk: v[kk] for kk in ("median", "std", "members") if kk in v} for k, v in summary.items()
    }
    return {"derivatives": cfg.derivatives, "members": cfg.ensemble, **out}, ens.member(0)


def _figures(models, cfg, raw, train, test, energy, workdir: Path) -> None:
    """Phase portrait on the test segment (measured vs learned) and energy along the whole
    record from its first state (measured vs learned)."""
    from ..plotting import phase_portrait, save_figure, time_series

    tag = f"{cfg.dataset}_{cfg.derivatives}"
    mlp = {n: m for n, m in models.items() if "mlp" in n}
    paths = {"measured": _rollout_units(next(iter(mlp.values())), test, cfg.dt)[2]}
    for name, model in mlp.items():
        paths[name] = _rollout_units(model, test, cfg.dt)[1]
    save_figure(
        phase_portrait(
            paths,
            title=f"{cfg.dataset}, test segment ({cfg.derivatives} differences)",
        ),
        workdir / f"{tag}_phase.png",
    )
    whole = raw.rescaled(cfg.scale) if cfg.scale != "none" else raw
    curves = {}
    ts = None
    for name, model in mlp.items():
        ts, learned, meas = _rollout_units(model, whole, cfg.dt)
        curves.setdefault("measured", np.asarray(jax.vmap(energy)(jnp.asarray(meas)))[:, None])
        curves[name] = np.asarray(jax.vmap(energy)(jnp.asarray(learned)))[:, None]
    save_figure(
        time_series(
            ts,
            curves,
            names=("energy",),
            title=f"{cfg.dataset}: energy along the record from its first state",
        ),
        workdir / f"{tag}_energy.png",
    )


def with_seed(cfg: RealConfig, seed: int) -> RealConfig:
    return dataclasses.replace(cfg, model_seed=seed)


def _shrink(cfg: RealConfig) -> RealConfig:
    return dataclasses.replace(cfg, steps=50, width=16, ensemble=2, models=("hnn-mlp", "dhnn-mlp"))


def _columns(models, extra=()) -> tuple[str, ...]:
    keys = (
        "energy_mse",
        "rollout_rmse",
        "test_mse",
        "record_period",
        "record_damping_rate",
        "gamma_hat",
    )
    return (*extra, *(f"{m.replace('-', '_')}_{k}" for m in models for k in keys))


_MEASURED = ("measured_period", "measured_omega", "measured_damping_rate")

#: the HNN paper's protocol on the real pendulum, and physnet's best (central differences)
PENDULUM = RealConfig()
PENDULUM_BEST = dataclasses.replace(PENDULUM, derivatives="central")
#: Sosanya & Greydanus 2022's protocol as read from their repository (see the module docstring);
#: physnet's MLP has no residual hidden layer and draws random minibatches, and its
#: dissipative HNN is the friction form (theirs adds the gradient of a learned D).
PENDULUM_2022 = dataclasses.replace(
    PENDULUM,
    derivatives="central",
    drop_first=1,
    n_train=444,
    width=256,
    steps=5000,
    lr=5e-3,
    batch_size=100,
    models=("node-mlp", "hnn-mlp", "dhnn-mlp"),
    ensemble=0,
)
OSCILLATOR = dataclasses.replace(
    PENDULUM,
    dataset="real-oscillator",
    energy="measured",
    scale="std",
    models=("node-mlp", "hnn-mlp", "dhnn-mlp"),
)
OSCILLATOR_BEST = dataclasses.replace(OSCILLATOR, derivatives="central")

REAL_PENDULUM = Experiment(
    name="REAL-PENDULUM",
    title="real pendulum (Schmidt & Lipson 2009), the HNN paper's protocol",
    config=PENDULUM,
    quick_config=_shrink(PENDULUM),
    train_and_evaluate=train_and_evaluate,
    with_seed=with_seed,
    source={
        "node_mlp_energy_mse": 0.386,
        "hnn_mlp_energy_mse": 1.45e-2,
        "node_mlp_test_mse": 2.19e-3,
        "hnn_mlp_test_mse": 5.96e-3,
    },
    best_config=PENDULUM_BEST,
    shrink=_shrink,
    columns=_columns(MODELS, (*_MEASURED, "measured_g_over_l")),
)
REAL_PENDULUM_2022 = Experiment(
    name="REAL-PENDULUM-2022",
    title="real pendulum, Sosanya & Greydanus 2022's protocol",
    config=PENDULUM_2022,
    quick_config=_shrink(PENDULUM_2022),
    train_and_evaluate=train_and_evaluate,
    with_seed=with_seed,
    source={
        "node_mlp_energy_mse": 1.17e-3,
        "hnn_mlp_energy_mse": 1.02e-2,
        "dhnn_mlp_energy_mse": 1.07e-3,
    },
    shrink=_shrink,
    columns=_columns(PENDULUM_2022.models),
)
REAL_OSCILLATOR = Experiment(
    name="REAL-OSCILLATOR",
    title="real damped linear oscillator (Schmidt & Lipson 2009)",
    config=OSCILLATOR,
    quick_config=_shrink(OSCILLATOR),
    train_and_evaluate=train_and_evaluate,
    with_seed=with_seed,
    source={},
    best_config=OSCILLATOR_BEST,
    shrink=_shrink,
    columns=_columns(OSCILLATOR.models, _MEASURED),
)
#: the real-data experiments: run only when named (``physnet reproduce --experiments
#: real-pendulum``), never in the default set
REAL_EXPERIMENTS = (REAL_PENDULUM, REAL_PENDULUM_2022, REAL_OSCILLATOR)
