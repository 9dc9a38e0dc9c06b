"""Input signals u(t) of driven systems: what a measured or designed input is between samples.

A signal is a pytree (an ``equinox.Module``) with ``signal(t) -> (m,)``, so a batch of them is
one signal with a leading axis that ``jax.vmap`` maps over. A vector field with an input port
is ``f(t, y, u)`` with ``u`` the input's value at ``t``;
:func:`physnet.integrators.solve` (``inputs=``) evaluates the signal inside the integrator.

- :class:`Interpolated` — sampled inputs between their samples: zero-order hold, linear or
  cubic (:data:`INTERPOLATIONS`), built on ``diffrax.CubicInterpolation``;
- :class:`Multisine`, :class:`Chirp`, :class:`Step`, :class:`Expression` — exact signals of
  time for simulation (random excitations from a key; a formula such as ``"0.5*sin(1.3*t)"``).
"""

from ._base import INTERPOLATIONS as INTERPOLATIONS
from ._base import AbstractSignal as AbstractSignal
from ._base import Interpolated as Interpolated
from ._base import driven as driven
from ._base import is_batch as is_batch
from ._excitation import Chirp as Chirp
from ._excitation import Expression as Expression
from ._excitation import Multisine as Multisine
from ._excitation import Step as Step
from ._excitation import Zero as Zero
