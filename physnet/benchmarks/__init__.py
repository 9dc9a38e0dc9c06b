"""Benchmarks on systems physnet did not write: the dysts database (Gilpin 2021).

Needs the optional ``dysts`` extra (``pip install -e ".[dysts]"``: dysts 0.96 and
pysindy 2.1); nothing here imports dysts until a function is called.
"""

from ._dysts_data import DystsData as DystsData
from ._dysts_data import add_noise as add_noise
from ._dysts_data import divergence as divergence
from ._dysts_data import dysts_data as dysts_data
from ._dysts_data import dysts_names as dysts_names
from ._dysts_data import dysts_system as dysts_system
from ._dysts_data import polynomial_coefficients as polynomial_coefficients
from ._dysts_lists import DEFAULT_SUBSET as DEFAULT_SUBSET
from ._dysts_lists import KAPTANOGLU_SYSTEMS as KAPTANOGLU_SYSTEMS
from ._dysts_run import PHYSNET_METHODS as PHYSNET_METHODS
from ._dysts_run import dysts as dysts
from ._dysts_run import simulate as simulate
from ._dysts_run import summarize as summarize
from ._dysts_run import win_counts as win_counts
from ._hamiltonian import hamiltonian_check as hamiltonian_check
