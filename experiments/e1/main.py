"""E1: HNN on the conservative Duffing oscillator, clean data.

Usage: python experiments/e1/main.py [--workdir DIR] [--seeds 0,1,2,3,4] [--quick] [--best]
[--print-config]

Runs the registered settings, ``physnet.reproduce.get_experiment("E1")`` (``.config``: the
source's; ``.best_config``: physnet best), the same that ``physnet reproduce`` runs. To
change the experiment, copy this file and pass settings built with ``dataclasses.replace``
on the registered ones (see ../README.md, "Changing an experiment").
"""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("E1"))
