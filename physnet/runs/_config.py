"""The run schema: :class:`RunConfig`, what ``physnet train`` trains with, written as a run
directory's ``config.json`` (:meth:`RunConfig.to_json`) and read back by ``physnet train
--resume`` (:meth:`RunConfig.from_json`). One spelling of the options, nested: model options
under ``options``, loss options under ``loss_options``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._errors import ConfigError
from ..training import DEFAULT_RECIPE, Adam, FitConfig

#: the training state is saved every this many steps unless told otherwise
CHECKPOINT_EVERY = 1000

#: what ``config.json`` holds beside the :class:`RunConfig` fields (written by
#: :func:`~physnet.runs._rundir.run_config` and the run's status changes)
RUN_METADATA = (
    "data",
    "data_relative",
    "data_sha256",
    "provenance",
    "run_format",
    "status",
    "seeds",
    "auto",
)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The options of one ``physnet train`` run (:func:`physnet.runs.train_run`).

    Attributes:
        model, approximator: registered names (:data:`physnet.models.MODELS`,
            :data:`physnet.approximators.APPROXIMATORS`) or import paths; ``model="auto"``
            (the default): ``"hnn"`` for simulated data of a known system, and for a measured
            record the structure :func:`physnet.runs.select_structure` ranks best on a
            validation part of the training data; ``config.json`` stores the chosen model
            and, under ``"auto"``, the selection table.
        options: model and approximator options (:func:`physnet.build_model`).
        loss, loss_options: a registered loss name and its options (its dataclass fields),
            or ``"auto"`` (the default): :func:`~physnet.runs.train_run` picks the derivative
            loss when the data have derivatives, and for states only the trajectory loss, or
            :func:`physnet.fit_states` for a model of at most
            :data:`~physnet.training.FIT_STATES_MAX_PARAMS` parameters
            (:func:`physnet.training.choose_loss`). ``config.json`` stores the RESOLVED
            choice (``loss``, ``fit_states``) and, under ``"auto"``, what was chosen and why,
            so a resumed run never chooses again.
        steps: optimizer steps (None: the recipe's, :data:`physnet.training.RECIPES`; 3000
            for Adam at ``lr``); ``config.json`` stores the resolved count.
        lr: Adam's learning rate (> 0); given without ``preset``, the run trains with Adam at
            ``lr`` (the source's optimizer).
        preset: a training recipe of :data:`physnet.training.RECIPES`; with neither
            ``preset`` nor ``lr`` the run uses ``"fast"`` (Adam then L-BFGS, full batch),
            stored as ``preset`` in ``config.json``.
        fit_states: options of :func:`physnet.fit_states` for a states-only least-squares
            fit instead of gradient steps (``{}``: its defaults), or None.
        batch_size: minibatch size, or None for full batch.
        seed: the run's seed, in [0, 2**63 - 1].
        train_fraction, split: the train/test split (:func:`physnet.runs.make_split`);
            ``config.json`` stores the split actually made (``"trajectory"``/``"time"``).
        ensemble, ensemble_batch: members trained in one compiled call, and how many are
            vmapped at a time (None: one model; all members).
        checkpoint_every: steps between saves of the training state (None: only at the end,
            on divergence and on Ctrl-C).
        scale: the units training works in (:func:`physnet.runs.resolve_scale`): ``"auto"``
            (the default: a measured record is divided by scales of the model's structure
            from the training part; simulated data of a known system stay in their units),
            ``"std"``, ``"none"`` or one positive number per component. ``config.json`` stores
            the resolved scales (a list) or ``"none"``; metrics and rollouts are reported in
            the file's units.
    """

    model: str = "auto"
    approximator: str = "mlp"
    options: dict = dataclasses.field(default_factory=dict)
    loss: str = "auto"
    loss_options: dict = dataclasses.field(default_factory=dict)
    steps: int | None = None
    lr: float | None = None
    preset: str | None = None
    fit_states: dict | None = None
    batch_size: int | None = None
    seed: int = 0
    train_fraction: float = 0.8
    split: str = "auto"
    ensemble: int | None = None
    ensemble_batch: int | None = None
    checkpoint_every: int | None = CHECKPOINT_EVERY
    scale: str | list | None = "auto"

    def __post_init__(self):
        _set = object.__setattr__
        for name in ("options", "loss_options"):  # None values mean "the default"
            value = getattr(self, name)
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise ConfigError(f"{name} must be a dict of options, got {value!r}")
            _set(self, name, {k: v for k, v in value.items() if v is not None})
        if self.fit_states is not None:
            if not isinstance(self.fit_states, dict):
                raise ConfigError(f"fit_states must be a dict of options, got {self.fit_states!r}")
            _set(self, "fit_states", dict(self.fit_states))

    def replace(self, **changes) -> RunConfig:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def fit_config(self, loss) -> FitConfig:
        """The :class:`~physnet.training.FitConfig` of a gradient-trained run with ``loss``
        (the loss object built from :attr:`loss` and :attr:`loss_options`)."""
        if self.preset is not None:
            optimizer = self.preset
        elif self.lr is not None:
            optimizer = Adam(self.lr)
        else:
            optimizer = DEFAULT_RECIPE
        return FitConfig(self.steps, loss, optimizer, self.batch_size)

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON-ready data (``preset`` and ``fit_states`` only when set)."""
        out = dataclasses.asdict(self)
        for name in ("preset", "fit_states"):
            if out[name] is None:
                del out[name]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        """The config of a ``config.json``: this schema, or the earlier one that also wrote
        every model and loss option at the top level (those copies are checked and dropped);
        the run metadata beside the fields (:data:`RUN_METADATA`) is ignored.

        Raises:
            ConfigError: on a field this physnet does not know, naming it.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"a run config must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names}
        nested = {**(data.get("options") or {}), **(data.get("loss_options") or {})}
        unknown = sorted(
            k
            for k, v in data.items()
            if k not in names and k not in RUN_METADATA and not (k in nested and nested[k] == v)
        )
        if unknown:
            raise ConfigError(
                f"unknown run option(s) {', '.join(unknown)} (written by another physnet version?)"
            )
        if "scale" not in data:  # runs written before training scales trained in file units
            fields["scale"] = "none"
        try:
            return cls(**fields)
        except TypeError as err:
            raise ConfigError(f"bad run config: {err}") from None
