"""Training across processes (and hosts) with ``jax.distributed``: start, mesh, data shares.

Multi-controller JAX: every process runs the same program; :func:`init_distributed` connects
them (before any computation), :func:`global_mesh` lays one mesh axis over every process's
devices, and :func:`physnet.fit` / :func:`physnet.fit_ensemble` given that mesh train data
parallel (each process passes its share of the trajectories, :func:`local_share`; parameters
replicated; XLA all-reduces the gradient) or, for an ensemble, member parallel. Collectives
run over gloo on CPU and NCCL on GPU (JAX's defaults). Arrays sharded over processes come back
to every process with :func:`to_host` (a collective: every process calls it at the same
point); only process 0 writes files (:func:`is_writer`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping

import jax
import numpy as np

from .._checks import integer
from .._errors import ConfigError, DistributedError

#: seconds a process waits for all the others to join (``jax.distributed.initialize``)
DEFAULT_INIT_TIMEOUT = 60
#: seconds without a heartbeat after which a process counts as dead
DEFAULT_HEARTBEAT_TIMEOUT = 30


def distributed_settings(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str | None, int, int]:
    """``(coordinator, num_processes, process_id)`` of this process: the arguments given, else
    the environment: ``JAX_COORDINATOR_ADDRESS`` (the variable ``jax.distributed`` reads),
    ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (set by ``physnet launch``), else SLURM's
    ``SLURM_NTASKS`` and ``SLURM_PROCID`` (the coordinator then None: JAX derives it from
    ``SLURM_STEP_NODELIST`` and ``SLURM_JOB_ID``).

    Raises:
        ConfigError: a count or id missing or not an integer, or an id out of range.
    """
    env = os.environ if environ is None else environ
    coordinator = coordinator or env.get("JAX_COORDINATOR_ADDRESS") or None

    def pick(value, names: tuple[str, ...], what: str, flag: str) -> int:
        if value is None:
            for name in names:
                if env.get(name, "") != "":
                    value = env[name]
                    try:
                        value = int(value)
                    except ValueError:
                        raise ConfigError(
                            f"distributed: {name}={env[name]!r} is not an integer"
                        ) from None
                    break
        if value is None:
            raise ConfigError(
                f"distributed: the {what} is not known; pass --{flag} or set "
                f"{' or '.join(names)} (physnet launch and SLURM's srun set them)"
            )
        return value

    count = pick(
        num_processes, ("JAX_NUM_PROCESSES", "SLURM_NTASKS"), "number of processes", "num-processes"
    )
    index = pick(process_id, ("JAX_PROCESS_ID", "SLURM_PROCID"), "process id", "process-id")
    integer("distributed", "num_processes", count, low=1)
    integer("distributed", "process_id", index, low=0, high=count - 1)
    if coordinator is None and count > 1 and "SLURM_JOB_ID" not in env:
        raise ConfigError(
            "distributed: no coordinator address; pass --coordinator HOST:PORT or set "
            "JAX_COORDINATOR_ADDRESS (process 0's host and a free port)"
        )
    return coordinator, count, index


def init_distributed(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    timeout: int = DEFAULT_INIT_TIMEOUT,
    heartbeat_timeout: int = DEFAULT_HEARTBEAT_TIMEOUT,
) -> tuple[int, int]:
    """Connect this process to the others of a distributed run (``jax.distributed``).

    Call it first, before any JAX computation. The settings come from the arguments or the
    environment (:func:`distributed_settings`). A single process (``num_processes=1``) starts
    nothing. On CPU the collectives run over gloo (set here: ``jax_cpu_collectives_
    implementation``), on GPU over NCCL.

    Args:
        coordinator: ``HOST:PORT`` of process 0 (it starts the coordination service there).
        num_processes, process_id: the number of processes and this one's index (0-based).
        timeout: seconds to wait for every process to join; then this process prints one
            line naming what is missing and exits with code 3 (JAX itself would abort it with
            pages of log a moment later).
        heartbeat_timeout: seconds without news from a process after which the others stop.

    Returns:
        ``(process_id, num_processes)``.
    """
    coordinator, count, index = distributed_settings(coordinator, num_processes, process_id)
    integer("init_distributed", "timeout", timeout, low=1)
    integer("init_distributed", "heartbeat_timeout", heartbeat_timeout, low=1)
    if count == 1:
        return 0, 1
    if jax.distributed.is_initialized():
        return jax.process_index(), jax.process_count()
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    missing = (
        f"distributed: process {index} of {count} waited {timeout} s for the others at "
        f"{coordinator} and not all of them joined (is every process started, with the same "
        "coordinator and process count?)"
    )
    # JAX aborts the process (pages of C++ log) when the others do not join in time: one
    # line first, a moment before JAX's own deadline
    watchdog = threading.Timer(timeout, exit_now, (f"physnet: error: {missing}", 3))
    watchdog.daemon = True
    watchdog.start()
    try:
        jax.distributed.initialize(
            coordinator,
            count,
            index,
            initialization_timeout=int(timeout) + 10,
            heartbeat_timeout_seconds=int(heartbeat_timeout),
            shutdown_timeout_seconds=int(heartbeat_timeout),
        )
    except RuntimeError as err:  # before any computation, or the backend was started
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        if "DEADLINE_EXCEEDED" in text or "deadline" in text.lower():
            raise DistributedError(missing) from None
        raise DistributedError(f"distributed: process {index} of {count}: {text}") from None
    finally:
        watchdog.cancel()
    return index, count


def global_mesh(axis: str = "data"):
    """A one-axis ``jax.sharding.Mesh`` over the devices of every process.

    Its devices are ``jax.devices()``, its axis type ``Auto`` (XLA places the collectives)."""
    from jax.sharding import AxisType

    return jax.make_mesh((jax.device_count(),), (axis,), axis_types=(AxisType.Auto,))


def spans_processes(mesh) -> bool:
    """Whether ``mesh`` holds devices of other processes."""
    me = jax.process_index()
    return any(d.process_index != me for d in np.asarray(mesh.devices).flat)


def is_writer() -> bool:
    """Whether this process writes files (checkpoints, run directories): process 0."""
    return jax.process_index() == 0


def local_share(data, process_id: int | None = None, num_processes: int | None = None):
    """This process's share of the trajectories ``data`` (:class:`~physnet.Trajectories`).

    Trajectories ``[i * n / P, (i + 1) * n / P)`` for process ``i`` of ``P`` (default: this
    process of this run). The shares of processes ``0 .. P - 1`` concatenated are ``data``.

    Raises:
        ConfigError: when the trajectories do not divide evenly over the processes.
    """
    index = jax.process_index() if process_id is None else process_id
    count = jax.process_count() if num_processes is None else num_processes
    n = data.n_trajectories
    if n % count:
        raise ConfigError(
            f"distributed: {n} trajectories do not divide evenly over {count} processes; "
            "drop or add trajectories so they do"
        )
    size = n // count
    return data.take(np.arange(index * size, (index + 1) * size))


def to_host(tree):
    """``tree`` as NumPy arrays on this process: an array sharded over processes is gathered
    (``process_allgather``; a collective, so every process calls this at the same point),
    a replicated or local one copied."""

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
            from jax.experimental import multihost_utils

            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                data = multihost_utils.process_allgather(jax.random.key_data(x), tiled=True)
                return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
            return multihost_utils.process_allgather(x, tiled=True)
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return x
        return np.asarray(x)

    return jax.tree.map(one, tree)


def global_samples(mesh, axis: str, batch):
    """The global batch of the processes' local ``batch`` es (each process's sample arrays),
    concatenated in process order and sharded over ``axis``
    (``jax.make_array_from_process_local_data``)."""
    from jax.experimental import multihost_utils
    from jax.sharding import NamedSharding, PartitionSpec

    from ._step import n_samples

    n = n_samples(batch)
    counts = np.asarray(multihost_utils.process_allgather(np.asarray(n))).ravel()
    if len(set(counts.tolist())) != 1:
        raise ConfigError(
            "distributed: the processes hold different numbers of samples "
            f"({', '.join(str(int(c)) for c in counts)}); give each an equal share "
            "(physnet.training.local_share)"
        )
    sharding = NamedSharding(mesh, PartitionSpec(axis))
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch
    )


#: words of the runtime errors of a collective whose peer is gone
_PEER_LOST = ("Gloo", "gloo", "NCCL", "Connection reset", "UNAVAILABLE", "heartbeat", "DEADLINE")


def exit_now(line: str, code: int) -> None:
    """Print ``line`` on stderr and end this process at once (``os._exit``): a distributed
    run that lost a peer cannot pass JAX's shutdown barrier, which would otherwise abort the
    process with pages of log after the line."""
    import sys

    print(line, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(code)


@contextlib.contextmanager
def peer_lost(step: int):
    """Turn the runtime error of a collective whose peer died (gloo: connection reset; NCCL:
    a timeout) into one line, :class:`~physnet.DistributedError`, in a distributed run."""
    try:
        yield
    except (jax.errors.JaxRuntimeError, ValueError) as err:  # process_allgather: ValueError
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if jax.process_count() == 1 or not any(w in text for w in _PEER_LOST):
            raise
        raise DistributedError(
            f"distributed: process {jax.process_index()} of {jax.process_count()} lost a peer "
            f"after step {step} ({text[:160]}); it stops too: resume from the last training "
            "checkpoint"
        ) from None


def put(tree, sharding):
    """``jax.device_put(tree, sharding)``; for a sharding over several processes, each
    process places its own parts of the (identical) host values
    (``jax.make_array_from_callback``; PRNG keys through their key data)."""
    if sharding.is_fully_addressable:
        return jax.device_put(tree, sharding)

    def one(x):
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = one(jax.random.key_data(x))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return jax.device_put(x, sharding)  # already global: XLA reshards
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree)
