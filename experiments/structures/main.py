"""New structures (issue 16): the neural symplectic form on non-canonical coordinates, the
port-Hamiltonian model on the forced Duffing oscillator, and the chaotic forced Duffing.

Runs the registered settings, physnet.reproduce.get_experiment("STRUCTURES"), the same as
`physnet reproduce --experiments structures`; options: --help (--quick, --seeds,
--print-config). Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("STRUCTURES"))
