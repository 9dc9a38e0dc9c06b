"""``physnet evaluate``: roll a trained run out and report its metrics."""

from __future__ import annotations

import json
import sys

from ._train import _import_named_classes
from ._types import _OVERWRITE_HELP, EXIT_USER_ERROR, _positive_float


def add_evaluate_parser(sub) -> None:
    from ..evaluation import SOLVERS

    p = sub.add_parser("evaluate", help="roll a trained model out and report metrics")
    p.add_argument("--run", required=True, help="run directory from `physnet train`")
    p.add_argument("--data", default=None, help="data file (default: the run's test split)")
    p.add_argument(
        "--t1",
        type=_positive_float,
        default=None,
        help="rollout horizon for data of a known system (default 100); measured data are "
        "rolled out over their recorded times",
    )
    p.add_argument("--dt", type=_positive_float, default=0.01, help="integrator step")
    p.add_argument("--solver", default="rk4", choices=list(SOLVERS))
    p.add_argument(
        "--energy",
        default=None,
        metavar="EXPR",
        help='an energy formula in the state\'s names (e.g. "2.4*(1-cos(theta))+omega**2"; '
        "numbers, names, pi, E, + - * / **, sin cos exp log sqrt ...; never run as Python); "
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


def _cmd_evaluate(args) -> int:
    from .._errors import ConfigError
    from .._io import strict_json
    from ..runs import evaluate_run
    from ..runs._summary import evaluation_summary

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
    print(evaluation_summary(metrics, metrics.get("state_names")), file=sys.stderr)
    for warning in metrics.get("warnings", []):
        print(f"physnet evaluate: warning: {warning}", file=sys.stderr)
    if "vector_field" in metrics:
        print(f"physnet evaluate: warning: {metrics['vector_field']}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0
