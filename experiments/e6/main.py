"""E6: KAN fits f(x, y) = x·y (plain, sparse and pruned, multiplication nodes).

Runs the registered settings, physnet.reproduce.get_experiment("E6"); options: --help.
Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("E6"))
