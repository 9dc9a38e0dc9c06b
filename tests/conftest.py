import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

import physnet  # noqa: E402,F401  (enables x64 as users get it)


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
