"""``physnet analyze`` (NTK spectra of a run) and ``physnet compare`` (approximators on the
user's function)."""

from __future__ import annotations

import json
from pathlib import Path

from ._types import _OVERWRITE_HELP, _Parser, _positive_float, _positive_int


def add_analyze_parser(sub) -> None:
    p = sub.add_parser("analyze", help="analyses of a trained run (ntk: tangent kernel spectra)")
    what = p.add_subparsers(dest="analysis", required=True, parser_class=_Parser)
    q = what.add_parser("ntk", help="NTK spectrum of the run's loss operator, as JSON and PNG")
    q.add_argument("--run", required=True, help="run directory from `physnet train`")
    q.add_argument("--out", default=None, help="output directory (default RUN/ntk)")
    q.add_argument(
        "--samples", type=_positive_int, default=400, help="most training states in the kernel"
    )
    q.add_argument("--overwrite", action="store_true", help=_OVERWRITE_HELP)


def add_compare_parser(sub) -> None:
    from ..compare import MATCHES

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
    src.add_argument(
        "--expr",
        help="a formula of the inputs, e.g. 'x*y' (numbers, names, pi, E, + - * / **, sin cos "
        "exp log sqrt ...; never run as Python)",
    )
    src.add_argument("--data", help=".npz (arrays x, y[, x_test, y_test]) or .csv table")
    p.add_argument("--inputs", default="x", help="--expr: comma-separated input names")
    p.add_argument("--low", default="-1", help="--expr: box lower corner, one per input")
    p.add_argument("--high", default="1", help="--expr: box upper corner, one per input")
    p.add_argument("--n-train", type=_positive_int, default=200, help="--expr: samples")
    p.add_argument("--targets", type=_positive_int, default=1, help="--data .csv: last N columns")
    p.add_argument("--classify", action="store_true", help="--data: targets are class labels")
    p.add_argument("--match", choices=MATCHES, default="params")
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


def _cmd_analyze(args) -> int:
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import plotting
    from .._io import atomic_directory, check_output, strict_json, write_json
    from ..analysis import analyze_run

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
    from .._errors import ConfigError

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
    from .._errors import ConfigError
    from .._io import check_output, write_json
    from ..compare import compare, default_families, expression_task, file_task

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
