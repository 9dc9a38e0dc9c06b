import os
import shutil
import tempfile

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

import physnet  # noqa: E402,F401  (enables x64 as users get it)
from physnet._compilation_cache import ENV_DIR, enable_compilation_cache  # noqa: E402

_SESSION_CACHE = "_physnet_session_cache"


def pytest_configure(config):
    """One persistent JAX compilation cache for the whole test session, in a fresh temporary
    directory: the controller creates it and puts it in ``$PHYSNET_CACHE_DIR``, which the xdist
    workers and every ``physnet`` subprocess inherit, and every test process compiles through
    it. Tests compile the same small programs again (in other modules, after
    ``jax.clear_caches()`` below, and in subprocesses); a hit loads the executable instead of
    compiling it. A hit gives the same executable; JAX still reports it as a compilation
    (test_compiled_reuse's counts are unchanged), and test_compilation_cache gives its own
    subprocesses their own directory. Measured on the first 276 tests of one ``-n 1`` run beside
    a run without it: 2,298 s against 2,597 s."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        path = tempfile.mkdtemp(prefix="physnet-test-jax-cache-")
        setattr(config, _SESSION_CACHE, (path, os.environ.get(ENV_DIR)))
        os.environ[ENV_DIR] = path
    enable_compilation_cache()


def pytest_unconfigure(config):
    saved = getattr(config, _SESSION_CACHE, None)
    if saved is not None:
        path, previous = saved
        if previous is None:
            os.environ.pop(ENV_DIR, None)
        else:
            os.environ[ENV_DIR] = previous
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled executables after each test module. physnet compiles its programs
    through module-level ``jax.jit``s whose caches keep every executable of the process; a test
    session compiles thousands of distinct small programs. One whole session without this
    crashed (a segmentation fault inside XLA's CPU compiler, about 60 % through, 5.3 GB
    resident); the cause was not pinned down, and clearing between modules keeps the
    session's executables and memory bounded (about 1,300 memory mappings throughout)."""
    yield
    jax.clear_caches()
