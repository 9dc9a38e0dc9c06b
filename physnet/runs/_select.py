"""Structure and units chosen with the user's data: training scales (:func:`resolve_scale`)
and structure selection (:func:`select_structure`, ``physnet train --model auto`` and
``physnet select``).

Selection fits every candidate structure that applies to the data (:data:`CANDIDATES`, each
model class saying why it does not apply through ``unsuitable``) on the first part of the
training data, rolls each out over the rest (the validation part, never the test part), and
ranks them: structures whose long rollout stays bounded first, then by validation forecast
RMSE in the file's units. The winner is trained again on the whole training part.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._build import has_input_port
from .._errors import ConfigError, DataError, TrainingDivergedError
from ..data import Trajectories, structure_scales, velocity_coordinates
from ..data._units import rescale
from ..evaluation import rollout, trajectory_rmse
from ..models import model_class
from ..signals import Zero
from ..training import Runtime, fit
from ..training import fit_states as states_fit
from ._setup import _run_config, build_member, make_loss, make_split, resolve_defaults

CANDIDATES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("node", "node", {}),
    ("hnn", "hnn", {}),
    ("dhnn", "dhnn", {}),
    ("nsf", "nsf", {}),
    ("port-hnn", "port-hnn", {}),
    ("lnn+friction", "lnn", {"dissipation": "friction"}),
)
"""The structures ``--model auto`` tries, in order: (label, registered model, options).

