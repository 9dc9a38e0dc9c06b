"""Shared honesty rules for the benchmark scripts: machine load, interleaved repeats, spread.

Every benchmark script calls :func:`add_arguments` on its parser, :func:`start` after parsing
(reads the load average; refuses to run on a busy machine unless ``--force``, and then flags
the result as contended), times its candidates with :func:`interleave` (repeat r of every
candidate before repeat r + 1 of any, so load changes hit all alike) and :func:`spread`
(median and [min, max]), and calls :func:`finish` on its result dict before writing the JSON.
``run_all.py`` renders the ``"record"`` block (load, date, command, contended) in every row.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

#: refuse when the 1-minute load average per core is above this (unless --force)
MAX_LOAD_PER_CORE = 0.25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--force`` and ``--max-load`` (load average per core) to a benchmark's parser."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="run on a busy machine anyway; the result is flagged as contended",
    )
    parser.add_argument(
        "--max-load",
        type=float,
        default=MAX_LOAD_PER_CORE,
        help=f"largest 1-minute load average per core accepted (default {MAX_LOAD_PER_CORE})",
    )


def load() -> dict:
    """The load averages (1, 5, 15 min) and the number of cores."""
    one, five, fifteen = os.getloadavg()
    return {
        "load_1_5_15": [round(one, 2), round(five, 2), round(fifteen, 2)],
        "cpus": os.cpu_count(),
    }


#: share of the machine's CPU time that other processes may use during a run before the
#: result is flagged as contended
MAX_OTHER_CPU_SHARE = 0.1


_START: list = [None]


def _cpu_seconds() -> tuple[float, float, float]:
    """(wall clock, CPU seconds busy on the whole machine, CPU seconds of this process and its
    waited-for children); the machine's from /proc/stat (None where it is not readable)."""
    times = os.times()
    own = times.user + times.system + times.children_user + times.children_system
    busy = None
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    return time.perf_counter(), busy, own


def start(args: argparse.Namespace) -> dict:
    """Check the load before a benchmark; SystemExit on a busy machine without ``--force``.

    Returns the record to pass to :func:`finish`: date, command, machine, load at the start,
    and ``contended`` (True when the load per core exceeded ``--max-load``).
    """
    info = load()
    per_core = info["load_1_5_15"][0] / max(1, info["cpus"])
    contended = per_core > args.max_load
    if contended and not args.force:
        raise SystemExit(
            f"machine busy: 1-minute load {info['load_1_5_15'][0]} on {info['cpus']} cores "
            f"({per_core:.2f} per core > --max-load {args.max_load}); wait, or pass --force "
            "(the result is then flagged as contended)"
        )
    _START[0] = _cpu_seconds()
    return {
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.machine()}, {info['cpus']} cores",
        "load_start": info["load_1_5_15"],
        "contended": contended,
        "max_load_per_core": args.max_load,
    }


def finish(result: dict, record: dict, path: str | None = None) -> dict:
    """Add the record and, when ``path`` is given, write ``result`` there as JSON: the load at
    the end, and the share of the machine's CPU time that
    OTHER processes used during the run (``other_cpu_share``: machine busy time minus this
    process's and its children's, over wall time x cores); contended if that share exceeds
    ``MAX_OTHER_CPU_SHARE``. The load average at the end is not used for that: it counts the
    benchmark's own threads."""
    end = load()
    record = dict(record, load_end=end["load_1_5_15"])
    if _START[0] is not None:
        (w0, busy0, own0), (w1, busy1, own1) = _START[0], _cpu_seconds()
        if busy0 is not None and busy1 is not None and w1 > w0:
            share = max(0.0, (busy1 - busy0) - (own1 - own0)) / ((w1 - w0) * max(1, end["cpus"]))
            record["other_cpu_share"] = round(share, 3)
            if share > MAX_OTHER_CPU_SHARE:
                record["contended"] = True
    result["record"] = record
    if path:
        with open(path, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


def torch_available() -> bool:
    """Whether PyTorch (the ``peers`` extra) can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def interleave(
    candidates: dict[str, Callable[[], object]], repeats: int, pause: float = 1.0
) -> dict[str, list]:
    """Run every candidate once per repeat, in turn; the results per candidate. ``pause``
    seconds between runs let the previous candidate's worker threads go idle (PyTorch's
    OpenMP threads spin for a while after their last parallel region)."""
    out: dict[str, list] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            time.sleep(pause)
            out[name].append(fn())
    return out


def run_worker(script: str, *args: str) -> dict:
    """Run ``python script *args`` in a new process; the JSON object on its last stdout line."""
    cmd = [sys.executable, script, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values) -> dict:
    """``{"median", "min", "max", "all"}`` of a list of numbers."""
    values = [float(v) for v in values]
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "all": values,
    }


def text(s: dict, unit: str = " s", digits: int = 3) -> str:
    """``median [min, max]`` of a :func:`spread`."""
    return f"{s['median']:.{digits}g}{unit} [{s['min']:.{digits}g}, {s['max']:.{digits}g}]"
