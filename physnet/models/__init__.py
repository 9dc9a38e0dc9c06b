"""Learned vector fields: NeuralODE, HNN (and the dissipative and Lagrangian models)."""

from ._base import AbstractEnergyModel as AbstractEnergyModel
from ._base import AbstractVectorField as AbstractVectorField
from ._hnn import HNN as HNN
from ._mechanics import canonical_matrix as canonical_matrix
from ._mechanics import symplectic_gradient as symplectic_gradient
from ._neural_ode import NeuralODE as NeuralODE
