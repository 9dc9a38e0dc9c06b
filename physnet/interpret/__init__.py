"""Interpretability of KANs: sparsity regularisation, importance scores, pruning, symbolic fitting."""

from ._lagrangian import read_lagrangian as read_lagrangian
from ._library import LIBRARY as LIBRARY
from ._library import FunctionFit as FunctionFit
from ._library import fit_library as fit_library
from ._library import fit_sparse_polynomial as fit_sparse_polynomial
from ._library import stlsq as stlsq
from ._polynomial import PolynomialFit as PolynomialFit
from ._polynomial import fit_polynomial as fit_polynomial
from ._prune import PruneReport as PruneReport
from ._prune import edge_scores as edge_scores
from ._prune import node_scores as node_scores
from ._prune import prune as prune
from ._readout import PhysicsReadout as PhysicsReadout
from ._readout import coefficient_errors as coefficient_errors
from ._readout import duffing_coefficients as duffing_coefficients
from ._readout import read_damping as read_damping
from ._readout import read_hamiltonian as read_hamiltonian
from ._sparsity import edge_activations as edge_activations
from ._sparsity import kan_regularization as kan_regularization
from ._symbolic import EdgeFit as EdgeFit
from ._symbolic import SymbolicResult as SymbolicResult
from ._symbolic import symbolic_formula as symbolic_formula
