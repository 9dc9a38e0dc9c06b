"""NTK spectra of physics losses (HNN, neural ODE, Poisson PINN; MLP vs KAN) and per-mode
convergence.

Runs the registered settings, physnet.reproduce.get_experiment("NTK"), the same as
`physnet reproduce --experiments ntk`; options: --help (--quick, --seeds, --print-config).
Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main


def main(argv: list[str] | None = None) -> int:
    return experiment_main("NTK", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
