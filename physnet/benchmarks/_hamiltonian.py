"""Check dysts' Hamiltonian flags against the divergence of each flagged field."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._dysts_data import divergence, dysts_system, integrate


def hamiltonian_check(
    names: Sequence[str], *, n_points: int = 200, tol: float = 1e-6
) -> list[dict]:
    """The divergence of every dysts flow flagged Hamiltonian, to test the flag.

    For every flow of ``names`` that dysts flags Hamiltonian: the divergence of its field on
    ``n_points`` states of its orbit from dysts' initial condition (one period per state).

    A Hamiltonian flow in canonical coordinates preserves phase-space volume, ∇·f = 0; a flag
    on a field whose divergence is not zero (to ``tol`` of the field's scale) marks either a
    wrong equation or non-canonical coordinates.

    Returns:
        Per flagged flow ``{"name", "max_abs_divergence", "mean_divergence",
        "field_scale", "divergence_free"}`` (or ``{"name", "error"}``).
    """
    out = []
    for name in names:
        try:
            system = dysts_system(name)
            if not getattr(system, "hamiltonian", False):
                continue
            ts = float(system.period) * np.arange(n_points)
            states = integrate(system, np.asarray(system.ic, dtype=np.float64), ts)
            div = divergence(system, states)
            from ._dysts_data import vector_field

            f = vector_field(system)
            scale = float(np.median([np.linalg.norm(f(0.0, y)) for y in states]))
            scale /= float(np.median(np.linalg.norm(states - states.mean(0), axis=1)))
            worst = float(np.max(np.abs(div)))
            out.append({
                "name": name, "max_abs_divergence": worst,
                "mean_divergence": float(np.mean(div)), "field_scale": scale,
                "divergence_free": bool(worst <= tol * max(scale, 1.0)),
            })  # fmt: skip
        except Exception as err:  # noqa: BLE001 - recorded
            out.append({"name": name, "error": f"{type(err).__name__}: {err}"})
    return out
