"""``physnet simulate``: a trajectory data set from a registered system or the user's own
class, whose constructor parameters become flags."""

from __future__ import annotations

from ._types import (
    _OVERWRITE_HELP,
    _PATH_HELP,
    _bool,
    _Choices,
    _finite_float,
    _nonnegative_float,
    _positive_int,
    _seed,
)


def _system_parameters() -> dict[str, list[tuple[str, float]]]:
    """Every registered system's constructor parameters: ``{param: [(system, default)]}``."""
    from ..systems import SYSTEMS

    params: dict[str, list[tuple[str, float]]] = {}
    for name, cls in SYSTEMS.items():
        for param, default in cls.parameter_defaults().items():
            params.setdefault(param, []).append((name, default))
    return params


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

    from .._classpath import class_path
    from .._errors import ConfigError

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
    from ..systems import system_class

    return system_class(value)


def add_simulate_parser(sub, user_system=None) -> None:
    """``user_system``: a user's system class whose parameters ``simulate`` takes as flags
    (``--system package.module:Class``)."""
    from ..systems import SYSTEMS

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
    p.add_argument(
        "--input",
        default=None,
        metavar="EXPR|multisine|chirp",
        help="the input u(t) of a driven system ("
        + ", ".join(name for name, cls in SYSTEMS.items() if cls.input_size > 0)
        + "): a formula of t such as '0.5*sin(1.3*t)' (';' between channels), "
        "'multisine' (a random-phase multisine per trajectory from --seed, rms --input-rms, "
        "angular frequencies up to --input-frequency) or 'chirp' (0.2 to --input-frequency "
        "rad/s over --t1, amplitude --input-rms); evaluated exactly by the integrator",
    )
    p.add_argument("--input-rms", type=_finite_float, default=1.0, help="input size (default 1)")
    p.add_argument(
        "--input-frequency", type=_finite_float, default=3.0, help="band edge, rad/s (default 3)"
    )
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", required=True, help="output .npz file")
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)
    if user_system is not None:
        _add_user_system_flags(p, user_system)


def _make_system(args):
    import inspect

    from .._errors import ConfigError
    from ..systems import system_class

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

    from .._errors import ConfigError, NonFiniteError
    from .._io import check_output
    from ..data import generate, is_data_file
    from ._interrupt import exit_on_interrupt

    system = _make_system(args)
    out = _data_file_name(args.out)
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
    root = jax.random.key(args.seed)
    k_data, k_noise = jax.random.split(root)  # as before inputs existed: same data per seed
    k_input = jax.random.fold_in(root, 3)
    try:
        # one compiled solve: Ctrl-C must not wait for it (nothing is written before it ends)
        with exit_on_interrupt("simulate"):
            data = generate(
                system,
                args.n_trajectories,
                args.t1,
                args.n_points,
                key=k_data,
                coordinates=args.coordinates,
                inputs=_input(args, system, k_input),
            )
            if args.noise > 0:
                data = data.with_noise(args.noise, key=k_noise)
    except NonFiniteError:
        h = args.t1 / max(args.n_points - 1, 1) / 100
        raise ConfigError(
            f"the simulation of {system} blew up (non-finite states): the RK4 step "
            f"--t1/(--n-points - 1)/100 = {h:.3g} is too large for this system or the "
            "trajectories leave its stable region; lower --t1 or raise --n-points"
        ) from None
    path = data.save(out, overwrite=args.overwrite)
    print(f"wrote {path}: {data.n_trajectories} trajectories x {data.n_times} times of {system}")
    return 0


def _input(args, system, key):
    """The input signal(s) of ``--input`` (``None`` without)."""
    import jax

    from ..signals import Chirp, Expression, Multisine

    if args.input is None:
        return None
    m = max(system.input_size, 1)
    if args.input == "multisine":
        keys = jax.random.split(key, args.n_trajectories)
        return [
            Multisine.random(k, m, rms=args.input_rms, max_frequency=args.input_frequency)
            for k in keys
        ]
    if args.input == "chirp":
        return Chirp(args.input_rms, 0.2, args.input_frequency, args.t1, input_size=m)
    return Expression([f for f in args.input.split(";")])


def _data_file_name(out: str) -> str:
    """The ``.npz`` file ``--out`` names (``.npz`` added where missing).

    Raises:
        ConfigError: one line, for an empty name or one that names a folder (``dir/``,
            ``.``, ``..``, an existing folder), where a hidden ``.npz`` file would be written.
    """
    import os
    from pathlib import Path

    from .._errors import ConfigError

    text = str(out)
    if not text.strip():
        raise ConfigError("--out is empty; name the .npz data file to write")
    name = Path(text).name
    if text.endswith((os.sep, "/")) or name in ("", ".", "..", ".npz") or os.path.isdir(text):
        raise ConfigError(
            f"--out {text} names a folder, not a data file; give a file name, e.g. "
            f"--out {os.path.join(text, 'data.npz')}"
        )
    return text if text.endswith(".npz") else text + ".npz"


#: ``physnet simulate`` refuses data sets larger than this (bytes) or this many RK4 steps
_MAX_DATA_BYTES = 4 * 2**30
_MAX_SIM_STEPS = 10**9
