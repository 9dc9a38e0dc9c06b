"""``main``: the ``physnet`` console script, from the command line to one command."""

from __future__ import annotations

import re
import sys

from ._analysis import _cmd_analyze, _cmd_compare
from ._data import _cmd_datasets, _cmd_import
from ._evaluate import _cmd_evaluate
from ._launch import _cmd_launch
from ._parser import build_parser
from ._reproduce import _cmd_reproduce
from ._select import _cmd_select
from ._simulate import _cmd_simulate, _user_system
from ._train import _cmd_train
from ._types import EXIT_USER_ERROR, _UsageError

COMMANDS = {
    "compare": _cmd_compare,
    "import": _cmd_import,
    "datasets": _cmd_datasets,
    "reproduce": _cmd_reproduce,
    "simulate": _cmd_simulate,
    "train": _cmd_train,
    "select": _cmd_select,
    "evaluate": _cmd_evaluate,
    "analyze": _cmd_analyze,
    "launch": _cmd_launch,
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
        from .._errors import PhysnetError

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
            from .._compilation_cache import enable_compilation_cache

            enable_compilation_cache()
        from .._errors import PhysnetError, TrainingInterrupted

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
        except OSError as err:  # the file system or the operating system refused
            print(f"physnet {args.command}: error: {_os_error(err)}", file=sys.stderr)
            return EXIT_USER_ERROR
    except KeyboardInterrupt:
        import signal

        # a third Ctrl-C must not cut the line; the handler is put back afterwards, so that
        # main() called inside a longer-lived process (a test, a notebook) leaves Ctrl-C
        # working there (the console script ignores it from here until the process exits)
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            print("physnet: interrupted; nothing was left half-written", file=sys.stderr)
        finally:
            signal.signal(signal.SIGINT, previous)
        return 130


def _os_error(err: OSError) -> str:
    """One line for an OSError: the path(s) it names and :func:`physnet._io.path_problem`'s
    phrase, the shape of physnet's other path errors."""
    from .._io import path_problem

    paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
    problem = " ".join(path_problem(err).split())
    return f"{' -> '.join(paths)}: {problem}" if paths else problem
