"""FINZI-CHAINS: Finzi et al. 2020 chain-pendulum protocol (issue 30).

Runs the registered settings, physnet.reproduce.get_experiment("FINZI-CHAINS"); options: --help.
Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("FINZI-CHAINS"))
