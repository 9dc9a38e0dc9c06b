"""The model and data every public fit takes (:func:`~physnet.fit`, :func:`~physnet.fit_ensemble`,
:func:`~physnet.fit_states`, :func:`~physnet.training.least_squares`,
:func:`~physnet.training.latent_least_squares`), checked in one place before any work: one
line for a model that is not a physnet model, data that are not
:class:`~physnet.Trajectories`, states of another size than the model's, inputs its port
does not take or states the model says it cannot describe
(:meth:`~physnet.models.AbstractVectorField.unsuitable_states`); a warning line for an LNN on canonical (q, p) data.
"""

from __future__ import annotations

import sys

import numpy as np
from flax import nnx

from .._errors import ConfigError, DataError
from ..data import Trajectories
from ..models import AbstractVectorField, check_input_port


def own_loss(loss) -> bool:
    """Whether ``loss`` is physnet's (a name or an instance of a registered loss class), whose
    data are :class:`~physnet.Trajectories`; a loss of your own may take data of its own kind."""
    from ._losses import LOSSES

    return isinstance(loss, str) or type(loss) in set(LOSSES.values())


def check_fit_inputs(
    where: str,
    model,
    data,
    test_data=None,
    *,
    loss="auto",
    ensemble: bool = False,
    warn: bool = True,
) -> None:
    """Check the model and data of the fit ``where`` before any work.

    Args:
        where: the fit's name, which starts every message.
        model: a physnet model (an ``nnx.Module``), or an Ensemble with ``ensemble``.
        data, test_data: the trajectories (``test_data`` may be ``None``).
        loss: the fit's loss: physnet's own (a name or a registered class) takes
            :class:`~physnet.Trajectories` only; a loss of your own may take data of its own
            kind (compare's (x, y) pairs), which are then not checked here.
        ensemble: whether ``model`` must be a :class:`~physnet.models.Ensemble`.
        warn: print the LNN coordinates warning (:func:`warn_lnn_coordinates`).

    Raises:
        ConfigError: a model of the wrong type, or states or inputs of another size than the
            model's. DataError: data that are not Trajectories.
    """
    from ..models import Ensemble

    want = Ensemble if ensemble else nnx.Module
    if not isinstance(model, want):
        kind = "a physnet.models.Ensemble" if ensemble else "a physnet model (an nnx.Module)"
        raise ConfigError(
            f"{where}: model must be {kind} (pn.build_model(...) or a model class), got "
            f"{type(model).__name__}"
        )
    for name, value in (("data", data), ("test_data", test_data)):
        if name == "test_data" and value is None:
            continue
        if own_loss(loss) and not isinstance(value, Trajectories):
            raise DataError(
                f"{where}: {name} must be physnet.Trajectories (pn.data.from_table / "
                f"Trajectories(ts, states)), got {type(value).__name__}"
            )
    one = model.member(0) if ensemble else model
    size = getattr(one, "state_size", None)
    for name, value in (("data", data), ("test_data", test_data)):
        if not isinstance(value, Trajectories):
            continue
        if isinstance(size, int) and value.state_size != size:
            raise ConfigError(
                f"{where}: the model {type(one).__name__} takes states of {size} components, "
                f"but the {name} have {value.state_size}; build it with state_size="
                f"{value.state_size}"
            )
        check_input_port(where, one, value.input_size)
        check_states(where, one, value, name)
    if warn:
        warn_lnn_coordinates(where, one, data)


def check_states(where: str, model, data: Trajectories, name: str = "data") -> None:
    """One line if ``model`` says it cannot describe the states of ``data``
    (:meth:`~physnet.models.AbstractVectorField.unsuitable_states`; padding left out)."""
    own = getattr(type(model), "unsuitable_states", AbstractVectorField.unsuitable_states)
    if own is AbstractVectorField.unsuitable_states or not isinstance(data, Trajectories):
        return  # the default accepts any states: no copy of them on every fit
    states = np.asarray(data.states)[data.mask]
    reason = model.unsuitable_states(states)
    if reason:
        raise ConfigError(f"{where}: the {name} do not fit the model: {reason}")


def warn_lnn_coordinates(where: str, model, data) -> None:
    """A warning line on stderr for an LNN (its state is (q, q̇)) on data whose second half is
    not the time derivative of the first (canonical (q, p) with p != q̇)."""
    from ..data import velocity_coordinates
    from ..models import LNN

    if not isinstance(model, LNN) or not isinstance(data, Trajectories):
        return
    if "scales" in data.metadata:  # the relation holds in the file's units
        from ..data._units import unscale

        data = unscale(data)
    if velocity_coordinates(data) is False:
        print(
            f"{where}: warning: an LNN's state is (q, q̇), but the second half of these states "
            "is not the time derivative of the first (canonical (q, p) with p != q̇?); "
            "train an HNN on (q, p) or generate the data with coordinates='velocity'",
            file=sys.stderr,
        )
