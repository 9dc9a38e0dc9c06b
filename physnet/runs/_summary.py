"""What ``physnet evaluate`` prints for a person (on stderr; stdout keeps the JSON): the
learned law, its drift, its equilibria and their stability, its decay rate, each beside the
true system's where known."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..evaluation import format_eigenvalues


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4g}"


#: at most this many learned equilibria are listed on the console (all are in metrics.json)
SUMMARY_EQUILIBRIA = 6


def _equilibrium_text(e: dict, names) -> str:
    lam = format_eigenvalues([complex(*z) for z in e["eigenvalues"]])
    return f"{_state_text(e['state'], names)} {e['kind']}, eigenvalues {lam}"


def _state_text(state, names) -> str:
    return "(" + ", ".join(f"{n}={x:.4g}" for n, x in zip(names, state, strict=True)) + ")"


def evaluation_summary(metrics: dict[str, Any], names: Sequence[str] | None = None) -> str:
    """A few lines for a person reading the console: the learned law, its drift, its
    equilibria and their stability, its decay rate, each beside the true system's where known
    (``metrics`` as :func:`evaluate_run` returns them)."""
    lines = []
    if metrics.get("formula"):
        lines.append(f"learned law: {metrics['formula']}")
        if metrics.get("symbolic_scales"):
            scaled = ", ".join(
                f"{n} = {n}_file / {s:.4g}" for n, s in metrics["symbolic_scales"].items()
            )
            lines.append(f"  in the training variables {scaled}")
    if metrics.get("gamma_hat") is not None:
        true = metrics.get("gamma_true")
        lines.append(
            f"damping gamma: {_fmt(metrics['gamma_hat'])}"
            + ("" if true is None else f" (true {_fmt(true)})")
        )
    for key, what in (
        ("energy_drift", "true energy drift along the learned rollouts (median max rel.)"),
        ("learned_energy_drift", "learned energy drift along its own rollouts"),
        ("learned_energy_change", "learned energy change along the held-out rollouts"),
        ("energy_change_measured", "measured energy change"),
        ("rollout_rmse", "rollout RMSE"),
    ):
        if key in metrics:
            lines.append(f"{what}: {_fmt(metrics[key])}")
    if "equilibria_note" in metrics:
        lines.append(f"equilibria: {metrics['equilibria_note']}")
    lo = metrics.get("equilibria_box", [[]])[0]
    d = len(lo)
    names = (
        list(names) if names is not None and len(names) == d else [f"y{i + 1}" for i in range(d)]
    )
    true = metrics.get("equilibria_true")
    if "equilibria" in metrics:
        found = metrics["equilibria"]
        lines.append(f"equilibria of the learned field in the data's range: {len(found)}")
        # each true equilibrium is shown beside the learned one nearest to it
        nearest: dict[int, int] = {}
        for j, e in enumerate(found):
            i = e.get("true")
            if i is not None and (
                i not in nearest or e["distance"] < found[nearest[i]]["distance"]
            ):
                nearest[i] = j
        partner = {j: i for i, j in nearest.items()}
        for j, e in enumerate(found[:SUMMARY_EQUILIBRIA]):
            line = f"  {_equilibrium_text(e, names)}"
            if true is not None:
                line += (
                    f" | true {_equilibrium_text(true[partner[j]], names)}"
                    if j in partner
                    else " | no true counterpart"
                )
            lines.append(line)
        if len(found) > SUMMARY_EQUILIBRIA:
            lines.append(f"  ... and {len(found) - SUMMARY_EQUILIBRIA} more (metrics.json)")
        for i, t in enumerate(true or []):
            if i not in nearest:
                lines.append(f"  missed: true {_equilibrium_text(t, names)}")
    elif "equilibria_members" in metrics:
        counts = [len(m) for m in metrics["equilibria_members"]]
        lines.append(f"equilibria of each member's learned field: {counts}")
    if "decay_rate" in metrics or "decay_rate_true" in metrics:
        line = (
            f"decay rate (slowest -Re λ at a stable equilibrium): {_fmt(metrics.get('decay_rate'))}"
        )
        if "decay_rate_true" in metrics:
            line += f" (true {_fmt(metrics['decay_rate_true'])})"
        lines.append(line)
    return "\n".join(lines)
