"""Learned vector fields (NeuralODE, HNN, DissipativeHNN, LNN, ...) and mechanics helpers.

Every model is a Flax NNX module acting on one state, ``model(t, y, args) -> dy/dt``, built
around approximators: :class:`NeuralODE`, :class:`HNN`, :class:`DissipativeHNN` (with a
dissipation component), :class:`LNN`, :class:`NeuralSymplecticForm`, :class:`PortHNN` (with a
force component), the natural-system models :class:`DeLaN` and :class:`StructuredHNN`
(learned M(q) and V(q)), the constrained Cartesian models :class:`ConstrainedHNN` and
:class:`ConstrainedLNN`, and :class:`Ensemble`; the mechanics helpers are pure functions."""

from ._base import AbstractComponent as AbstractComponent
from ._base import AbstractEnergyModel as AbstractEnergyModel
from ._base import AbstractVectorField as AbstractVectorField
from ._base import Part as Part
from ._base import check_input_port as check_input_port
from ._base import check_scalar_energy as check_scalar_energy
from ._constrained import ConstrainedHNN as ConstrainedHNN
from ._constrained import ConstrainedLNN as ConstrainedLNN
from ._dissipation import AbstractDissipation as AbstractDissipation
from ._dissipation import Friction as Friction
from ._dissipation import LearnedDissipation as LearnedDissipation
from ._dissipation import NoDissipation as NoDissipation
from ._dissipative import DISSIPATION_FORMS as DISSIPATION_FORMS
from ._dissipative import DissipativeHNN as DissipativeHNN
from ._ensemble import Ensemble as Ensemble
from ._hnn import HNN as HNN
from ._input_port import AbstractInputPort as AbstractInputPort
from ._input_port import KnownInputPort as KnownInputPort
from ._input_port import LearnedInputPort as LearnedInputPort
from ._lnn import LNN as LNN
from ._mechanics import canonical_matrix as canonical_matrix
from ._mechanics import euler_lagrange_acceleration as euler_lagrange_acceleration
from ._mechanics import mass_matrix as mass_matrix
from ._mechanics import symplectic_gradient as symplectic_gradient
from ._neural_ode import NeuralODE as NeuralODE
from ._nsf import NeuralSymplecticForm as NeuralSymplecticForm
from ._nsf import symplectic_form as symplectic_form
from ._port import AbstractForce as AbstractForce
from ._port import FourierForce as FourierForce
from ._port import LearnedForce as LearnedForce
from ._port import NoForce as NoForce
from ._port import PortHNN as PortHNN
from ._registry import MODELS as MODELS
from ._registry import model_class as model_class
from ._structured import DeLaN as DeLaN
from ._structured import NaturalSystem as NaturalSystem
from ._structured import StructuredHNN as StructuredHNN
from ._structured import cholesky_mass_matrix as cholesky_mass_matrix
