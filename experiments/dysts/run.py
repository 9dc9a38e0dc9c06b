"""The dysts benchmark (needs the peers extra: pip install -e ".[peers]", or ".[dysts]").

Runs the registered settings, physnet.reproduce.get_experiment("DYSTS"), the same as
`physnet reproduce --experiments dysts`; options: --help (--quick, --seeds, --print-config,
--set systems='"kaptanoglu"'). Every flow: `physnet reproduce --experiments dysts-all`.
Change the settings in a copy of this file (../README.md, "Changing an experiment")."""

from physnet.reproduce import experiment_main


def main(argv: list[str] | None = None) -> int:
    return experiment_main("DYSTS", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
