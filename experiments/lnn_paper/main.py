"""LNN-PAPER: the peer paper's protocol (issue 15).

Runs the registered settings, physnet.reproduce.get_experiment("LNN-PAPER"); options: --help.
Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("LNN-PAPER"))
