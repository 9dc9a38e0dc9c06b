"""Real pendulum (Schmidt & Lipson 2009): neural ODE, HNN and dissipative HNN under the HNN
paper's protocol, and physnet's best settings with --best.

Runs the registered settings, physnet.reproduce.get_experiment("REAL-PENDULUM"); options: --help.
The Sosanya & Greydanus 2022 protocol: main_2022.py. Change them in a copy of this file
(../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("REAL-PENDULUM"))