Each applies where its class's ``unsuitable`` says so (energy models: an even state size;
the LNN: states (q, q̇)).
"""

#: the part of the training data the candidates are fitted on (the rest validates them)
FIT_FRACTION = 0.75
#: a candidate's rollout from the validation starts over this many validation horizons ...
LONG_HORIZON = 3.0
#: ... must stay within this many times the largest training |state| (scaled) to count as
#: bounded
BOUND = 10.0
#: scales ``"auto"`` leaves at one (simulated data of a known system, already rescaled data)
SCALE_CHOICES = ("auto", "std", "none")


def known_system(data: Trajectories) -> bool:
    """Whether ``data`` were simulated from a system physnet can rebuild (their metadata
    name a system or a system class)."""
    return "system" in data.metadata or "system_class" in data.metadata


def resolve_scale(scale, train: Trajectories, model_cls) -> tuple[np.ndarray | None, str]:
    """The per-component training scales of a run and why (``None``: the file's units).

    ``scale``: ``"auto"`` (the default: for a measured record the scales of the model's
    structure, :func:`physnet.data.structure_scales` of ``model_cls.scaling`` on the training
    part; the file's units for simulated data of a known system, data already rescaled and
    models that declare ``scaling = "none"``), ``"std"`` (each component's standard deviation
    on the training part, whatever the structure), ``"none"``, or one positive number per
    component.

    Raises:
        ConfigError: for an unknown string or bad numbers.
    """
    d = train.state_size
    if isinstance(scale, str):
        if scale not in SCALE_CHOICES:
            raise ConfigError(
                f"unknown --scale {scale!r}; choose one of {', '.join(SCALE_CHOICES)} or "
                f"{d} positive numbers"
            )
        if scale == "none":
            return None, "--scale none"
        if scale == "std":
            return structure_scales(train, "components"), "--scale std"
        if known_system(train):
            return None, "simulated data of a known system: trained in its own units"
        if "scales" in train.metadata:
            return None, "the data file is already rescaled (its metadata hold scales)"
        kind = getattr(model_cls, "scaling", "uniform")
        if kind == "none":
            return None, f"{model_cls.__name__} declares scaling 'none'"
        s = structure_scales(train, kind)
        return s, f"a measured record: {kind} scales of the training part for {model_cls.__name__}"
    try:
        s = np.asarray(scale, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        s = np.asarray([np.nan])
    if s.shape != (d,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ConfigError(f"--scale needs {d} positive finite numbers, got {scale!r}")
    return s, "given scales"


def apply_scale(data: Trajectories, scales) -> Trajectories:
    """``data`` divided by ``scales`` (unchanged for ``None``)."""
    return data if scales is None else rescale(data, np.asarray(scales, dtype=np.float64))


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One row of a structure selection.

    Attributes:
        label, model, options: the candidate (:data:`CANDIDATES`).
        status: ``"ranked"``, ``"unsuitable"``, ``"diverged"`` or ``"failed"``.
        rmse: validation forecast RMSE in the file's units (None unless ranked).
        bounded: whether the long rollout stayed bounded (None unless ranked).
        seconds: fitting time.
        note: why it was not ranked, or the scaling it trained with.
    """

    label: str
    model: str
    options: dict
    status: str
    rmse: float | None = None
    bounded: bool | None = None
    seconds: float | None = None
    note: str = ""

    def rank_key(self) -> tuple:
        ranked = self.status == "ranked" and self.rmse is not None and math.isfinite(self.rmse)
        return (not ranked, not bool(self.bounded), self.rmse if ranked else math.inf)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Selection:
    """The result of :func:`select_structure`: every candidate's row, best first."""

    rows: tuple[Candidate, ...]
    n_fit: int
    n_validation: int

    @property
    def best(self) -> Candidate:
        return self.rows[0]

    def why(self) -> str:
        """One line: what was chosen and why."""
        best = self.best
        others = [r for r in self.rows[1:] if r.status == "ranked"]
        runner = f", ahead of {others[0].label} ({others[0].rmse:.3g})" if others else ""
        return (
            f"--model auto chose {best.label}: the lowest validation forecast RMSE "
            f"({best.rmse:.3g}, file units) among the structures whose long rollout stays "
            f"bounded{runner}; fitted on {self.n_fit} and validated on {self.n_validation} "
            "training observations (the test part is not used)"
        )

    def table(self) -> str:
        """The ranking as a text table."""
        lines = [f"{'structure':<14} {'validation RMSE':>16} {'bounded':>8} {'fit s':>7}  note"]
        for r in self.rows:
            rmse = "-" if r.rmse is None else f"{r.rmse:.4g}"
            bounded = "-" if r.bounded is None else ("yes" if r.bounded else "no")
            secs = "-" if r.seconds is None else f"{r.seconds:.1f}"
            lines.append(f"{r.label:<14} {rmse:>16} {bounded:>8} {secs:>7}  {r.note}")
        return "\n".join(lines)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Selection:
        """The selection written by :meth:`to_json`."""
        rows = tuple(Candidate(**row) for row in data["candidates"])
        return cls(rows, int(data["n_fit"]), int(data["n_validation"]))

    def to_json(self) -> dict[str, Any]:
        return {
            "chosen": self.best.label,
            "why": self.why(),
            "n_fit": self.n_fit,
            "n_validation": self.n_validation,
            "candidates": [r.to_json() for r in self.rows],
        }


def forecast(
    model, data: Trajectories, dt: float = 0.01, *, solver: str = "rk4"
) -> tuple[jax.Array, jax.Array]:
    """Roll ``model`` out from the first state of every trajectory of ``data`` over its own
    recorded times (``solver``, at least ``ceil(interval / dt)`` steps per recording interval).
    Returns the learned and recorded states of every valid point in the file's units, ``(n,
    d)`` each."""
    learned, measured = [], []
    for b in range(data.n_trajectories):
        part = data.trajectory(b)
        ts = jnp.asarray(part.ts)
        substeps = max(1, int(math.ceil(float(jnp.max(jnp.diff(ts))) / dt - 1e-9)))
        inputs = None if part.inputs is None else part.input_signals()
        ys = rollout(model, part.states[0, 0], ts, solver=solver, substeps=substeps, inputs=inputs)
        learned.append(data.to_units(ys))
        measured.append(data.to_units(part.states[0]))
    return jnp.concatenate(learned), jnp.concatenate(measured)


def _bounded(model, fit_part: Trajectories, valid: Trajectories, dt: float) -> bool:
    """Whether rollouts from the validation starts over :data:`LONG_HORIZON` times the
    validation horizon stay finite and within :data:`BOUND` times the training range. With
    inputs, which are unknown beyond the record, this is the free response (u = 0)."""
    spans = [float(np.ptp(np.asarray(valid.trajectory(b).ts))) for b in range(valid.n_trajectories)]
    horizon = max(max(spans), dt)
    n = 200
    ts = jnp.linspace(0.0, LONG_HORIZON * horizon, n + 1)
    substeps = max(1, int(math.ceil(float(ts[1]) / dt)))
    y0 = jnp.stack([valid.trajectory(b).states[0, 0] for b in range(valid.n_trajectories)])
    inputs = Zero(valid.input_size) if valid.input_size else None
    ys = rollout(model, y0, ts, solver="rk4", substeps=substeps, inputs=inputs)
    limit = BOUND * float(jnp.max(jnp.abs(fit_part.states[fit_part.mask])))
    return bool(jnp.all(jnp.isfinite(ys))) and float(jnp.max(jnp.abs(ys))) <= limit


def _options_for(cls, options: dict, extra: dict) -> dict:
    """``options`` without the model options of other structures (a user's ``--dissipation``
    applies to the candidates that take it), plus the candidate's own ``extra``."""
    from ..models import MODELS

    def takes(c) -> set[str]:
        params = inspect.signature(c.build).parameters.values()
        return {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    model_options = set().union(*(takes(c) for c in MODELS.values()))
    own = takes(cls)
    return {k: v for k, v in options.items() if k in own or k not in model_options} | extra


def select_structure(
    train: Trajectories,
    config,
    *,
    key,
    candidates=CANDIDATES,
    report=None,
) -> Selection:
    """Rank the candidate structures on ``train`` (the training part, file units).

    ``train`` is split again (``physnet.runs.make_split`` with :data:`FIT_FRACTION`: by time
    for one record, by trajectory for several); every candidate whose class does not declare
    it ``unsuitable`` is built with ``config``'s approximator and options (the candidate's
    own options added), trained on the first part with ``config``'s defaults resolved for it
    (loss, recipe, steps; scales of its structure, :func:`resolve_scale`) and seed, and rolled
    out over the second. ``report(line)`` is called after each candidate.

    Returns:
        :class:`Selection`, rows best first (:meth:`Candidate.rank_key`).

    Raises:
        DataError: when no candidate could be ranked (every row says why).
    """
    k_split, k_batch = jax.random.split(jax.random.fold_in(key, 1))
    inner = make_split(train, "auto", FIT_FRACTION, key=k_split)
    fit_part, valid = inner.apply(train)
    velocity = velocity_coordinates(fit_part)
    rows: list[Candidate] = []
    for label, name, extra in candidates:
        cls = model_class(name)
        reason = cls.unsuitable(train.state_size, velocity)
        if reason is None and train.input_size and not has_input_port(cls):
            reason = f"{cls.__name__} has no input port (the data have {train.input_size} input channel(s))"
        if reason is not None:
            rows.append(Candidate(label, name, dict(extra), "unsuitable", note=reason))
            continue
        start = time.perf_counter()
        try:
            scales, _ = resolve_scale(config.scale, fit_part, cls)
            fit_s, valid_s = apply_scale(fit_part, scales), apply_scale(valid, scales)
            cfg = config.replace(model=name, options=_options_for(cls, config.options, extra))
            resolved, _ = resolve_defaults(cfg, fit_s)
            model = build_member(resolved, fit_s, config.seed)
            if resolved.fit_states is not None:
                weak = make_loss(resolved.loss, resolved.loss_options)
                states_fit(model, fit_s, weak=weak, **resolved.fit_states)
            else:
                loss = make_loss(resolved.loss, resolved.loss_options)
                fit(
                    model,
                    fit_s,
                    resolved.fit_config(loss),
                    key=k_batch,
                    runtime=Runtime(progress=False),
                )
            learned, measured = forecast(model, valid_s)
            rmse = float(trajectory_rmse(learned, measured))
            bounded = _bounded(model, fit_s, valid_s, 0.01) if math.isfinite(rmse) else False
            note = "file units" if scales is None else f"{cls.scaling} scales"
            row = Candidate(
                label, name, dict(extra), "ranked", rmse, bounded,
                time.perf_counter() - start, note,
            )  # fmt: skip
        except TrainingDivergedError as err:
            row = Candidate(
                label, name, dict(extra), "diverged", seconds=time.perf_counter() - start,
                note=f"diverged at step {err.step}",
            )  # fmt: skip
        except (ConfigError, DataError) as err:
            row = Candidate(
                label, name, dict(extra), "failed", seconds=time.perf_counter() - start,
                note=str(err),
            )  # fmt: skip
        rows.append(row)
        if report is not None:
            report(row)
    rows.sort(key=Candidate.rank_key)
    if rows[0].rank_key()[0]:
        raise DataError(
            "--model auto: no candidate structure could be fitted: "
            + "; ".join(f"{r.label}: {r.note}" for r in rows)
        )
    return Selection(tuple(rows), fit_part.n_samples, valid.n_samples)


def select_for_file(
    data_path, config=None, *, candidates=CANDIDATES, report=None, **fields
) -> Selection:
    """Rank the model structures on the training part of a data file (``physnet select``).

    :func:`select_structure` on the training part of a data file, split as
    :func:`physnet.runs.train_run` would split it for ``config`` (a
    :class:`~physnet.runs.RunConfig`, its fields also as keywords): ``physnet select``.
    Nothing is written.

    Raises:
        DataError, ConfigError: on bad data or options, in one line.
    """
    config = _run_config(config, fields)
    data = Trajectories.load(data_path)
    k_split, _ = jax.random.split(jax.random.key(config.seed))
    train, _ = make_split(data, config.split, config.train_fraction, key=k_split).apply(data)
    return select_structure(train, config, key=k_split, candidates=candidates, report=report)
