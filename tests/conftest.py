import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

import physnet  # noqa: E402,F401  (enables x64 as users get it)


@pytest.fixture
def key():
    return jax.random.key(0)
