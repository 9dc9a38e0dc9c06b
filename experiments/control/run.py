"""Control with a learned model: a port-Hamiltonian model and a neural ODE identified from
driven-pendulum data under random multisines, then the TRUE pendulum swung up from hanging by
energy shaping + LQR designed on the learned H and G, and by MPC through the neural ODE.

Runs the registered settings, physnet.reproduce.get_experiment("CONTROL"), the same as
`physnet reproduce --experiments control`; options: --help (--quick, --seeds,
--print-config)."""

from physnet.reproduce import experiment_main


def main(argv: list[str] | None = None) -> int:
    return experiment_main("CONTROL", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
