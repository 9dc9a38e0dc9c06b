"""E2: HNN on the conservative Duffing oscillator, noise σ = 0.05.

Runs the registered settings, physnet.reproduce.get_experiment("E2"); options: --help.
Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("E2"))
