"""``physnet train``: its parser (model and loss flags generated from the registries) and
the command."""

from __future__ import annotations

import json
import sys
from typing import Any

from ._distributed import DISTRIBUTED_FLAGS, add_distributed_flags, start_distributed
from ._types import (
    _OVERWRITE_HELP,
    _PATH_HELP,
    EXIT_USER_ERROR,
    _bool,
    _Choices,
    _finite_float,
    _nonnegative_int,
    _positive_float,
    _positive_int,
    _seed,
)


def add_train_parser(sub) -> None:
    from ..approximators import APPROXIMATORS
    from ..models import MODELS
    from ..runs import SPLITS
    from ..training import LOSSES, RECIPES

    p = sub.add_parser("train", help="train a model on a data file")
    p.add_argument(
        "--data", default=None, help="data file (.npz) from `physnet simulate` (required)"
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN",
        help="continue the interrupted run RUN from its saved training state, with its own "
        "options (other option flags are refused; --steps may raise the step count); the "
        "result equals an uninterrupted run",
    )
    p.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="save the training state in the run every N steps (default 1000) and on Ctrl-C",
    )
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)
    p.add_argument(
        "--model",
        default="auto",
        choices=_Choices(["auto", *MODELS]),
        help=f"a registered model, {_PATH_HELP} with a classmethod build, or auto (the "
        "default): hnn for data simulated from a known system; for a measured record the "
        "candidate structures that apply are fitted on the first 75%% of the training part, "
        "ranked by forecast error on the rest, and the best is trained (the table is printed)",
    )
    p.add_argument(
        "--scale",
        default="auto",
        type=_scale,
        metavar="auto|std|none|S1,S2,...",
        help="the units training works in (results are reported in the file's units): auto "
        "(default) divides a measured record by scales of the model's structure from the "
        "training part (simulated data of a known system stay as they are); std: each "
        "component's standard deviation; none: the file's units; or one scale per component",
    )
    p.add_argument(
        "--approximator",
        default="mlp",
        choices=_Choices(APPROXIMATORS),
        help=f"a registered approximator (default mlp), {_PATH_HELP}",
    )
    p.add_argument(
        "--loss",
        default="auto",
        choices=["auto", *LOSSES],
        help="auto (default): derivative when the data have derivatives, else trajectory "
        "(or --fit-states for a model of <= 100 parameters); prints which and why",
    )
    p.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="optimizer steps (default: the recipe's, 1000 for fast; 3000 with --lr or "
        "--preset source)",
    )
    p.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="train with Adam at this learning rate (> 0) instead of the default recipe",
    )
    p.add_argument(
        "--preset",
        default=None,
        choices=list(RECIPES),
        help="a training recipe (default fast: Adam, then L-BFGS, full batch; source: the "
        "source's Adam at 1e-3, 3000 steps, takes --batch-size)",
    )
    p.add_argument("--batch-size", type=_positive_int, default=None, help="default: full batch")
    g = p.add_argument_group(
        "states-only identification (noisy states, no derivatives: physnet.fit_states)"
    )
    g.add_argument(
        "--fit-states",
        action="store_true",
        help="weak form, then latent-start shooting by Levenberg-Marquardt, instead of Adam "
        "steps (small models: a polynomial H or a small net); reports the noise level",
    )
    g.add_argument("--weak-steps", type=_nonnegative_int, default=None, help="(default 30)")
    g.add_argument("--latent-steps", type=_nonnegative_int, default=None, help="(default 20)")
    g.add_argument(
        "--max-step",
        type=_positive_float,
        default=None,
        help="trust region of the weak stage (e.g. 1 for a polynomial H; default none)",
    )
    p.add_argument("--width", type=_positive_int, default=None, help="MLP width (default 32)")
    p.add_argument(
        "--depth", type=_positive_int, default=None, help="MLP hidden layers (default 2)"
    )
    p.add_argument("--activation", default=None, help="MLP activation (default tanh)")
    p.add_argument(
        "--grid", type=_positive_int, default=None, help="KAN grid intervals (default 5)"
    )
    p.add_argument("--order", type=_positive_int, default=None, help="KAN spline order (default 3)")
    p.add_argument(
        "--degree",
        type=_positive_int,
        default=None,
        help="polynomial total degree (default 3; --approximator polynomial)",
    )
    p.add_argument("--train-fraction", type=_finite_float, default=0.8)
    p.add_argument(
        "--split",
        default="auto",
        choices=list(SPLITS),
        help="trajectory: whole trajectories train or test; time: the first --train-fraction "
        "of every record trains; auto (default): by trajectory when the data hold several, "
        "by time for one record",
    )
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument(
        "--ensemble",
        type=_positive_int,
        default=None,
        metavar="N",
        help="train N members (initialised with seeds seed..seed+N-1, same data) in one "
        "compiled call; metrics report the median and the spread over members",
    )
    p.add_argument(
        "--ensemble-batch",
        type=_positive_int,
        default=None,
        metavar="K",
        help="with --ensemble: vmap K members at a time, the groups in sequence (default all; "
        "1 is fastest on a CPU with few cores)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", default=None, help="run directory to create (required)")
    add_distributed_flags(p)
    _add_model_flags(p, MODELS)
    _add_loss_flags(p, LOSSES)
    _record_given(p)


