"""ODE integrators: Butcher tableaux, RK and symplectic steppers, integrate and solve.

:func:`solve` is the one solver entry, for rollouts and trajectory losses alike: physnet's own
steppers (explicit Runge-Kutta from validated Butcher tableaux, leapfrog, implicit midpoint)
and diffrax's adaptive solvers, by name or as objects."""

from ._integrate import integrate as integrate
from ._solve import ADJOINTS as ADJOINTS
from ._solve import DIFFRAX_SOLVERS as DIFFRAX_SOLVERS
from ._solve import SOLVERS as SOLVERS
from ._solve import get_adjoint as get_adjoint
from ._solve import get_solver as get_solver
from ._solve import solve as solve
from ._solve import substep_times as substep_times
from ._steppers import RK4 as RK4
from ._steppers import STEPPERS as STEPPERS
from ._steppers import AbstractStepper as AbstractStepper
from ._steppers import Euler as Euler
from ._steppers import ExplicitRungeKutta as ExplicitRungeKutta
from ._steppers import Heun3 as Heun3
from ._steppers import ImplicitMidpoint as ImplicitMidpoint
from ._steppers import Leapfrog as Leapfrog
from ._steppers import Midpoint as Midpoint
from ._steppers import get_stepper as get_stepper
from ._tableau import EULER_TABLEAU as EULER_TABLEAU
from ._tableau import HEUN3_TABLEAU as HEUN3_TABLEAU
from ._tableau import MIDPOINT_TABLEAU as MIDPOINT_TABLEAU
from ._tableau import RK4_TABLEAU as RK4_TABLEAU
from ._tableau import ButcherTableau as ButcherTableau
