"""The ``physnet`` argument parser, from each command's ``add_*_parser``."""

from __future__ import annotations

import argparse

from ._analysis import add_analyze_parser, add_compare_parser
from ._data import add_datasets_parser, add_import_parser
from ._evaluate import add_evaluate_parser
from ._launch import add_launch_parser
from ._reproduce import add_reproduce_parser
from ._select import add_select_parser
from ._simulate import add_simulate_parser
from ._train import add_train_parser
from ._types import _Parser


def build_parser(user_system=None) -> argparse.ArgumentParser:
    """Build the ``physnet`` argument parser with all its subcommands.

    The argument parser; ``user_system``: a user's system class whose parameters
    ``simulate`` takes as flags (``--system package.module:Class``)."""
    parser = _Parser(prog="physnet", description="Physics-informed dynamics identification.")
    parser.add_argument(
        "--no-compilation-cache",
        action="store_true",
        help="compile from scratch: do not read or write JAX's persistent compilation cache "
        "(default: on, in ~/.cache/physnet or $PHYSNET_CACHE_DIR; also off with "
        "PHYSNET_COMPILATION_CACHE=0)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    add_reproduce_parser(sub)
    add_simulate_parser(sub, user_system)
    add_train_parser(sub)
    add_select_parser(sub)
    add_import_parser(sub)
    add_datasets_parser(sub)
    add_evaluate_parser(sub)
    add_analyze_parser(sub)
    add_compare_parser(sub)
    add_launch_parser(sub)
    return parser
