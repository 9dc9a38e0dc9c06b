"""E5: LNN with a [2, 10, 1] KAN Lagrangian, Duffing α = 1/2, β = 1/4.

Runs the registered settings, physnet.reproduce.get_experiment("E5"); options: --help.
Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("E5"))
