"""Ctrl-C and SIGTERM inside one long compiled call end the command at once (physnet
simulate's solve used to ignore Ctrl-C until the whole simulation had run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

# a compiled loop that runs for minutes unless interrupted; "ready" once it is inside
_SCRIPT = textwrap.dedent(
    """
    import sys
    import jax, jax.numpy as jnp
    from physnet.cli._interrupt import exit_on_interrupt

    @jax.jit
    def spin(x):
        return jax.lax.fori_loop(0, 2_000_000_000, lambda i, x: jnp.sin(x) + 1e-9 * i, x)

    spin.lower(1.0).compile()  # compile first: the signal must arrive inside the run
    with exit_on_interrupt("simulate"):
        print("ready", flush=True)
        spin(1.0).block_until_ready()
    print("finished", flush=True)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_inside_a_compiled_call_exits_at_once(sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # well inside the compiled loop
        start = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - start
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert elapsed < 10
    assert "finished" not in out
    assert err.strip().splitlines() == ["physnet simulate: interrupted; nothing was written"]


def test_handlers_restored_after_the_block():
    from physnet.cli._interrupt import exit_on_interrupt

    before = signal.getsignal(signal.SIGINT)
    with exit_on_interrupt("simulate"):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    assert signal.set_wakeup_fd(-1) == -1  # the wakeup fd is unset again
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C behaves as before outside the block
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
