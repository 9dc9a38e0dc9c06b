"""Does a physics operator in the loss make the NTK spectrum decay faster? physnet's models
on the Duffing oscillator and a 1-D Poisson PINN toy (SPEC.md section 6).

Part A (at initialisation, ``--seeds``, default 5): the eigenvalues of the empirical NTK
(:func:`physnet.analysis.ntk`) of

- Duffing, on S states of the conservative Duffing oscillator (α = 1, β = 2; from
  ``pn.data.generate``): *regression of H* (plain output of the scalar network H_θ),
  *HNN operator* (J∇H_θ, the kernel of the HNN's derivative loss), *neural ODE* (plain output
  of a 2 -> 2 network, the kernel of the NODE's derivative loss);
- Poisson, on S collocation points of [-1, 1]: *regression of u* (plain output of u_θ) and
  *Poisson operator* (-u_θ'', the PINN residual kernel);

for MLPs (depth 2, tanh, widths ``--widths``) and KANs ([d, 5, out], G = 5, k = 3). Read-out:
the power-law decay exponent α (λ_k ∝ k^-α, least squares of log λ_k on log k over
k = 2..K, K = ``fit_last`` or the last eigenvalue above 1e-11 λ_1 if fewer: below that is
float64 round-off), and λ_K/λ_1; medians with [min, max] over seeds.

Part B (during training, ``--train-seeds``): HNNs trained by full-batch gradient descent
(``optax.sgd``, η = ``--eta-fraction`` · N / λ_max(K_0), N = 2S the residual entries of the
derivative loss) on the same S states with exact derivatives, ``--steps`` steps; the
:class:`~physnet.analysis.KernelDrift` hook records the residual's coefficients on the
eigenvectors of K_0 every ``--every`` steps and the kernel drift ||K_t - K_0|| / ||K_0||.
Per mode i with a non-negligible initial coefficient (|c_i(0)| > 1e-3 |r_0|), the predicted
e-folding time N / (2 η λ_i) is set against the observed one (first recorded step with
|c_i(t)| <= |c_i(0)| / e): the median of observed / predicted and the Spearman rank
correlation over modes. The trained models' error per frequency of the learned field on a
(q, p) grid is reported too.

    physnet reproduce --experiments ntk --out physnet-results          # the README's numbers
    physnet reproduce --experiments ntk --out /tmp/ntk --quick          # a smoke run

Writes ``part_a.json``, ``part_b.json`` and ``table.md`` into the experiment's folder.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx

from .._errors import TrainingDivergedError
from ..analysis import (
    KernelDrift,
    convergence_times,
    decay_exponent,
    effective_rank,
    field_error_spectrum,
    ntk,
    observed_convergence_times,
    spectrum,
)
from ..approximators import KAN, MLP
from ..data import Trajectories, generate
from ..models import HNN, symplectic_gradient
from ..systems import Duffing
from ..training import fit
from ._common import study


@dataclasses.dataclass(frozen=True)
class NTKConfig:
    """Part A: NTK spectra at initialisation of MLPs of ``widths`` (and a KAN) over ``seeds``
    on ``samples`` points, decay exponents over k = 2..``fit_last``. Part B: HNNs of
    ``train_widths`` (and a KAN) trained ``steps`` steps by gradient descent at
    ``eta_fraction`` · N / λ_max, for ``train_seeds``, recording every ``every`` steps (the
    kernel every ``kernel_every``). ``parts``: which of "a", "b" run."""

    widths: tuple[int, ...] = (32, 128, 512)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    samples: int = 128
    fit_last: int = 64
    train_seeds: tuple[int, ...] = (0,)
    train_widths: tuple[int, ...] = (32, 128, 512)
    steps: int = 2000
    every: int = 4
    kernel_every: int = 50
    eta_fraction: float = 0.05
    parts: tuple[str, ...] = ("a", "b")


def _shrink(cfg: NTKConfig) -> NTKConfig:
    return dataclasses.replace(
        cfg,
        widths=(16,),
        seeds=(0,),
        samples=24,
        fit_last=12,
        train_seeds=(0,),
        train_widths=(16,),
        steps=40,
        every=4,
        kernel_every=5,
    )


def duffing_states(n: int, seed: int = 0):
    sys = Duffing(alpha=1.0, beta=2.0, gamma=0.0)
    traj = max(1, n // 8)
    data = generate(sys, n_trajectories=traj, t1=2.0, n_points=8, key=jax.random.key(100 + seed))
    y, dy = data.flat()
    return sys, np.asarray(y)[:n], np.asarray(dy)[:n]


def approximator(kind: str, width: int, d_in: int, d_out: int, seed: int):
    rngs = nnx.Rngs(seed)
    if kind == "mlp":
        return MLP(d_in, d_out, width=width, depth=2, activation="tanh", rngs=rngs)
    return KAN([d_in, 5, d_out], grid=5, order=3, grid_range=(-2.5, 2.5), rngs=rngs)


def _hnn_op(model, x):
    return symplectic_gradient(lambda y: model(y)[0], x)


def _poisson_op(model, x):
    return -jax.hessian(lambda z: model(z)[0])(x)[0]


def _plain(model, x):
    return model(x)


#: eigenvalues below FLOOR · λ_1 are round-off (float64) and left out of the fits
FLOOR = 1e-11

CASES = {
    # name: (problem, operator on the approximator, out_features)
    "duffing: regression of H": ("duffing", _plain, 1),
    "duffing: HNN operator J∇H": ("duffing", _hnn_op, 1),
    "duffing: neural ODE f": ("duffing", _plain, 2),
    "poisson: regression of u": ("poisson", _plain, 1),
    "poisson: operator -u''": ("poisson", _poisson_op, 1),
}


def part_a(cfg: NTKConfig, echo=lambda s: print(s, flush=True)) -> list[dict]:
    _, duffing, _ = duffing_states(cfg.samples)
    poisson = np.linspace(-1, 1, cfg.samples)[:, None]
    rows = []
    nets = [("mlp", w) for w in cfg.widths] + [("kan", 5)]
    for kind, width in nets:
        for case, (problem, op, out) in CASES.items():
            xs = duffing if problem == "duffing" else poisson
            d_in = xs.shape[1]
            alphas, tails, ranks, secs, lasts, spectra = [], [], [], [], [], []
            for seed in cfg.seeds:
                net = approximator(kind, width, d_in, out, seed)
                t0 = time.perf_counter()
                lam = spectrum(ntk(net, xs, operator=op)).eigenvalues
                secs.append(time.perf_counter() - t0)
                last = min(cfg.fit_last, int(np.sum(lam > FLOOR * lam[0])))
                alphas.append(decay_exponent(lam, first=2, last=last))
                lasts.append(last)
                tails.append(float(lam[last - 1] / lam[0]))
                spectra.append(lam.tolist())
                ranks.append(effective_rank(lam))
            row = {
                "net": f"{kind}-{width}" if kind == "mlp" else "kan[d,5,out]",
                "case": case,
                "alpha": alphas,
                "last": lasts,
                "tail": tails,
                "effective_rank": ranks,
                "eigenvalues": spectra,
                "seconds": float(np.median(secs)),
            }
            echo(
                json.dumps(
                    {
                        k: v if not isinstance(v, list) else float(np.median(v))
                        for k, v in row.items()
                        if k != "eigenvalues"
                    }
                )
            )
            rows.append(row)
    return rows


def part_b(cfg: NTKConfig, echo=lambda s: print(s, flush=True)) -> list[dict]:
    sys, ys, dys = duffing_states(cfg.samples)
    data = Trajectories.from_arrays(np.arange(ys.shape[0], dtype=float), ys, dys)
    n = dys.size
    q = np.linspace(-1.5, 1.5, 32, endpoint=False)
    rows = []
    nets = [("mlp", w) for w in cfg.train_widths] + [("kan", 5)]
    for kind, width in nets:
        for seed in cfg.train_seeds:
            model = HNN(approximator(kind, width, 2, 1, seed))
            lam_max = spectrum(ntk(model, ys)).eigenvalues[0]
            eta = cfg.eta_fraction * n / lam_max
            hook = KernelDrift(ys, every=cfg.every, kernel_every=cfg.kernel_every, targets=dys)
            t0 = time.perf_counter()
            try:
                history = fit(
                    model,
                    data,
                    steps=cfg.steps,
                    optimizer=optax.sgd(eta),
                    hooks=[hook],
                    chunk_size=cfg.steps,
                )
            except TrainingDivergedError as err:
                echo(json.dumps({"net": f"{kind}-{width}", "seed": seed, "diverged": str(err)}))
                rows.append(
                    {"net": f"{kind}-{width}", "seed": seed, "eta": eta, "diverged_at": err.step}
                )
                continue
            seconds = time.perf_counter() - t0
            s0 = hook.spectrum0
            c = np.asarray(hook.coefficients)
            r0 = np.linalg.norm(c[0])
            live = np.abs(c[0]) > 1e-3 * r0
            pred = convergence_times(s0, eta, n_residuals=n)
            obs = observed_convergence_times(hook.steps, c)
            both = live & np.isfinite(obs) & np.isfinite(pred) & (obs > 0)
            ratio = obs[both] / pred[both]
            rho = _spearman(pred[both], obs[both]) if both.sum() > 2 else float("nan")
            err = field_error_spectrum(model, sys.vector_field, (q, q))
            low = float(np.sqrt(np.sum(err.error[:3] ** 2) / np.sum(err.reference[:3] ** 2)))
            high = float(
                np.sqrt(np.sum(err.error[3:] ** 2) / max(np.sum(err.reference[3:] ** 2), 1e-300))
            )
            row = {
                "net": f"mlp-{width}" if kind == "mlp" else "kan[2,5,1]",
                "seed": seed,
                "eta": eta,
                "final_loss": history.final_train_loss(),
                "initial_loss": float(history.train_loss[0]),
                "modes_live": int(live.sum()),
                "modes_converged": int(both.sum()),
                "ratio_obs_pred_median": float(np.median(ratio)) if ratio.size else float("nan"),
                "ratio_obs_pred_q10": float(np.quantile(ratio, 0.1)) if ratio.size else None,
                "ratio_obs_pred_q90": float(np.quantile(ratio, 0.9)) if ratio.size else None,
                "spearman": rho,
                "drift_final": hook.drift[-1],
                "drift_steps": hook.kernel_steps,
                "drift": hook.drift,
                "field_rel_err_low_k": low,
                "field_rel_err_high_k": high,
                "predicted": pred[both].tolist(),
                "observed": obs[both].tolist(),
                "eigenvalues0": s0.eigenvalues.tolist(),
                "seconds": seconds,
            }
            echo(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}))
            rows.append(row)
    return rows


def _spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _fmt(values) -> str:
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return f"{v[0]:.3g}"
    return f"{np.median(v):.3g} [{v.min():.3g}, {v.max():.3g}]"


def table(rows_a, rows_b, cfg: NTKConfig) -> str:
    lines = [
        "| net | kernel | α (λ_k ∝ k^-α, k = 2..K) | K | λ_K/λ_1 | effective rank |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows_a:
        lines.append(
            f"| {r['net']} | {r['case']} | {_fmt(r['alpha'])} | {_fmt(r['last'])} | "
            f"{_fmt(r['tail'])} | "
            f"{_fmt(r['effective_rank'])} |"
        )
    if rows_b:
        lines += [
            "",
            "| HNN net | seed | η | loss start -> end | modes (live / converged) | observed / "
            "predicted, median [q10, q90] | Spearman ρ | drift at end | field rel. error "
            "low k / high k |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows_b:
            if "diverged_at" in r:
                lines.append(
                    f"| {r['net']} | {r['seed']} | {r['eta']:.3g} | diverged at step "
                    f"{r['diverged_at']} | - | - | - | - | - |"
                )
                continue
            q = (
                f"{r['ratio_obs_pred_median']:.3g} [{r['ratio_obs_pred_q10']:.3g}, "
                f"{r['ratio_obs_pred_q90']:.3g}]"
                if r["ratio_obs_pred_q10"] is not None
                else "-"
            )
            lines.append(
                f"| {r['net']} | {r['seed']} | {r['eta']:.3g} | {r['initial_loss']:.3g} -> "
                f"{r['final_loss']:.3g} | {r['modes_live']} / {r['modes_converged']} | {q} | "
                f"{r['spearman']:.3g} | {r['drift_final']:.3g} | "
                f"{r['field_rel_err_low_k']:.3g} / {r['field_rel_err_high_k']:.3g} |"
            )
    return "\n".join(lines) + "\n"


def train_and_evaluate(cfg: NTKConfig, workdir: Path, figures: bool = True) -> dict:
    """Parts A and B; writes ``part_a.json``, ``part_b.json`` and ``table.md``."""
    t0 = time.perf_counter()
    rows_a = part_a(cfg) if "a" in cfg.parts else []
    (workdir / "part_a.json").write_text(json.dumps(rows_a, indent=1))
    rows_b = part_b(cfg) if "b" in cfg.parts else []
    (workdir / "part_b.json").write_text(json.dumps(rows_b, indent=1))
    text = table(rows_a, rows_b, cfg)
    (workdir / "table.md").write_text(text)
    return {
        "config": dataclasses.asdict(cfg),
        "seconds": time.perf_counter() - t0,
        "part_a": rows_a,
        "part_b": rows_b,
        "table": text,
    }


NTK = study(
    "NTK",
    "NTK spectra of physics losses (HNN, neural ODE, Poisson PINN; MLP vs KAN)",
    NTKConfig(),
    train_and_evaluate,
    _shrink,
)
