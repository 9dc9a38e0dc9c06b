"""The ``physnet`` command line: simulate, train, evaluate, reproduce.

User errors (bad files, bad options, NaN in data, diverging training) print one line on stderr
and exit with status 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line."""

    def error(self, message):  # noqa: D401
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _nonnegative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .evaluation import SOLVERS

    parser = _Parser(prog="physnet", description="Physics-informed dynamics identification.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("reproduce", help="run the source's experiments (E1, E2, ...)")
    p.add_argument(
        "--experiments",
        default="all",
        help="comma-separated list (E1,...,E6, E5-MLP) or 'all' (E1-E6)",
    )
    p.add_argument("--out", default="physnet-results", help="output directory")
    p.add_argument("--quick", action="store_true", help="small settings (a smoke test)")
    p.add_argument(
        "--best",
        action="store_true",
        help="also run physnet's recommended settings (the 'physnet best' column)",
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="also write the results page DIR/README.md with the table and the figures",
    )

    p = sub.add_parser("simulate", help="generate a trajectory data set (.npz)")
    p.add_argument("--system", default="duffing", choices=["duffing", "harmonic", "pendulum"])
    p.add_argument("--alpha", type=_finite_float, default=None, help="Duffing α (default 1)")
    p.add_argument("--beta", type=_finite_float, default=None, help="Duffing β (default 2)")
    p.add_argument("--gamma", type=_nonnegative_float, default=None, help="Duffing γ (default 0)")
    p.add_argument("--omega", type=_finite_float, default=None, help="harmonic oscillator ω")
    p.add_argument("--g-over-l", type=_finite_float, default=None, help="pendulum g/l")
    p.add_argument("--n-trajectories", type=_positive_int, default=100)
    p.add_argument("--t1", type=_finite_float, default=5.0)
    p.add_argument("--n-points", type=_positive_int, default=50)
    p.add_argument("--noise", type=_nonnegative_float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output .npz file")

    from ._build import APPROXIMATORS, MODELS
    from .training import LOSSES

    p = sub.add_parser("train", help="train a model on a data file")
    p.add_argument("--data", required=True, help="data file (.npz) from `physnet simulate`")
    p.add_argument("--model", default="hnn", choices=list(MODELS))
    p.add_argument("--approximator", default="mlp", choices=list(APPROXIMATORS))
    p.add_argument("--loss", default="derivative", choices=list(LOSSES))
    p.add_argument("--steps", type=_positive_int, default=3000)
    p.add_argument("--lr", type=_finite_float, default=1e-3, help="Adam learning rate")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="default: full batch")
    p.add_argument("--width", type=_positive_int, default=None, help="MLP width (default 32)")
    p.add_argument(
        "--depth", type=_positive_int, default=None, help="MLP hidden layers (default 2)"
    )
    p.add_argument("--activation", default=None, help="MLP activation (default tanh)")
    p.add_argument(
        "--grid", type=_positive_int, default=None, help="KAN grid intervals (default 5)"
    )
    p.add_argument("--order", type=_positive_int, default=None, help="KAN spline order (default 3)")
    p.add_argument("--train-fraction", type=_finite_float, default=0.8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--ensemble",
        type=_positive_int,
        default=None,
        metavar="N",
        help="train N members (initialised with seeds seed..seed+N-1, same data) in one "
        "compiled call; metrics report the median and the spread over members",
    )
    p.add_argument(
        "--ensemble-batch",
        type=_positive_int,
        default=None,
        metavar="K",
        help="with --ensemble: vmap K members at a time, the groups in sequence (default all; "
        "1 is fastest on a CPU with few cores)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="run directory to create")
    g = p.add_argument_group("--loss trajectory options")
    g.add_argument(
        "--window", type=_positive_int, default=None, help="observations per window (default 2)"
    )
    g.add_argument(
        "--stride", type=_positive_int, default=None, help="between windows (default window-1)"
    )
    g.add_argument(
        "--solver", default=None, choices=list(SOLVERS), help="training integrator (default rk4)"
    )
    g.add_argument(
        "--substeps", type=_positive_int, default=None, help="steps per interval (default 1)"
    )
    g.add_argument(
        "--adjoint", default=None, choices=["recursive", "backsolve"], help="diffrax solvers only"
    )

    p = sub.add_parser("evaluate", help="roll a trained model out and report metrics")
    p.add_argument("--run", required=True, help="run directory from `physnet train`")
    p.add_argument("--data", default=None, help="data file (default: the run's test split)")
    p.add_argument("--t1", type=_finite_float, default=100.0, help="rollout horizon")
    p.add_argument("--dt", type=_finite_float, default=0.01, help="integrator step")
    p.add_argument("--solver", default="rk4", choices=list(SOLVERS))
    p.add_argument("--out", default=None, help="output directory (default RUN/evaluation)")
    p.add_argument(
        "--symbolic",
        action="store_true",
        help="KAN models: read the learned H (hnn, dhnn, with gamma_hat) or L (lnn) as a "
        "polynomial, or the KAN's formula (node); adds formula and coefficients to metrics",
    )
    return parser


# ----------------------------------------------------------------------------- commands
def _cmd_reproduce(args) -> int:
    import matplotlib

    from .reproduce import parse_experiments, reproduce

    matplotlib.use("Agg")  # a batch job writing PNG files: no window (never selected on import)
    names = parse_experiments(args.experiments)
    echo = lambda s: print(s, flush=True)  # noqa: E731
    reproduce(names, args.out, quick=args.quick, best=args.best, echo=echo)
    if args.report is not None:
        from .reproduce import write_report

        command = "physnet " + " ".join(sys.argv[1:]) if sys.argv[1:] else None
        echo(f"results page: {write_report(args.out, args.report, command=command)}")
    return 0


def _make_system(args):
    from ._errors import ConfigError
    from .systems import Duffing, HarmonicOscillator, Pendulum

    given = {
        k: getattr(args, k)
        for k in ("alpha", "beta", "gamma", "omega", "g_over_l")
        if getattr(args, k) is not None
    }
    allowed = {
        "duffing": {"alpha", "beta", "gamma"},
        "harmonic": {"omega"},
        "pendulum": {"g_over_l"},
    }[args.system]
    extra = sorted(set(given) - allowed)
    if extra:
        flags = ", ".join("--" + e.replace("_", "-") for e in extra)
        raise ConfigError(f"{flags} do(es) not apply to --system {args.system}")
    cls = {"duffing": Duffing, "harmonic": HarmonicOscillator, "pendulum": Pendulum}[args.system]
    return cls(**given)


def _cmd_simulate(args) -> int:
    import jax

    from .data import generate

    system = _make_system(args)
    k_data, k_noise = jax.random.split(jax.random.key(args.seed))
    data = generate(system, args.n_trajectories, args.t1, args.n_points, key=k_data)
    if args.noise > 0:
        data = data.with_noise(args.noise, key=k_noise)
    path = data.save(args.out)
    print(f"wrote {path}: {data.n_trajectories} trajectories x {data.n_times} times of {system}")
    return 0


_TRAJECTORY_OPTIONS = ("window", "stride", "solver", "substeps", "adjoint")


def _train_loss(args, get_loss):
    """The training loss; the trajectory loss's options only go with ``--loss trajectory``."""
    from ._errors import ConfigError
    from .training import TrajectoryLoss

    given = {k: getattr(args, k) for k in _TRAJECTORY_OPTIONS if getattr(args, k) is not None}
    if args.loss == TrajectoryLoss.name:
        return TrajectoryLoss(**given)
    if given:
        flags = ", ".join("--" + k for k in given)
        raise ConfigError(f"{flags} appl(ies) to --loss trajectory only, not --loss {args.loss}")
    return get_loss(args.loss)


def _cmd_train(args) -> int:
    import jax
    import optax

    from ._build import build_model
    from ._errors import ConfigError
    from ._io import atomic_directory, write_json
    from .data import Trajectories
    from .reproduce._common import derivative_mse
    from .training import fit, get_loss, save_model

    out = Path(args.out)
    data = Trajectories.load(args.data)
    loss = _train_loss(args, get_loss)
    k_split, k_batch = jax.random.split(jax.random.key(args.seed))
    train, test = data.split(args.train_fraction, key=k_split)
    options = {"width": args.width, "depth": args.depth, "activation": args.activation}
    if args.approximator == "kan":
        options.update(grid=args.grid, order=args.order)
    elif args.grid is not None or args.order is not None:
        raise ConfigError("--grid and --order apply to --approximator kan only")

    def make_model(seed):
        model = build_model(args.model, data.state_size, args.approximator, seed=seed, **options)
        if args.approximator == "kan":  # put the spline grids where the training states are
            from .approximators import update_grids

            update_grids(model, train.states.reshape(-1, train.state_size))
        return model

    if args.ensemble is not None:
        return _train_ensemble(args, data, train, test, loss, make_model, k_batch)
    if args.ensemble_batch is not None:
        raise ConfigError("--ensemble-batch applies to --ensemble N only")
    model = make_model(args.seed)
    history = fit(
        model,
        train,
        steps=args.steps,
        optimizer=optax.adam(args.lr),
        loss=loss,
        test_data=test,
        batch_size=args.batch_size,
        key=k_batch,
        progress=False if args.quiet else None,
    )
    config = {k: v for k, v in vars(args).items() if k not in ("quiet",)}
    config["data"] = str(Path(args.data).resolve())
    metrics = {
        "model": args.model,
        "approximator": args.approximator,
        "loss": args.loss,
        "steps": args.steps,
        "train_loss": history.final_train_loss(),
        "test_loss": history.final_test_loss(),
        "train_seconds": history.train_seconds,
        "compile_seconds": history.compile_seconds,
    }
    if data.has_derivatives:
        metrics["train_mse"] = derivative_mse(model, train)
        metrics["test_mse"] = derivative_mse(model, test)
        if test.clean_derivatives is not None:
            metrics["test_mse_clean"] = derivative_mse(model, test, clean=True)
    with atomic_directory(out) as tmp:
        save_model(model, tmp / "checkpoint", extra={"system": data.metadata})
        write_json(tmp / "config.json", config)
        write_json(tmp / "metrics.json", metrics)
    print(json.dumps({k: metrics[k] for k in metrics if k.endswith("mse")} | {"out": str(out)}))
    return 0


def _summarise_members(metrics: dict, summary: dict) -> None:
    """``key`` (median over members), ``key_std`` and ``key_members`` from ensemble_readout."""
    for key, s in summary.items():
        metrics[key] = s["median"]
        metrics[f"{key}_std"] = s["std"]
        metrics[f"{key}_members"] = s["members"]


def _train_ensemble(args, data, train, test, loss, make_model, k_batch) -> int:
    """``physnet train --ensemble N``: N members trained in one compiled call."""
    import numpy as np
    import optax

    from ._io import atomic_directory, write_json
    from .evaluation import ensemble_readout
    from .models import DissipativeHNN, Ensemble
    from .reproduce._common import derivative_mse
    from .training import fit_ensemble, save_model

    out = Path(args.out)
    n = args.ensemble
    seeds = [args.seed + i for i in range(n)]
    ensemble = Ensemble([make_model(seed) for seed in seeds])
    history = fit_ensemble(
        ensemble,
        train,
        steps=args.steps,
        optimizer=optax.adam(args.lr),
        loss=loss,
        test_data=test,
        batch_size=args.batch_size,
        key=k_batch,
        progress=False if args.quiet else None,
        member_batch_size=args.ensemble_batch,
    )
    diverged = [i for i, step in enumerate(history.diverged_at) if step >= 0]
    if len(diverged) == n:
        from ._errors import TrainingDivergedError

        err = TrainingDivergedError(int(np.min(history.diverged_at)), float("nan"), history)
        err.args = (
            f"training diverged: the loss of every one of the {n} ensemble members became "
            f"non-finite (first at step {err.step}). Lower the learning rate or check the data.",
        )
        raise err
    config = {k: v for k, v in vars(args).items() if k not in ("quiet",)}
    config["data"] = str(Path(args.data).resolve())
    config["seeds"] = seeds
    final_test = history.test_loss[-1] if history.test_loss.size else np.full(n, np.nan)
    metrics = {
        "model": args.model,
        "approximator": args.approximator,
        "loss": args.loss,
        "steps": args.steps,
        "ensemble": n,
        "seeds": seeds,
        "diverged_members": diverged,
        "train_seconds": history.train_seconds,
        "compile_seconds": history.compile_seconds,
    }

    def readout(member):
        row = {}
        if data.has_derivatives:
            row["train_mse"] = derivative_mse(member, train)
            row["test_mse"] = derivative_mse(member, test)
            if test.clean_derivatives is not None:
                row["test_mse_clean"] = derivative_mse(member, test, clean=True)
        if isinstance(member, DissipativeHNN) and member.form == "friction":
            row["gamma_hat"] = float(member.gamma)
        return row

    last = [r[np.isfinite(r)][-1] if np.isfinite(r).any() else np.nan for r in history.train_loss]
    summary = ensemble_readout(
        range(n), lambda i: {"train_loss": float(last[i]), "test_loss": float(final_test[i])}
    )
    _summarise_members(metrics, summary | ensemble_readout(ensemble, readout))
    with atomic_directory(out) as tmp:
        save_model(ensemble, tmp / "checkpoint", extra={"system": data.metadata})
        write_json(tmp / "config.json", config)
        write_json(tmp / "metrics.json", metrics)
    if diverged:
        print(
            f"physnet train: warning: ensemble members {diverged} diverged and keep the "
            "parameters of their last finite step",
            file=sys.stderr,
        )
    shown = {k: metrics[k] for k in metrics if k.endswith("mse") or k.endswith("mse_std")}
    print(json.dumps(shown | {"ensemble": n, "out": str(out)}))
    return 0


def _cmd_evaluate(args) -> int:
    import jax
    import jax.numpy as jnp

    from ._errors import DataError
    from ._io import atomic_directory, write_json
    from .data import Trajectories
    from .evaluation import rollout
    from .models import Ensemble
    from .systems import SYSTEMS
    from .training import load_model

    run = Path(args.run)
    config_file = run / "config.json"
    if not config_file.is_file():
        raise DataError(f"not a physnet run directory (no config.json): {run}")
    config = json.loads(config_file.read_text())
    model = load_model(run / "checkpoint")
    ensemble = model if isinstance(model, Ensemble) else None
    if ensemble is not None:
        if args.symbolic:
            from ._errors import ConfigError

            raise ConfigError(
                f"--symbolic reads the formula of one model, and {run} holds an ensemble of "
                f"{len(ensemble)}; use physnet.ensemble_readout in Python for per-member formulas"
            )
        model = ensemble.member(0)  # the structure; all members are rolled out below
    elif args.symbolic:
        _check_symbolic(model)
    if args.data is not None:
        test = Trajectories.load(args.data)
    else:
        data = Trajectories.load(config["data"])
        k_split, _ = jax.random.split(jax.random.key(config["seed"]))
        _, test = data.split(config["train_fraction"], key=k_split)
    meta = test.metadata
    if meta.get("system") not in SYSTEMS:
        raise DataError("the data do not name a known system; cannot compute the true energy")
    system = SYSTEMS[meta["system"]](**meta["parameters"])
    if test.state_size != model.state_size:
        raise DataError(
            f"data state size {test.state_size} does not match the model's {model.state_size}"
        )
    if not (args.t1 > 0 and args.dt > 0 and args.dt <= args.t1):
        raise DataError(f"need 0 < --dt <= --t1, got --dt {args.dt} --t1 {args.t1}")
    substeps = 10
    n_out = max(1, int(round(args.t1 / (args.dt * substeps))))
    ts = jnp.linspace(0.0, args.t1, n_out + 1)
    y0 = test.y0 if test.clean_states is None else test.clean_states[:, 0]
    true = rollout(system.vector_field, y0, ts, solver="rk4", substeps=substeps)
    if ensemble is not None:
        metrics = _evaluate_ensemble(ensemble, system, y0, ts, true, args.solver, substeps)
    else:
        learned = rollout(model, y0, ts, solver=args.solver, substeps=substeps)
        metrics = _rollout_metrics(model, system, learned, true)
        metrics |= {"solver": args.solver, "n_initial_conditions": int(y0.shape[0])}
        if args.symbolic:
            metrics |= _symbolic_metrics(model, test)
    metrics |= {"t1": args.t1, "dt": float(ts[1] - ts[0]) / substeps}
    out = Path(args.out) if args.out else run / "evaluation"
    with atomic_directory(out) as tmp:
        write_json(tmp / "metrics.json", metrics)
    print(json.dumps({k: v for k, v in metrics.items() if not k.endswith("_members")}))
    return 0


def _rollout_metrics(model, system, learned, true) -> dict:
    """``energy_drift`` (true energy) and ``rollout_rmse`` of one model's rollout ``learned``
    (B, T, d) against ``true``, and ``learned_energy_drift`` for energy models, measured from
    the equilibrium: H_θ's additive constant is arbitrary."""
    import jax.numpy as jnp

    from .evaluation import energy_drift, trajectory_rmse

    metrics = {
        "energy_drift": float(jnp.median(energy_drift(system.energy, learned))),
        "rollout_rmse": float(trajectory_rmse(learned, true)),
    }
    if hasattr(model, "energy"):
        origin = jnp.zeros(model.state_size)
        drift = energy_drift(model.energy, learned, reference=origin)
        metrics["learned_energy_drift"] = float(jnp.median(drift))
    return metrics


def _check_symbolic(model) -> None:
    """``--symbolic`` needs a model whose learned functions are KANs."""
    from ._errors import ConfigError
    from .approximators import KAN

    parts = model.submodules().values()
    if not all(isinstance(a, KAN) for a in parts):
        kinds = ", ".join(sorted({type(a).__name__ for a in parts}))
        raise ConfigError(
            f"--symbolic needs a KAN-based model (train with --approximator kan), got "
            f"{type(model).__name__} with {kinds}"
        )


def _symbolic_metrics(model, data) -> dict:
    """``formula``, ``coefficients`` and ``symbolic_r2`` (plus ``gamma_hat``) read on the
    evaluation data's states: H for HNN/DissipativeHNN, L (normalised to a q̇² coefficient of
    1/2) for LNN (both by sparse polynomial regression of the learned scalar, degree 4), the
    composed edge formula of the KAN for a neural ODE."""
    from .interpret import read_damping, read_hamiltonian, read_lagrangian, symbolic_formula
    from .models import HNN, LNN, DissipativeHNN

    d = model.state_size
    n = d // 2
    q = ["q"] if n == 1 else [f"q{i + 1}" for i in range(n)]
    states = data.states.reshape(-1, d)
    out = {}
    if isinstance(model, HNN | DissipativeHNN):
        readout = read_hamiltonian(model, states, names=(*q, *(v.replace("q", "p") for v in q)))
        if isinstance(model, DissipativeHNN) and model.form == "friction":
            out["gamma_hat"] = read_damping(model)
    elif isinstance(model, LNN):
        readout = read_lagrangian(model, states, names=(*q, *(v + "dot" for v in q)))
    else:
        names = [f"y{j + 1}" for j in range(d)]
        result = symbolic_formula(
            model.vector_field, states, names=names, output_names=[f"d{v}_dt" for v in names]
        )
        return out | {
            "formula": result.formula,
            "coefficients": result.coefficients,
            "symbolic_r2": result.r2_min,
        }
    return out | {
        "formula": readout.formula,
        "coefficients": readout.coefficients,
        "symbolic_r2": readout.r2,
    }


def _evaluate_ensemble(ensemble, system, y0, ts, true, solver, substeps) -> dict:
    """Rollout metrics of every member, their medians, and the spread of the predictions.

    ``rollout_spread`` is the mean over initial conditions, times and state components of the
    standard deviation over members of the predicted state; ``rollout_spread_t1`` the same at
    the final time only.
    """
    import jax.numpy as jnp

    from .evaluation import ensemble_readout, ensemble_spread, rollout, trajectory_rmse

    learned = rollout(ensemble, y0, ts, solver=solver, substeps=substeps)  # (N, B, T, d)
    spread = ensemble_spread(learned)

    def readout(i):
        return _rollout_metrics(ensemble.member(i), system, learned[i], true)

    metrics = {}
    _summarise_members(metrics, ensemble_readout(range(len(ensemble)), readout))
    metrics |= {
        "rollout_rmse_ensemble_mean": float(trajectory_rmse(spread.mean, true)),
        "rollout_spread": float(jnp.mean(spread.std)),
        "rollout_spread_t1": float(jnp.mean(spread.std[:, -1])),
        "ensemble": len(ensemble),
        "solver": solver,
        "n_initial_conditions": int(y0.shape[0]),
    }
    return metrics


COMMANDS = {
    "reproduce": _cmd_reproduce,
    "simulate": _cmd_simulate,
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``physnet`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    from ._errors import PhysnetError

    try:
        return COMMANDS[args.command](args)
    except PhysnetError as err:
        print(f"physnet {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"physnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