def _record_given(parser) -> None:
    """Make every option of ``parser`` add its destination to ``args.given_flags`` when it
    appears on the command line (a flag given with its default value included), so that
    ``--resume`` can refuse the options it would otherwise ignore."""
    parser.set_defaults(given_flags=None)
    made: dict = {}
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        base = type(action)
        if base not in made:

            def call(self, parser, namespace, values, option_string=None, _base=base):
                if getattr(namespace, "given_flags", None) is None:
                    namespace.given_flags = []
                namespace.given_flags.append(option_string or self.option_strings[0])
                _base.__call__(self, parser, namespace, values, option_string)

            made[base] = type(base.__name__, (base,), {"__call__": call})
        action.__class__ = made[base]


#: the flags that go with --resume: the step count may be raised, the progress bar dropped,
#: and a user's own model or approximator class imported (it must be the run's)
_RESUME_FLAGS = (
    "--resume",
    "--steps",
    "--quiet",
    "--model",
    "--approximator",
    *DISTRIBUTED_FLAGS,
)


def _check_resume_flags(args) -> None:
    """``--resume RUN`` continues with the run's own options: refuse every other option in
    one line naming them, and a ``--model``/``--approximator`` that is not the run's own
    class path."""
    from .._errors import ConfigError

    given = list(dict.fromkeys(getattr(args, "given_flags", None) or []))
    other = [f for f in given if f not in _RESUME_FLAGS]
    if other:
        raise ConfigError(
            f"--resume RUN continues with the run's own options (config.json); drop "
            f"{' '.join(other)} (only --steps, --quiet and --model/--approximator "
            "package.module:Class go with --resume; train a new run to change options)"
        )
    from ..runs import RunDirectory

    config = None
    for flag in ("model", "approximator"):
        if f"--{flag}" not in given:
            continue
        value = getattr(args, flag)
        if config is None:
            config = RunDirectory.open(args.resume).config
        if ":" not in str(value) or value != config.get(flag):
            raise ConfigError(
                f"--resume RUN continues with the run's own --{flag} {config.get(flag)}; "
                f"--{flag} {value} only imports that class (package.module:Class): drop it "
                "or name the run's"
            )


def _loss_flags() -> tuple[str, ...]:
    """The loss options ``physnet train`` has flags for: every field of every registered loss
    (:func:`_add_loss_flags`)."""
    import dataclasses

    from ..training import LOSSES

    names = [f.name for cls in LOSSES.values() for f in dataclasses.fields(cls)]
    return tuple(dict.fromkeys(names))


_APPROXIMATOR_FLAGS = ("width", "depth", "activation", "grid", "order", "degree")


def _model_option_parameters(models) -> dict:
    """``{option: [(model name, inspect.Parameter), ...]}``: the keyword-only parameters of the
    registered models' ``build`` classmethods (their options, :func:`physnet.build_model`)."""
    import inspect

    out: dict = {}
    for name, cls in models.items():
        for key, param in inspect.signature(cls.build).parameters.items():
            if param.kind is inspect.Parameter.KEYWORD_ONLY and key != "input_size":
                out.setdefault(key, []).append((name, param))  # input_size: from the data
    return out


