"""``physnet select``: rank the candidate structures on a data file's training part."""

from __future__ import annotations

import functools
import json
import sys


def add_select_parser(sub) -> None:
    from ..approximators import APPROXIMATORS
    from ..runs import CANDIDATES, SPLITS
    from ._train import _scale, _seed
    from ._types import _PATH_HELP, _Choices, _finite_float, _positive_int

    p = sub.add_parser(
        "select",
        help="fit the candidate structures that apply to a data file and rank them by "
        "forecast error on a validation part (what train --model auto does; writes nothing)",
    )
    p.add_argument("--data", required=True, help="data file (.npz)")
    p.add_argument(
        "--candidates",
        default=None,
        metavar="A,B,...",
        help=f"the structures to try (default all that apply: {', '.join(c[0] for c in CANDIDATES)})",
    )
    p.add_argument(
        "--approximator",
        default="mlp",
        choices=_Choices(APPROXIMATORS),
        help=f"the approximator of every candidate (default mlp), {_PATH_HELP}",
    )
    p.add_argument("--width", type=_positive_int, default=None, help="MLP width (default 32)")
    p.add_argument(
        "--depth", type=_positive_int, default=None, help="MLP hidden layers (default 2)"
    )
    p.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="optimizer steps per candidate (default: the recipe's)",
    )
    p.add_argument("--scale", default="auto", type=_scale, help="as for train (default auto)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the splits and models")
    p.add_argument("--split", default="auto", choices=list(SPLITS), help="as for train")
    p.add_argument(
        "--train-fraction", type=_finite_float, default=0.8, help="as for train (default 0.8)"
    )
    p.add_argument(
        "--quiet", action="store_true", help="print only the table (no line per candidate)"
    )


def _cmd_select(args) -> int:
    from .._errors import ConfigError
    from ..runs import CANDIDATES, select_for_file
    from ._train import _print_candidate, print_selection

    candidates = CANDIDATES
    if args.candidates is not None:
        known = {c[0]: c for c in CANDIDATES}
        names = [n.strip() for n in args.candidates.split(",")]
        bad = [n for n in names if n not in known]
        if bad or not names:
            raise ConfigError(
                f"--candidates: unknown structure(s) {', '.join(bad) or '(none)'}; choose from "
                f"{', '.join(known)}"
            )
        candidates = tuple(known[n] for n in dict.fromkeys(names))
    options = {k: getattr(args, k) for k in ("width", "depth") if getattr(args, k) is not None}
    selection = select_for_file(
        args.data,
        approximator=args.approximator,
        options=options,
        scale=args.scale,
        steps=args.steps,
        seed=args.seed,
        split=args.split,
        train_fraction=args.train_fraction,
        candidates=candidates,
        report=None if args.quiet else functools.partial(_print_candidate, command="select"),
    )
    print_selection(selection.to_json(), command="select")
    print(json.dumps({"chosen": selection.best.label, "model": selection.best.model}))
    sys.stdout.flush()
    return 0
