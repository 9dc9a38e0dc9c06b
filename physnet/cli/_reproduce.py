"""``physnet reproduce``: the source's experiments."""

from __future__ import annotations

import sys
from pathlib import Path

from ._types import _OVERWRITE_HELP


def add_reproduce_parser(sub) -> None:
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


def _cmd_reproduce(args) -> int:
    import matplotlib

    from ..reproduce import parse_experiments, reproduce

    matplotlib.use("Agg")  # a batch job writing PNG files: no window (never selected on import)
    from .._errors import ConfigError
    from .._io import check_output
    from ..reproduce import write_report

    names = parse_experiments(args.experiments)
    if args.report is not None and str(args.report).strip():
        report, out = Path(args.report).resolve(), Path(args.out).resolve()
        if report == out or out in report.parents:
            raise ConfigError(
                f"--report {args.report} is inside --out {args.out}, which holds only the "
                "experiments' folders; write the results page elsewhere (nothing was written)"
            )
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
