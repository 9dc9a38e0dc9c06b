"""Known dynamical systems: the Duffing oscillator and analytic systems for tests."""

from ._analytic import HarmonicOscillator as HarmonicOscillator
from ._analytic import Pendulum as Pendulum
from ._base import AbstractSystem as AbstractSystem
from ._duffing import Duffing as Duffing

SYSTEMS = {"duffing": Duffing, "harmonic": HarmonicOscillator, "pendulum": Pendulum}