def _add_model_flags(parser, models) -> None:
    """One flag per model option (a keyword-only parameter of a registered model's ``build``),
    generated from the signatures: type from the annotation, default and models in the
    help. An option whose name is already a flag of the command (a model option ``scale``
    and the run's ``--scale``) gets the flag ``--model-NAME``; ``args.model_option_dests``
    maps each option to its attribute."""
    from .._build import PRESETS

    group = parser.add_argument_group("model options (--model ...)")
    taken = {a.dest for a in parser._actions}
    dests: dict[str, str] = {}
    for key, owners in _model_option_parameters(models).items():
        text = str(owners[0][1].annotation)
        kind = _bool if "bool" in text else _finite_float if "float" in text else str
        kind = _positive_int if "int" in text and kind is str else kind
        which = ", ".join(
            f"{n} (default {PRESETS.get(n, {}).get('model', {}).get(key, p.default)})"
            for n, p in owners
        )
        dest = key if key not in taken else f"model_{key}"
        dests[key] = dest
        group.add_argument(
            "--" + dest.replace("_", "-"), dest=dest, type=kind, default=None,
            help=f"--model {which}",
        )  # fmt: skip
    parser.set_defaults(model_option_dests=dests)


def _add_loss_flags(parser, losses) -> None:
    """One flag per option of the registered losses, generated from their dataclass fields
    (help, choices and type from the field's metadata, see ``physnet.training._loss_base.
    option``), grouped by loss; an option several losses share gets one flag."""
    import dataclasses

    owners: dict[str, dict[str, Any]] = {}  # option -> {loss: its default}
    for name, cls in losses.items():
        for f in dataclasses.fields(cls):
            owners.setdefault(f.name, {})[name] = f.default
    for name, cls in losses.items():
        fields = [f for f in dataclasses.fields(cls) if next(iter(owners[f.name])) == name]
        if not fields:
            continue
        group = parser.add_argument_group(f"--loss {name} options")
        for f in fields:
            meta = f.metadata
            kind = meta.get("type", str)
            defaults = {k: v for k, v in owners[f.name].items() if v is not None}
            if len(owners[f.name]) == 1:
                default = f" (default {f.default})" if f.default is not None else ""
            else:
                loss_names = ", ".join(owners[f.name])
                each = "; ".join(f"{v} for {k}" for k, v in defaults.items())
                default = f" (--loss {loss_names}" + (f"; default {each})" if each else ")")
            group.add_argument(
                "--" + f.name.replace("_", "-"),
                type=_positive_int if kind is int else _positive_float if kind is float else str,
                default=None,
                choices=meta.get("choices"),
                help=f"{meta.get('help', '')}{default}",
            )


def _import_named_classes(args) -> None:
    """Import the user's own classes that ``--model`` / ``--approximator package.module:Class``
    name (the user asked for them), so that a run's checkpoint or resumed training finds them;
    registered names need nothing."""
    from ..approximators._registry import approximator_builder
    from ..models import model_class

    for flag, lookup in (("model", model_class), ("approximator", approximator_builder)):
        value = getattr(args, flag)
        if isinstance(value, str) and ":" in value:
            lookup(value)


def _cmd_train(args) -> int:
    from .._errors import DistributedError
    from ..training._distributed import exit_now

    try:
        return _train(args)
    except DistributedError as err:  # past JAX's shutdown barrier, which a lost peer fails
        exit_now(f"physnet train: error: {err}", EXIT_USER_ERROR)
        raise  # not reached


