"""The ``physnet`` console script's entry point, outside the package on purpose.

``import physnet`` takes seconds (JAX, Flax, Optax, Diffrax), and it runs before the command's
own Ctrl-C handling in :func:`physnet.cli.main` exists. A console script naming
``physnet.cli:main`` imports the package first, outside any handler, so a Ctrl-C pressed while
it loaded printed a ``KeyboardInterrupt`` traceback. This module imports nothing heavy: it
imports the command inside a handler, so Ctrl-C at any moment prints one line and exits 130
(nothing has been written before the command starts).
"""

from __future__ import annotations

import signal
import sys

#: the exit status of a command stopped by Ctrl-C (128 + SIGINT), as physnet.cli's
EXIT_INTERRUPTED = 130


def main() -> int:
    """Run the ``physnet`` command (:func:`physnet.cli.main`); Ctrl-C while physnet loads, or
    any Ctrl-C the command let through, prints one line and returns 130."""
    try:
        from physnet.cli import main as physnet_main

        code = physnet_main()
        if code == EXIT_INTERRUPTED:  # the process only exits from here: a further Ctrl-C
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # must not print a traceback
        return code
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl-C must not cut the line
        print("physnet: interrupted; nothing was written", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
