"""Known dynamical systems: the Duffing oscillator and analytic systems for tests."""

from ._analytic import HarmonicOscillator as HarmonicOscillator
from ._analytic import Pendulum as Pendulum
from ._base import AbstractSystem as AbstractSystem
from ._duffing import Duffing as Duffing
from ._registry import SYSTEMS as SYSTEMS
from ._registry import system_class as system_class
from ._registry import system_from_metadata as system_from_metadata
