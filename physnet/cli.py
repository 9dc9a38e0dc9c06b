"""The ``physnet`` command line: simulate, import, datasets, train, evaluate, analyze,
compare, reproduce.

User errors (bad files, bad options, NaN in data, diverging training) print one line on stderr
and exit with status 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line."""

    def error(self, message):  # noqa: D401
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _nonnegative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, 2**63 - 1], got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


_OVERWRITE_HELP = "replace the output if it is a previous physnet output of the same kind"


class _Choices(list):
    """The registered names, as argparse choices, that also admit a user's own class named by
    import path ``package.module:Class`` (imported and checked when the command runs)."""

    def __contains__(self, value) -> bool:
        return super().__contains__(value) or (isinstance(value, str) and ":" in value)


_PATH_HELP = "or your own class as package.module:Class (the module is imported)"


def _system_parameters() -> dict[str, list[tuple[str, float]]]:
    """Every registered system's constructor parameters: ``{param: [(system, default)]}``."""
    from .systems import SYSTEMS

    params: dict[str, list[tuple[str, float]]] = {}
    for name, cls in SYSTEMS.items():
        for param, default in cls.parameter_defaults().items():
            params.setdefault(param, []).append((name, default))
    return params


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


def _flag_type(default):
    """The argparse type of a user system's parameter flag, from its default."""
    if isinstance(default, bool):
        return _bool
    if isinstance(default, int):
        return int
    if isinstance(default, float) or default is None:
        return _finite_float
    return str


def _add_user_system_flags(p, user_system) -> None:
    """``--PARAM`` flags for the constructor parameters of a user's system class that the
    registered systems do not already have (required where the parameter has no default)."""
    import inspect

    from ._classpath import class_path
    from ._errors import ConfigError

    cls = user_system
    for name, param in inspect.signature(cls).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        flag = "--" + name.replace("_", "-")
        if name in _system_parameters():
            continue
        if flag in p._option_string_actions:
            raise ConfigError(
                f"--system {class_path(cls)}: its parameter {name!r} has the name of "
                f"simulate's own {flag}; rename the parameter"
            )
        required = param.default is inspect.Parameter.empty
        default = None if required else param.default
        p.add_argument(
            flag,
            dest=name,
            type=_flag_type(default),
            default=None,
            required=required,
            help=f"{cls.__name__} {name}" + ("" if required else f" (default {default!r})"),
        )


def _user_system(argv: list[str]):
    """The class a ``simulate --system package.module:Class`` names (imported, since the user
    named it), so that its parameters become flags; ``None`` for any other command line.

    Raises:
        ConfigError: one line, for a path that does not import an AbstractSystem subclass.
    """
    command = next((a for a in argv if not a.startswith("-")), None)
    if command != "simulate":
        return None
    value = None
    for i, arg in enumerate(argv):
        if arg == "--system" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--system="):
            value = arg.partition("=")[2]
    if value is None or ":" not in value:
        return None
    from .systems import system_class

    return system_class(value)


