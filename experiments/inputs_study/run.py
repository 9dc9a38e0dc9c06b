"""Identification from states and measured inputs: neural ODE f(y, u), port-Hamiltonian model
and Lagrangian model with generalised forces (learned input gains), trained under random
multisines and forecast under a chirp and a step, on the driven Duffing oscillator and the
pendulum with a torque.

Runs the registered settings, physnet.reproduce.get_experiment("INPUTS-STUDY"), the same as
`physnet reproduce --experiments inputs_study`; options: --help (--quick, --seeds,
--print-config)."""

from physnet.reproduce import experiment_main


def main(argv: list[str] | None = None) -> int:
    return experiment_main("INPUTS-STUDY", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
