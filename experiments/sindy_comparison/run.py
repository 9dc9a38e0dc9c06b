"""Duffing coefficients recovered by physnet and by PySINDy (needs the peers extra:
pip install -e ".[peers]").

Runs the registered settings, physnet.reproduce.get_experiment("SINDY-COMPARISON"), the same as
`physnet reproduce --experiments sindy_comparison`; options: --help (--quick, --seeds, --print-config).
Change them in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main


def main(argv: list[str] | None = None) -> int:
    return experiment_main("SINDY-COMPARISON", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
