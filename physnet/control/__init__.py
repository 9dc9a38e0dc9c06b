"""Control with a (learned) model: feedback laws designed from a model, run on a system.

- :class:`EnergyShaping` — u = sat(-k (H - H*) Gᵀ∇H) from a port-Hamiltonian model's H and
  G (or a system's): drives the energy to a target level (a pendulum's swing-up);
- :class:`LQR` — linear-quadratic regulation of a model's linearisation at an equilibrium
  (:func:`linearize`, :func:`lqr`); :class:`Switched` uses it near the equilibrium;
- :class:`MPC` — receding-horizon control by gradient through a model's rollout
  (:func:`quadratic_cost`);
- :func:`closed_loop` runs any controller on a system with an input (sampled state, held
  input); :func:`settling_time` reads when a run reached and stayed at its target.
"""

from ._base import AbstractController as AbstractController
from ._base import closed_loop as closed_loop
from ._base import controlled_field as controlled_field
from ._base import energy_port as energy_port
from ._base import settling_time as settling_time
from ._base import wrap_error as wrap_error
from ._energy import EnergyShaping as EnergyShaping
from ._linear import LQR as LQR
from ._linear import Switched as Switched
from ._linear import linearize as linearize
from ._linear import lqr as lqr
from ._mpc import MPC as MPC
from ._mpc import quadratic_cost as quadratic_cost
