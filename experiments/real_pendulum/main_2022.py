"""Real pendulum under Sosanya & Greydanus 2022's protocol, as read from their repository.

Runs the registered settings, physnet.reproduce.get_experiment("REAL-PENDULUM-2022");
options: --help."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("REAL-PENDULUM-2022"))
