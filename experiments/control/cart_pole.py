"""Control with a learned model, the cart-pole: a port-Hamiltonian model (learned input gain)
and a neural ODE identified from cart-pole data under random multisine forces, then the TRUE
cart-pole balanced by the LQR of each learned field's linearisation at upright.

Runs the registered settings, physnet.reproduce.get_experiment("CONTROL-CART-POLE"), the same
as `physnet reproduce --experiments control-cart-pole`; options: --help (--quick, --seeds,
--print-config)."""

from physnet.reproduce import experiment_main


def main(argv: list[str] | None = None) -> int:
    return experiment_main("CONTROL-CART-POLE", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
