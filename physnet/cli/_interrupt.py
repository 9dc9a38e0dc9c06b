"""Ctrl-C inside one long compiled call (``physnet simulate``'s solve).

Python runs a signal handler only when the main thread returns to the interpreter, so a
Ctrl-C pressed while XLA runs one compiled program (a simulation is a single solve) would wait
for the whole program. :func:`exit_on_interrupt` lets the C-level handler write the signal
number to a pipe (``signal.set_wakeup_fd``) that a watcher thread reads: on SIGINT or SIGTERM
it prints one line and ends the process at once. It wraps computation only, never a write, so
nothing is left half-written.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

#: the exit status of a command stopped by Ctrl-C (128 + SIGINT), as ``main`` returns
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def exit_on_interrupt(command: str, message: str = "interrupted; nothing was written"):
    """While active, Ctrl-C or SIGTERM ends the process at once with ``physnet COMMAND:
    MESSAGE`` and exit status 130, even inside a compiled call. Outside the main thread (or
    where the platform has no wakeup fd) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous_handlers = {}
    try:
        previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except (ValueError, OSError):  # not the main interpreter, or no wakeup fd here
        os.close(read_fd)
        os.close(write_fd)
        yield
        return
    # set_wakeup_fd writes only for signals that have a Python handler
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous_handlers[sig] = signal.getsignal(sig)
        signal.signal(sig, lambda signum, frame: None)
    done = threading.Event()

    def watch() -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if done.is_set() or not data:
                return
            if signal.SIGINT in data or signal.SIGTERM in data:
                try:
                    print(f"physnet {command}: {message}", file=sys.stderr, flush=True)
                finally:
                    os._exit(EXIT_INTERRUPTED)

    watcher = threading.Thread(target=watch, name="physnet-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        os.write(write_fd, b"\0")  # wake the watcher, which sees `done` and returns
        watcher.join(timeout=5)
        os.close(write_fd)
        os.close(read_fd)
