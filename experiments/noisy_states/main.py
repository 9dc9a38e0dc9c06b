"""Duffing coefficients from noisy states alone: physnet's states-only road against PySINDy
(issue 14's table), plus the source's noisy experiment E4.

Runs the registered settings, physnet.reproduce.get_experiment("NOISY-STATES"), the same as
`physnet reproduce --experiments noisy_states` (PySINDy from the peers extra:
pip install -e ".[peers]"); options: --help (--quick, --seeds, --set, --print-config).
``--timing`` times one fit of the polynomial road instead."""

import sys

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    if sys.argv[1:] == ["--timing"]:
        from physnet.reproduce._noisy_states import timing

        raise SystemExit(timing())
    raise SystemExit(experiment_main("NOISY-STATES"))