def build_parser(user_system=None) -> argparse.ArgumentParser:
    """The argument parser; ``user_system``: a user's system class whose parameters
    ``simulate`` takes as flags (``--system package.module:Class``)."""
    from .evaluation import SOLVERS
    from .systems import SYSTEMS

    parser = _Parser(prog="physnet", description="Physics-informed dynamics identification.")
    parser.add_argument(
        "--no-compilation-cache",
        action="store_true",
        help="compile from scratch: do not read or write JAX's persistent compilation cache "
        "(default: on, in ~/.cache/physnet or $PHYSNET_CACHE_DIR; also off with "
        "PHYSNET_COMPILATION_CACHE=0)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("reproduce", help="run the source's experiments (E1, E2, ...)")
    p.add_argument(
        "--experiments",
        default="all",
        help="comma-separated list (E1,...,E6, E5-MLP) or 'all' (E1-E6)",
    )
    p.add_argument("--out", default="physnet-results", help="output directory")
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)
    p.add_argument("--quick", action="store_true", help="small settings (a smoke test)")
    p.add_argument(
        "--best",
        action="store_true",
        help="also run physnet's recommended settings (the 'physnet best' column)",
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="also write the results page DIR/README.md with the table and the figures",
    )

    p = sub.add_parser("simulate", help="generate a trajectory data set (.npz)")
    p.add_argument(
        "--system",
        default="duffing",
        choices=_Choices(SYSTEMS),
        help=f"a registered system (default duffing), {_PATH_HELP}; its constructor's "
        "parameters become --PARAM flags",
    )
    for param, owners in _system_parameters().items():
        p.add_argument(
            "--" + param.replace("_", "-"),
            type=_finite_float,
            default=None,
            help="; ".join(f"{name} {param} (default {default:g})" for name, default in owners),
        )
    p.add_argument("--n-trajectories", type=_positive_int, default=100)
    p.add_argument("--t1", type=_finite_float, default=5.0)
    p.add_argument("--n-points", type=_positive_int, default=50)
    p.add_argument("--noise", type=_nonnegative_float, default=0.0)
    p.add_argument(
        "--coordinates",
        choices=("canonical", "velocity"),
        default="canonical",
        help="states (q, p) or (q, q̇) (for Lagrangian models); default canonical",
    )
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", required=True, help="output .npz file")
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)
    if user_system is not None:
        _add_user_system_flags(p, user_system)

    from .approximators import APPROXIMATORS
    from .models import MODELS
    from .runs import SPLITS
    from .training import LOSSES, RECIPES

    p = sub.add_parser("train", help="train a model on a data file")
    p.add_argument(
        "--data", default=None, help="data file (.npz) from `physnet simulate` (required)"
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN",
        help="continue the interrupted run RUN from its saved training state, with its own "
        "options (--steps may raise the step count); the result equals an uninterrupted run",
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
        default="hnn",
        choices=_Choices(MODELS),
        help=f"a registered model (default hnn), {_PATH_HELP} with a classmethod build",
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
    _add_model_flags(p, MODELS)
    _add_loss_flags(p, LOSSES)

    p = sub.add_parser(
        "import",
        help="read measured trajectories from a CSV or text table into a data file (.npz)",
        description="COL: a 0-based column index or a header name. Comment lines starting "
        "with %% or # are skipped; a leading comment line names the columns when its count "
        "matches the columns.",
    )
    p.add_argument("file", help="CSV or whitespace-separated text file, one observation a row")
    p.add_argument("--time", required=True, metavar="COL", help="the time column")
    p.add_argument(
        "--states", required=True, metavar="COL,COL,...", help="state columns: q, or q and q̇"
    )
    p.add_argument("--trial", default=None, metavar="COL", help="trial column (several trials)")
    p.add_argument(
        "--derivatives", default=None, metavar="COL,...", help="dy/dt columns, one per state"
    )
    p.add_argument("--names", default=None, metavar="a,b,...", help="state names")
    p.add_argument(
        "--scale",
        default="none",
        choices=["none", "std"],
        help="std: divide each state component (and its derivative) by its standard "
        "deviation, the scales kept in the file's metadata (default none)",
    )
    p.add_argument(
        "--positions-only", action="store_true", help="the state columns are positions q only"
    )
    p.add_argument(
        "--estimate-derivatives",
        default=None,
        choices=["central", "forward", "savgol"],
        help="estimate dy/dt from the states on the recorded times (central: second order, "
        "exact for quadratics on non-uniform grids; forward: as the HNN paper does)",
    )
    p.add_argument("--out", required=True, help="output .npz file")
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)

    p = sub.add_parser("datasets", help="list the measured data sets shipped with physnet")
    p.add_argument("--export", default=None, metavar="NAME", help="write data set NAME as .npz")
    p.add_argument("--out", default=None, help="output .npz file (with --export)")
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)

    p = sub.add_parser("evaluate", help="roll a trained model out and report metrics")
    p.add_argument("--run", required=True, help="run directory from `physnet train`")
    p.add_argument("--data", default=None, help="data file (default: the run's test split)")
    p.add_argument("--t1", type=_positive_float, default=100.0, help="rollout horizon")
    p.add_argument("--dt", type=_positive_float, default=0.01, help="integrator step")
    p.add_argument("--solver", default="rk4", choices=list(SOLVERS))
    p.add_argument(
        "--energy",
        default=None,
        metavar="EXPR",
        help='an energy formula in the state\'s names (e.g. "2.4*(1-cos(theta))+omega**2"); '
        "adds energy_mse, its mean squared error along the rollout",
    )
    p.add_argument("--out", default=None, help="output directory (default RUN/evaluation)")
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)
    p.add_argument(
        "--system",
        default=None,
        metavar="package.module:Class",
        help="data of your own system class: import it to rebuild the true system (physnet "
        "never imports a module named only inside a data file)",
    )
    for flag in ("model", "approximator"):
        p.add_argument(
            f"--{flag}",
            default=None,
            metavar="package.module:Class",
            help=f"a run trained with --{flag} package.module:Class: import that class to "
            "load the checkpoint (physnet never imports a module named only inside a run)",
        )
    p.add_argument(
        "--allow-other-system",
        action="store_true",
        help="evaluate on --data of another system (or other parameters) than the run's",
    )
    p.add_argument(
        "--symbolic",
        action="store_true",
        help="models whose learned parts are KAN or polynomial: read the learned H (hnn, dhnn, "
        "port-hnn, nsf) or L (lnn) as a polynomial, or the vector field (node), with gamma_hat "
        "and force parameters; adds formula and coefficients to metrics",
    )

    p = sub.add_parser("analyze", help="analyses of a trained run (ntk: tangent kernel spectra)")
    what = p.add_subparsers(dest="analysis", required=True, parser_class=_Parser)
    q = what.add_parser("ntk", help="NTK spectrum of the run's loss operator, as JSON and PNG")
    q.add_argument("--run", required=True, help="run directory from `physnet train`")
    q.add_argument("--out", default=None, help="output directory (default RUN/ntk)")
    q.add_argument(
        "--samples", type=_positive_int, default=400, help="most training states in the kernel"
    )
    q.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)

    p = sub.add_parser(
        "compare",
        help="MLP vs soft-exp MLP vs KAN on your function, at matched parameters or FLOPs",
        description="Train each approximator on a function (--expr over a box) or a table "
        "(--data .npz/.csv) at a matched parameter count or XLA-counted FLOPs per forward "
        "pass, over seeds; prints a Markdown table (median [min, max] test RMSE, params, "
        "FLOPs, time per step, compile time) and writes JSON with --out. Example: physnet "
        "compare --expr 'x*y' --inputs x,y --low -1,-1 --high 1,1 --match flops",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--expr", help="a formula of the inputs (sympy syntax), e.g. 'x*y'")
    src.add_argument("--data", help=".npz (arrays x, y[, x_test, y_test]) or .csv table")
    p.add_argument("--inputs", default="x", help="--expr: comma-separated input names")
    p.add_argument("--low", default="-1", help="--expr: box lower corner, one per input")
    p.add_argument("--high", default="1", help="--expr: box upper corner, one per input")
    p.add_argument("--n-train", type=_positive_int, default=200, help="--expr: samples")
    p.add_argument("--targets", type=_positive_int, default=1, help="--data .csv: last N columns")
    p.add_argument("--classify", action="store_true", help="--data: targets are class labels")
    p.add_argument("--match", choices=("params", "flops"), default="params")
    p.add_argument(
        "--budget",
        type=_positive_float,
        default=None,
        help="parameter count or FLOPs to match (default: the first approximator's "
        "at its default size)",
    )
    p.add_argument(
        "--approximators", default="mlp,softexp,kan", help="comma-separated, from mlp, softexp, kan"
    )
    p.add_argument("--seeds", type=_positive_int, default=5)
    p.add_argument("--steps", type=_positive_int, default=500, help="Adam (1e-2) steps")
    p.add_argument("--out", default=None, help="write the comparison as JSON to this file")
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)
    return parser


