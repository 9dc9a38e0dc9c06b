"""``physnet import`` (measured trajectories from a table) and ``physnet datasets`` (the
shipped records)."""

from __future__ import annotations

from ._types import _OVERWRITE_HELP


def add_import_parser(sub) -> None:
    from ..data import FD_METHODS
    from ..signals import INTERPOLATIONS

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
    p.add_argument(
        "--inputs", default=None, metavar="COL,...", help="measured input columns u (torque, ...)"
    )
    p.add_argument(
        "--input-interpolation",
        default="linear",
        choices=INTERPOLATIONS,
        help="the inputs between samples: zoh (held), linear (default), cubic",
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
        choices=FD_METHODS,
        help="estimate dy/dt from the states on the recorded times (central: second order, "
        "exact for quadratics on non-uniform grids; forward: as the HNN paper does)",
    )
    p.add_argument("--out", required=True, help="output .npz file")
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)


def add_datasets_parser(sub) -> None:
    p = sub.add_parser("datasets", help="list the measured data sets shipped with physnet")
    p.add_argument("--export", default=None, metavar="NAME", help="write data set NAME as .npz")
    p.add_argument("--out", default=None, help="output .npz file (with --export)")
    p.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)


def _describe_data(data) -> str:
    lengths = data.trajectory_lengths
    size = f"{data.n_trajectories} trajectories of {'/'.join(str(n) for n in lengths)} times"
    if data.n_trajectories == 1:
        size = f"1 trajectory of {lengths[0]} times"
    names = ", ".join(data.metadata.get("names", [])) or f"{data.state_size} components"
    inputs = f", {data.input_size} input(s)" if data.input_size else ""
    return f"{size}, state ({names}){inputs}"


def _cmd_import(args) -> int:
    from ..data import from_table

    data = from_table(
        args.file,
        time=args.time,
        states=args.states,
        trial=args.trial,
        derivatives=args.derivatives,
        names=args.names,
        scale=args.scale,
        positions_only=args.positions_only,
        inputs=args.inputs,
        input_interpolation=args.input_interpolation,
    )
    if args.estimate_derivatives is not None:
        if data.has_derivatives:
            from .._errors import ConfigError

            raise ConfigError(
                "--estimate-derivatives and --derivatives both give dy/dt; choose one"
            )
        data = data.with_estimated_derivatives(args.estimate_derivatives)
    path = data.save(args.out, overwrite=args.overwrite)
    print(f"wrote {path}: {_describe_data(data)}")
    return 0


def _cmd_datasets(args) -> int:
    from .. import datasets
    from .._errors import ConfigError

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
