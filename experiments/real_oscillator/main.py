"""Real damped linear oscillator (Schmidt & Lipson 2009): learned frequency and damping against
the record's measured period and amplitude decay; physnet's best settings with --best.

Runs the registered settings, physnet.reproduce.get_experiment("REAL-OSCILLATOR"); options:
--help."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("REAL-OSCILLATOR"))
