"""``physnet launch -n N -- COMMAND ...``: N processes of a distributed run on this machine.

Each process gets ``JAX_COORDINATOR_ADDRESS`` (localhost and a free port),
``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (read by ``physnet train --distributed`` and
:func:`physnet.training.init_distributed`). When one process fails the others are stopped
(SIGTERM, then SIGKILL); Ctrl-C is forwarded to all of them.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

from ._types import EXIT_USER_ERROR, _positive_int


def free_port() -> int:
    """A TCP port free on localhost now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(procs, grace: float = 5.0) -> None:
    """SIGTERM every running process, SIGKILL those still running after ``grace`` s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    end = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_local(
    n: int,
    command: Sequence[str],
    *,
    timeout: float | None = None,
    env: dict | None = None,
    grace: float = 10.0,
    say=None,
    **popen,
) -> list[int]:
    """Run ``command`` as processes ``0 .. n - 1`` of a distributed run on localhost.

    Args:
        n: the number of processes.
        command: the argument list each process runs.
        timeout: seconds after which all still running are killed (their code then -9).
        env: the environment (default ``os.environ``), plus the three ``JAX_*`` variables.
        grace: seconds the others may take to stop on their own once one failed (a peer's
            error reaches them within the heartbeat timeout), before they are killed.
        say: called with one line when a process fails (default: print it on stderr).
        popen: passed to ``subprocess.Popen`` (e.g. ``stdout``).

    Returns:
        the exit codes, by process id.
    """
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    base = dict(os.environ if env is None else env)
    base["JAX_COORDINATOR_ADDRESS"] = f"localhost:{free_port()}"
    base["JAX_NUM_PROCESSES"] = str(n)
    procs = []
    try:
        for i in range(n):
            procs.append(
                # own session: a terminal's Ctrl-C reaches the launcher only, which forwards
                # it once (a second SIGINT would stop a process before it saves)
                subprocess.Popen(
                    list(command),
                    env=base | {"JAX_PROCESS_ID": str(i)},
                    start_new_session=True,
                    **popen,
                )
            )
        end = None if timeout is None else time.monotonic() + timeout
        failed = None
        while any(p.poll() is None for p in procs):
            if failed is None:
                failed = next((i for i, p in enumerate(procs) if p.poll() not in (None, 0)), None)
                if failed is not None:
                    say(
                        f"physnet launch: process {failed} exited with code "
                        f"{procs[failed].returncode}; stopping the others"
                    )
                    end = min(end or float("inf"), time.monotonic() + grace)
            if end is not None and time.monotonic() > end:
                if failed is None:
                    say(f"physnet launch: timed out after {timeout} s; stopping all processes")
                _stop(procs, grace=0.0)
                break
            time.sleep(0.05)
        if failed is None:  # all ended between two polls: name the likeliest first failure
            codes = [p.returncode for p in procs]
            bad = sorted((c >= 0, i) for i, c in enumerate(codes) if c not in (None, 0))
            if bad:  # a process killed by a signal (code < 0) before one that stopped on its own
                i = bad[0][1]
                say(
                    f"physnet launch: process {i} exited with code {codes[i]}; the others ended too"
                )
    except KeyboardInterrupt:  # forwarded: each saves its training state and stops
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        _stop_after(procs, grace)
        raise
    except BaseException:
        _stop(procs, grace=0.0)
        raise
    return [p.returncode for p in procs]


def _stop_after(procs, grace: float) -> None:
    end = time.monotonic() + grace
    while any(p.poll() is None for p in procs) and time.monotonic() < end:
        time.sleep(0.05)
    _stop(procs, grace=0.0)


def add_launch_parser(sub) -> None:
    p = sub.add_parser(
        "launch",
        help="run N processes of a distributed command on this machine (physnet launch -n 2 "
        "-- train --data D --out RUN)",
    )
    p.add_argument("-n", type=_positive_int, required=True, help="number of processes")
    p.add_argument(
        "--timeout",
        type=_positive_int,
        default=None,
        metavar="S",
        help="kill every process after S seconds (default: none)",
    )
    p.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="a physnet command and its flags, after --; train gets --distributed",
    )


def _cmd_launch(args) -> int:
    from .._errors import ConfigError

    rest = list(args.rest)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if not rest:
        raise ConfigError("launch needs a command after --, e.g. physnet launch -n 2 -- train ...")
    if rest[0] != "train":  # N copies of any other command would write the same outputs
        raise ConfigError(
            f"launch runs train across processes (physnet launch -n 2 -- train ...); "
            f"{rest[0]!r} is not a command that runs distributed"
        )
    if "--distributed" not in rest:
        rest.insert(1, "--distributed")
    codes = run_local(args.n, [sys.executable, "-m", "physnet.cli", *rest], timeout=args.timeout)
    bad = [c for c in codes if c != 0]
    if not bad:
        return 0
    return 130 if 130 in bad else (bad[0] if bad[0] > 0 else EXIT_USER_ERROR)
