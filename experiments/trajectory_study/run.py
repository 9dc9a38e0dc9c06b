"""Learning without derivative data: derivative loss vs finite-difference targets vs trajectory
loss, for a neural ODE, an HNN and a dissipative HNN, on coarse and noisy Duffing data.

Runs the registered settings, physnet.reproduce.get_experiment("TRAJECTORY-STUDY"), the same
as `physnet reproduce --experiments trajectory_study`; options: --help (--quick, --seeds,
--print-config). The source's sizes: physnet.reproduce._trajectory_study.FULL, in a copy of
this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main


def main(argv: list[str] | None = None) -> int:
    return experiment_main("TRAJECTORY-STUDY", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
