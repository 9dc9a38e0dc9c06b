"""KAN vs MLP vs soft-exponential MLP, measured fairly (issue 18).

Runs the registered settings, physnet.reproduce.get_experiment("KAN-VS-MLP"), the same as
`physnet reproduce --experiments kan_vs_mlp`; options: --help (--quick, --seeds, --set,
--print-config). Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main

if __name__ == "__main__":
    raise SystemExit(experiment_main("KAN-VS-MLP"))
