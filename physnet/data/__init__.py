"""Trajectory data: generation from a system, the container, splitting, noise and I/O."""

from ._generate import generate as generate
from ._trajectories import Trajectories as Trajectories

load = Trajectories.load
