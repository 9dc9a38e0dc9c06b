"""Trajectory data: generation, import, the Trajectories container, splits, noise and I/O.

Data come from a system (:func:`generate`) or a measured table (:func:`from_table`) and live in
:class:`Trajectories` (shared, per-trajectory or ragged times), whose methods split them
(:class:`TrajectorySplit`, :class:`TimeSplit`), add noise, rescale units, estimate
derivatives and save them (``.npz``, no pickle)."""

from ._finite_differences import FD_METHODS as FD_METHODS
from ._finite_differences import derivative_weights as derivative_weights
from ._finite_differences import estimate_derivatives as estimate_derivatives
from ._finite_differences import finite_difference as finite_difference
from ._generate import generate as generate
from ._import import Table as Table
from ._import import from_positions as from_positions
from ._import import from_table as from_table
from ._noise import add_noise as add_noise
from ._npz import is_data_file as is_data_file
from ._npz import save as save
from ._split import AbstractSplit as AbstractSplit
from ._split import TimeSplit as TimeSplit
from ._split import TrajectorySplit as TrajectorySplit
from ._split import split_from_json as split_from_json
from ._trajectories import Trajectories as Trajectories
from ._units import SCALINGS as SCALINGS
from ._units import structure_scales as structure_scales
from ._units import velocity_coordinates as velocity_coordinates

load = Trajectories.load
"""Read trajectories from a ``.npz`` file (:meth:`Trajectories.load`)."""
