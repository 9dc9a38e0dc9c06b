"""JAX's persistent compilation cache for physnet's commands.

Every ``physnet`` command compiles its training and rollout functions; with the cache, a second
run with the same shapes loads the compiled executables from disk instead of compiling again.
JAX keys each entry by the computation, the JAX/jaxlib versions, the backend and the compile
options, so entries never leak across versions; physnet adds its own version to the directory.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ._version import __version__

#: set to 0, false, no or off to disable the cache for physnet's commands
ENV_DISABLE = "PHYSNET_COMPILATION_CACHE"
#: a directory to use instead of the per-user default
ENV_DIR = "PHYSNET_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$PHYSNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/physnet`` (``~/.cache/physnet``), with a
    subdirectory per physnet version."""
    base = os.environ.get(ENV_DIR)
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = str(Path(xdg) / "physnet")
    return Path(base) / f"jax-{__version__}"


def cache_enabled() -> bool:
    """False when ``$PHYSNET_COMPILATION_CACHE`` is 0/false/no/off."""
    value = os.environ.get(ENV_DISABLE, "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def enable_compilation_cache(directory: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``directory`` (default
    :func:`default_cache_dir`) for every compilation, however short.

    Returns the directory, or ``None`` when the cache is disabled by the environment or the
    directory cannot be created (the command then simply compiles, as without a cache). An
    entry JAX cannot write or read later (a full disk, a file-size limit) is likewise no
    cache, not a warning per compilation: the command's own writes say what failed.
    """
    import jax

    if not cache_enabled():
        return None
    path = Path(directory) if directory is not None else default_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    warnings.filterwarnings(
        "ignore", message="Error (writing|reading) persistent compilation cache entry"
    )
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