# ----------------------------------------------------------------------------- commands
def _cmd_reproduce(args) -> int:
    import matplotlib

    from .reproduce import parse_experiments, reproduce

    matplotlib.use("Agg")  # a batch job writing PNG files: no window (never selected on import)
    from ._io import check_output
    from .reproduce import write_report

    names = parse_experiments(args.experiments)
    check_output(args.out, "results", overwrite=True)  # a results folder gains experiments
    for name in names:
        check_output(Path(args.out) / name, "experiment", overwrite=args.overwrite)
    if args.report is not None:
        check_output(
            args.report, "report", overwrite=args.overwrite, inputs=[args.out], flag="--report"
        )
    echo = lambda s: print(s, flush=True)  # noqa: E731
    reproduce(
        names, args.out, quick=args.quick, best=args.best, echo=echo, overwrite=args.overwrite
    )
    if args.report is not None:
        command = "physnet " + " ".join(sys.argv[1:]) if sys.argv[1:] else None
        page = write_report(args.out, args.report, command=command, overwrite=args.overwrite)
        echo(f"results page: {page}")
    return 0


def _make_system(args):
    import inspect

    from ._errors import ConfigError
    from .systems import system_class

    cls = system_class(args.system)
    accepted = inspect.signature(cls).parameters
    names = set(_system_parameters()) | set(accepted)
    given = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    extra = sorted(set(given) - set(accepted))
    if extra:
        flags = ", ".join("--" + e.replace("_", "-") for e in extra)
        raise ConfigError(f"{flags} do(es) not apply to --system {args.system}")
    try:
        return cls(**given)
    except ConfigError:
        raise
    except Exception as err:  # a user's constructor rejecting the values
        raise ConfigError(
            f"--system {args.system}: {type(err).__name__}: {' '.join(str(err).split())}"
        ) from None


