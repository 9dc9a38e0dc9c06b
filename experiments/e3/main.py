"""E3: dissipative HNN on the damped Duffing oscillator, clean data.

Runs the registered settings, physnet.reproduce.get_experiment("E3"); options: --help.
Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("E3"))
