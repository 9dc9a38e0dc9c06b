"""``physnet train --distributed``: its flags, and the start of a distributed run."""

from __future__ import annotations

from ._types import _nonnegative_int, _positive_int

#: the flags of a distributed run (accepted with --resume too)
DISTRIBUTED_FLAGS = (
    "--distributed",
    "--coordinator",
    "--num-processes",
    "--process-id",
    "--init-timeout",
    "--heartbeat-timeout",
)


def add_distributed_flags(p) -> None:
    from ..training._distributed import DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_INIT_TIMEOUT

    p.add_argument(
        "--distributed",
        action="store_true",
        help="one process of a distributed run (jax.distributed): a single model trains data "
        "parallel, an --ensemble member parallel; process 0 writes the run. Settings from the "
        "flags below, else JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID "
        "(set by physnet launch), else SLURM's variables",
    )
    p.add_argument("--coordinator", default=None, metavar="HOST:PORT", help="process 0's address")
    p.add_argument("--num-processes", type=_positive_int, default=None, metavar="N")
    p.add_argument("--process-id", type=_nonnegative_int, default=None, metavar="I")
    p.add_argument(
        "--init-timeout",
        type=_positive_int,
        default=DEFAULT_INIT_TIMEOUT,
        metavar="S",
        help=f"seconds to wait for every process to join (default {DEFAULT_INIT_TIMEOUT})",
    )
    p.add_argument(
        "--heartbeat-timeout",
        type=_positive_int,
        default=DEFAULT_HEARTBEAT_TIMEOUT,
        metavar="S",
        help="seconds without news from a process after which the others stop (default "
        f"{DEFAULT_HEARTBEAT_TIMEOUT})",
    )


def start_distributed(args):
    """The global mesh of a ``--distributed`` run (None without the flag), after connecting
    to the other processes; the distributed flags without ``--distributed`` are refused."""
    from .._errors import ConfigError

    given = [f for f in ("coordinator", "num_processes", "process_id") if getattr(args, f)]
    if not args.distributed:
        if given:
            raise ConfigError(f"--{given[0].replace('_', '-')} applies to --distributed runs only")
        return None
    from ..training import global_mesh, init_distributed

    init_distributed(
        args.coordinator,
        args.num_processes,
        args.process_id,
        timeout=args.init_timeout,
        heartbeat_timeout=args.heartbeat_timeout,
    )
    return global_mesh()