def _cmd_simulate(args) -> int:
    import jax

    from ._errors import ConfigError, DataError
    from ._io import check_output
    from .data import generate, is_data_file

    system = _make_system(args)
    out = args.out if str(args.out).endswith(".npz") else str(args.out) + ".npz"
    check_output(out, "data", overwrite=args.overwrite, directory=False, recognise=is_data_file)
    if args.t1 <= 0:
        raise ConfigError(f"--t1 must be > 0, got {args.t1}")
    size = 3 * args.n_trajectories * args.n_points * 8 * 8  # states, derivatives, clean
    if size > _MAX_DATA_BYTES or args.n_trajectories * args.n_points * 100 > _MAX_SIM_STEPS:
        raise ConfigError(
            f"--n-trajectories {args.n_trajectories} x --n-points {args.n_points} is too large "
            f"(about {size / 2**30:.3g} GiB, {args.n_trajectories * args.n_points * 100:.3g} "
            "integrator steps); lower them"
        )
    k_data, k_noise = jax.random.split(jax.random.key(args.seed))
    try:
        data = generate(
            system,
            args.n_trajectories,
            args.t1,
            args.n_points,
            key=k_data,
            coordinates=args.coordinates,
        )
    except DataError as err:
        if "NaN" not in str(err) and "inf" not in str(err):
            raise
        h = args.t1 / max(args.n_points - 1, 1) / 100
        raise ConfigError(
            f"the simulation of {system} blew up (non-finite states): the RK4 step "
            f"--t1/(--n-points - 1)/100 = {h:.3g} is too large for this system or the "
            "trajectories leave its stable region; lower --t1 or raise --n-points"
        ) from None
    if args.noise > 0:
        data = data.with_noise(args.noise, key=k_noise)
    path = data.save(out, overwrite=args.overwrite)
    print(f"wrote {path}: {data.n_trajectories} trajectories x {data.n_times} times of {system}")
    return 0


#: ``physnet simulate`` refuses data sets larger than this (bytes) or this many RK4 steps
_MAX_DATA_BYTES = 4 * 2**30
_MAX_SIM_STEPS = 10**9

def _loss_flags() -> tuple[str, ...]:
    """The loss options ``physnet train`` has flags for: every field of every registered loss
    (:func:`_add_loss_flags`)."""
    import dataclasses

    from .training import LOSSES

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
            if param.kind is inspect.Parameter.KEYWORD_ONLY:
                out.setdefault(key, []).append((name, param))
    return out


def _model_flags() -> tuple[str, ...]:
    from .models import MODELS

    return (*_APPROXIMATOR_FLAGS, *_model_option_parameters(MODELS))


def _bool(text: str) -> bool:
    from ._errors import ConfigError

    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"expected true or false, got {text!r}")
    return value in ("true", "1", "yes")


def _add_model_flags(parser, models) -> None:
    """One flag per model option (a keyword-only parameter of a registered model's ``build``),
    generated from the signatures: type from the annotation, default and models in the
    help."""
    from ._build import PRESETS

    group = parser.add_argument_group("model options (--model ...)")
    for key, owners in _model_option_parameters(models).items():
        text = str(owners[0][1].annotation)
        kind = _bool if "bool" in text else _finite_float if "float" in text else str
        kind = _positive_int if "int" in text and kind is str else kind
        which = ", ".join(
            f"{n} (default {PRESETS.get(n, {}).get('model', {}).get(key, p.default)})"
            for n, p in owners
        )
        group.add_argument(
            "--" + key.replace("_", "-"), type=kind, default=None, help=f"--model {which}"
        )


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
    from .approximators._registry import approximator_builder
    from .models import model_class

    for flag, lookup in (("model", model_class), ("approximator", approximator_builder)):
        value = getattr(args, flag)
        if isinstance(value, str) and ":" in value:
            lookup(value)


