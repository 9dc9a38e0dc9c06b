"""Known dynamical systems: Duffing, the HNN and LNN papers' systems, and more.

The Duffing oscillator (free and forced), the HNN and LNN papers' systems (mass-spring,
pendulum, two-body, double pendulum), N-link chain pendulums (angles, and Cartesian with
holonomic constraints), a spring chain, systems driven by an input (a driven pendulum,
mass-spring-damper and Duffing, the cart-pole, the Acrobot) and analytic systems for tests;
a system of your own subclasses :class:`AbstractSystem`."""

from ._acrobot import Acrobot as Acrobot
from ._analytic import HarmonicOscillator as HarmonicOscillator
from ._analytic import Pendulum as Pendulum
from ._base import AbstractSystem as AbstractSystem
from ._base import VelocityCoordinates as VelocityCoordinates
from ._cart_pole import CartPole as CartPole
from ._chain_pendulum import CartesianChainPendulum as CartesianChainPendulum
from ._chain_pendulum import ChainPendulum as ChainPendulum
from ._constraints import ChainConstraints as ChainConstraints
from ._constraints import constrained_acceleration as constrained_acceleration
from ._constraints import constrained_hamiltonian_field as constrained_hamiltonian_field
from ._constraints import constraint_drift as constraint_drift
from ._constraints import project_onto_manifold as project_onto_manifold
from ._double_pendulum import DoublePendulum as DoublePendulum
from ._driven import AbstractDriven as AbstractDriven
from ._driven import DrivenDuffing as DrivenDuffing
from ._driven import DrivenPendulum as DrivenPendulum
from ._driven import MassSpringDamper as MassSpringDamper
from ._duffing import Duffing as Duffing
from ._forced_duffing import ForcedDuffing as ForcedDuffing
from ._mass_spring import MassSpring as MassSpring
from ._registry import SYSTEMS as SYSTEMS
from ._registry import system_class as system_class
from ._registry import system_from_metadata as system_from_metadata
from ._spring_chain import SpringChain as SpringChain
from ._two_body import TwoBody as TwoBody