def _train(args) -> int:
    from .._errors import ConfigError
    from ..runs import resume_run, train_run
    from ..training import is_writer

    mesh = start_distributed(args)  # first: before any computation
    quiet = args.quiet or not is_writer()  # one process speaks

    if args.resume is not None:
        given = [f for f in ("data", "out") if getattr(args, f) is not None]
        if given:
            raise ConfigError(
                f"--resume RUN reads the run's own options; drop --{' --'.join(given)}"
            )
        _check_resume_flags(args)
        _import_named_classes(args)
        out, metrics = resume_run(
            args.resume, steps=args.steps, progress=False if quiet else None, mesh=mesh
        )
        if not is_writer():
            return 0
        print(json.dumps(_shown(metrics, None) | {"out": str(out)}))
        return 0
    missing = [f"--{f}" for f in ("data", "out") if getattr(args, f) is None]
    if missing:
        raise ConfigError(f"train needs {' and '.join(missing)} (or --resume RUN)")
    for flag in ("data", "out"):
        if not str(getattr(args, flag)).strip():
            raise ConfigError(
                f"--{flag} is empty; name the {'data file' if flag == 'data' else 'run directory'}"
            )
    if args.approximator != "kan" and (args.grid is not None or args.order is not None):
        raise ConfigError("--grid and --order apply to --approximator kan only")
    if args.approximator != "polynomial" and args.degree is not None:
        raise ConfigError("--degree applies to --approximator polynomial only")
    states_flags = {k: getattr(args, k) for k in ("weak_steps", "latent_steps", "max_step")}
    fit_states = None
    if args.fit_states:
        fit_states = {k: v for k, v in states_flags.items() if v is not None}
        if args.steps is not None:
            raise ConfigError("--fit-states does not take Adam --steps")
    elif any(v is not None for v in states_flags.values()):
        given = [f"--{k.replace('_', '-')}" for k, v in states_flags.items() if v is not None]
        raise ConfigError(f"{', '.join(given)} appl(ies) to --fit-states only")
    out, metrics = train_run(
        args.data,
        args.out,
        fit_states=fit_states,
        overwrite=args.overwrite,
        checkpoint_every=args.checkpoint_every,
        model=args.model,
        approximator=args.approximator,
        options={k: getattr(args, k) for k in _APPROXIMATOR_FLAGS}
        | {k: getattr(args, dest) for k, dest in args.model_option_dests.items()},
        loss=args.loss,
        loss_options={k: getattr(args, k) for k in _loss_flags()},
        steps=args.steps,
        lr=args.lr,
        preset=args.preset,
        batch_size=args.batch_size,
        seed=args.seed,
        train_fraction=args.train_fraction,
        split=args.split,
        ensemble=args.ensemble,
        ensemble_batch=args.ensemble_batch,
        scale=args.scale,
        progress=False if quiet else None,
        report=None if quiet else _print_candidate,
        mesh=mesh,
    )
    if not is_writer():
        return 0
    if "selection" in metrics:
        print_selection(metrics["selection"])
    if "scales" in metrics and args.scale == "auto":
        scales = ", ".join(f"{v:.4g}" for v in metrics["scales"])
        print(
            f"physnet train: --scale auto trained in scales [{scales}]: {metrics['scale_why']}; "
            "results are in the file's units (--scale none to train in them)",
            file=sys.stderr,
        )
    if "loss_auto" in metrics:  # after the run: an error stays one line (issue 20)
        chosen = "fit_states" if metrics.get("fit") == "states" else metrics["loss"]
        print(
            f"physnet train: --loss auto chose {chosen}: {metrics['loss_auto']} (--loss NAME or "
            "--fit-states to choose)",
            file=sys.stderr,
        )
    diverged = metrics.get("diverged_members")
    if diverged:
        print(
            f"physnet train: warning: ensemble members {diverged} diverged and keep the "
            "parameters of their last finite step",
            file=sys.stderr,
        )
    print(json.dumps(_shown(metrics, args.ensemble) | {"out": str(out)}))
    return 0


def _scale(text: str):
    """``--scale``: auto, std, none, or comma-separated positive numbers."""
    import argparse

    if text in ("auto", "std", "none"):
        return text
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected auto, std, none or comma-separated numbers, got {text!r}"
        ) from None
    return values


def _print_candidate(row, command: str = "train --model auto") -> None:
    rmse = "-" if row.rmse is None else f"{row.rmse:.4g}"
    print(
        f"physnet {command}: {row.label}: validation RMSE {rmse} ({row.note})",
        file=sys.stderr,
    )


def print_selection(selection: dict, command: str = "train") -> None:
    """The ranking of a structure selection and the one-line reason, on stderr."""
    from ..runs import Selection

    print(Selection.from_json(selection).table(), file=sys.stderr)
    print(f"physnet {command}: {selection['why']}", file=sys.stderr)


def _shown(metrics: dict, ensemble) -> dict:
    from .._io import strict_json

    shown = {k: v for k, v in metrics.items() if k.endswith("mse") or k.endswith("mse_std")}
    if ensemble is not None:
        shown["ensemble"] = ensemble
    return strict_json(shown)[0]
