"""The loss ``"auto"``: which loss (or states-only road) fits the data, and why.

One rule, used by :func:`physnet.fit` (and :func:`~physnet.fit_ensemble`) when no loss is
given and by ``physnet train --loss auto`` (the default):

- the data have derivatives: the derivative loss (the source's, regression on the field);
- they have states only: the trajectory loss (one-step RK4 shooting between consecutive
  observations, :class:`~physnet.training.TrajectoryLoss` with its defaults);
- ``physnet train`` only: states only and a model of at most :data:`FIT_STATES_MAX_PARAMS`
  parameters (a polynomial or known-form H), trained as one model without ``--batch-size``,
  ``--preset``, ``--lr`` or ``--steps``: :func:`~physnet.fit_states` (weak form, then latent
  shooting by Levenberg-Marquardt), whose cost grows with the square of the parameter count.
"""

from __future__ import annotations

import sys

import jax
import numpy as np
from flax import nnx

#: the loss name that asks for this rule
AUTO = "auto"

FIT_STATES_MAX_PARAMS = 100
"""The largest model (in parameters) that ``--loss auto`` trains with fit_states.

On states-only data, ``physnet train --loss auto``; a polynomial H has about 15
parameters, the default MLP HNN about 1200.
"""


def n_params(model) -> int:
    """The number of trainable (``nnx.Param``) values of ``model``."""
    _, params, _ = nnx.split(model, nnx.Param, ...)
    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(params)))


def choose_loss(data, model=None, *, fit_states_allowed: bool = False) -> tuple[str, str]:
    """The loss that ``loss="auto"`` picks for the data, and why.

    ``(choice, why)``: the loss name (``"derivative"``, ``"trajectory"``) or
    ``"fit-states"`` that ``"auto"`` picks for ``data`` (and ``model``), and the reason in
    words. ``"fit-states"`` only when ``fit_states_allowed`` and ``model`` is small enough."""
    if getattr(data, "derivatives", None) is not None:
        return "derivative", "the data have derivatives: regression on the vector field"
    if not hasattr(data, "derivatives"):  # not Trajectories: a loss of one's own reads it
        return "derivative", "the data are not trajectories (pass the loss that reads them)"
    if fit_states_allowed and model is not None:
        p = n_params(model)
        if p <= FIT_STATES_MAX_PARAMS:
            return "fit-states", (
                f"the data have states only and the model has {p} <= "
                f"{FIT_STATES_MAX_PARAMS} parameters: fit_states (weak form, then latent "
                "shooting by Levenberg-Marquardt)"
            )
    return "trajectory", (
        "the data have states only (no derivatives): one-step RK4 shooting between "
        "consecutive observations"
    )


def say(where: str, choice: str, why: str, fix: str) -> None:
    """The one line that reports the automatic choice (stderr)."""
    print(f"{where}: loss auto chose {choice}: {why} ({fix})", file=sys.stderr)