def _cmd_train(args) -> int:
    from ._errors import ConfigError
    from .runs import resume_run, train_run

    if args.resume is not None:
        given = [f for f in ("data", "out") if getattr(args, f) is not None]
        if given:
            raise ConfigError(
                f"--resume RUN reads the run's own options; drop --{' --'.join(given)}"
            )
        _import_named_classes(args)
        out, metrics = resume_run(
            args.resume, steps=args.steps, progress=False if args.quiet else None
        )
        print(json.dumps(_shown(metrics, None) | {"out": str(out)}))
        return 0
    missing = [f"--{f}" for f in ("data", "out") if getattr(args, f) is None]
    if missing:
        raise ConfigError(f"train needs {' and '.join(missing)} (or --resume RUN)")
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
        options={k: getattr(args, k) for k in _model_flags()},
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
        progress=False if args.quiet else None,
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


def _shown(metrics: dict, ensemble) -> dict:
    from ._io import strict_json

    shown = {k: v for k, v in metrics.items() if k.endswith("mse") or k.endswith("mse_std")}
    if ensemble is not None:
        shown["ensemble"] = ensemble
    return strict_json(shown)[0]


def _cmd_evaluate(args) -> int:
    from ._errors import ConfigError
    from ._io import strict_json
    from .runs import evaluate_run

    for flag in ("model", "approximator"):
        if getattr(args, flag) is not None and ":" not in getattr(args, flag):
            raise ConfigError(
                f"evaluate --{flag} imports your own class for the checkpoint; write "
                f"package.module:Class (a registered {flag} needs no flag)"
            )
    _import_named_classes(args)
    _, metrics = evaluate_run(
        args.run,
        overwrite=args.overwrite,
        allow_other_system=args.allow_other_system,
        data=args.data,
        t1=args.t1,
        dt=args.dt,
        solver=args.solver,
        symbolic=args.symbolic,
        energy=args.energy,
        out=args.out,
        system=args.system,
    )
    print(
        json.dumps(strict_json({k: v for k, v in metrics.items() if not k.endswith("_members")})[0])
    )
    if "vector_field" in metrics:
        print(f"physnet evaluate: warning: {metrics['vector_field']}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def _describe_data(data) -> str:
    lengths = data.trajectory_lengths
    size = f"{data.n_trajectories} trajectories of {'/'.join(str(n) for n in lengths)} times"
    if data.n_trajectories == 1:
        size = f"1 trajectory of {lengths[0]} times"
    names = ", ".join(data.metadata.get("names", [])) or f"{data.state_size} components"
    return f"{size}, state ({names})"


def _cmd_import(args) -> int:
    from .data import from_table

    data = from_table(
        args.file,
        time=args.time,
        states=args.states,
        trial=args.trial,
        derivatives=args.derivatives,
        names=args.names,
        scale=args.scale,
        positions_only=args.positions_only,
    )
    if args.estimate_derivatives is not None:
        if data.has_derivatives:
            from ._errors import ConfigError

            raise ConfigError(
                "--estimate-derivatives and --derivatives both give dy/dt; choose one"
            )
        data = data.with_estimated_derivatives(args.estimate_derivatives)
    path = data.save(args.out, overwrite=args.overwrite)
    print(f"wrote {path}: {_describe_data(data)}")
    return 0


def _cmd_datasets(args) -> int:
    from . import datasets
    from ._errors import ConfigError

    if args.export is None:
        if args.out is not None:
            raise ConfigError("--out applies with --export NAME only")
        for name in datasets.names():
            d = datasets.info(name)
            prov = d["provenance"]
            print(
                f"{name}: {d['description']}; {d['trials']} trial(s), {d['rows']} rows, state "
                f"({', '.join(d['state'])}); {prov['file']} sha256 {prov['sha256'][:12]}..., "
                "Schmidt & Lipson, Science 2009"
            )
        return 0
    if args.out is None:
        raise ConfigError("--export needs --out FILE.npz")
    data = datasets.load(args.export)
    path = data.save(args.out, overwrite=args.overwrite)
    print(f"wrote {path}: {_describe_data(data)}")
    return 0


def _cmd_analyze(args) -> int:
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plotting
    from ._io import atomic_directory, check_output, strict_json, write_json
    from .analysis import analyze_run

    out = Path(args.out) if args.out else Path(args.run) / "ntk"
    check_output(out, "ntk analysis", overwrite=args.overwrite, inputs=[args.run])
    numbers = analyze_run(args.run, samples=args.samples)
    figures = {
        "spectrum": plotting.kernel_spectra(
            {
                f"{numbers['operator']} kernel": numbers["eigenvalues"],
                "plain output kernel": numbers["output_kernel"]["eigenvalues"],
            }
        ),
    }
    if "rollout_error_spectrum" in numbers:
        e = numbers["rollout_error_spectrum"]
        figures["error_spectrum"] = plotting.error_spectrum(
            {
                "rollout error": (e["frequencies"], e["error"]),
                "test signal": (e["frequencies"], e["reference"]),
            },
            xlabel="frequency (1 / time unit)",
        )
    with atomic_directory(out, "ntk analysis", overwrite=args.overwrite, inputs=[args.run]) as tmp:
        for name, fig in figures.items():
            fig.savefig(tmp / f"{name}.png", dpi=120)
            plt.close(fig)
        write_json(tmp / "ntk.json", numbers)
    summary = {
        k: numbers[k]
        for k in (
            "operator",
            "n_params",
            "n_samples",
            "decay_exponent",
            "condition_number",
            "effective_rank",
        )
    }
    summary["out"] = str(out)
    print(json.dumps(strict_json(summary)[0]))
    return 0


def _floats(text: str, what: str) -> list[float]:
    from ._errors import ConfigError

    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _is_comparison(path: Path) -> bool:
    """Whether ``path`` is a JSON file written by ``physnet compare``."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"settings", "summary", "rows"} <= set(data)


def _cmd_compare(args) -> int:
    from ._errors import ConfigError
    from ._io import check_output, write_json
    from .compare import compare, default_families, expression_task, file_task

    if args.out:
        check_output(
            args.out,
            "comparison",
            overwrite=args.overwrite,
            inputs=[args.data],
            directory=False,
            recognise=_is_comparison,
        )
    families = default_families()
    names = [n.strip() for n in args.approximators.split(",") if n.strip()]
    unknown = [n for n in names if n not in families]
    if unknown or not names:
        raise ConfigError(
            f"--approximators: unknown {unknown or names!r}; choose from {', '.join(families)}"
        )
    if args.expr is not None:
        task = expression_task(
            args.expr,
            [n.strip() for n in args.inputs.split(",")],
            low=_floats(args.low, "--low"),
            high=_floats(args.high, "--high"),
            n_train=args.n_train,
        )
    else:
        task = file_task(args.data, targets=args.targets, classification=args.classify)
    result = compare(
        task,
        {n: families[n] for n in names},
        match=args.match,
        budget=args.budget,
        seeds=args.seeds,
        steps=args.steps,
    )
    print(result.table())
    if args.out:
        write_json(args.out, result.to_dict())
    return 0


COMMANDS = {
    "compare": _cmd_compare,
    "import": _cmd_import,
    "datasets": _cmd_datasets,
    "reproduce": _cmd_reproduce,
    "simulate": _cmd_simulate,
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "analyze": _cmd_analyze,
}


_NUM = r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
#: a negative number, or a comma-separated list of numbers starting with a negative one
_NUMBER = re.compile(rf"^-{_NUM}(,-?{_NUM})*$|^-(inf|nan)$")


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--lr -1e-2`` as ``--lr=-1e-2`` (and ``--low -1,-2`` as ``--low=-1,-2``): argparse
    reads a negative number in exponent form, or a list starting with one, as an option; joined, it reaches the option's own check (and its one-line error)."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and _NUMBER.match(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``physnet`` console script.

    User errors print one line and exit 2; Ctrl-C prints one line and exits 130 (during
    training after saving the training state, so ``physnet train --resume RUN`` continues).
    """
    console = argv is None  # the console script, not a call from Python (tests)
    try:
        argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
        from ._errors import PhysnetError

        try:
            parser = build_parser(_user_system(argv))
        except PhysnetError as err:  # --system package.module:Class that does not import
            print(f"physnet simulate: error: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        try:
            args = parser.parse_args(argv)
        except _UsageError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        if console and not args.no_compilation_cache:
            from ._compilation_cache import enable_compilation_cache

            enable_compilation_cache()
        from ._errors import PhysnetError, TrainingInterrupted

        try:
            return COMMANDS[args.command](args)
        except TrainingInterrupted as err:
            print(f"physnet {args.command}: {err}", file=sys.stderr)
            return 130
        except PhysnetError as err:
            print(f"physnet {args.command}: error: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        except MemoryError:
            print(
                f"physnet {args.command}: error: out of memory; lower the sizes "
                "(--width, --n-trajectories, --t1/--dt)",
                file=sys.stderr,
            )
            return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("physnet: interrupted; nothing was left half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
