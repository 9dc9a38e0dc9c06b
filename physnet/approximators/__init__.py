"""Learnable maps from one input vector to one output vector: MLP, KAN and Polynomial."""

from ._activations import ACTIVATIONS as ACTIVATIONS
from ._activations import NONSMOOTH_ACTIVATIONS as NONSMOOTH_ACTIVATIONS
from ._activations import SoftExponential as SoftExponential
from ._activations import soft_exponential as soft_exponential
from ._base import AbstractApproximator as AbstractApproximator
from ._bspline import bspline_basis as bspline_basis
from ._bspline import bspline_eval as bspline_eval
from ._bspline import bspline_pieces as bspline_pieces
from ._bspline import extend_knots as extend_knots
from ._bspline import uniform_knots as uniform_knots
from ._kan import KAN as KAN
from ._kan import EdgeMask as EdgeMask
from ._kan import KANLayer as KANLayer
from ._kan import update_grids as update_grids
from ._kan import update_grids_traced as update_grids_traced
from ._kan_grid import Grid as Grid
from ._kan_grid import GridChange as GridChange
from ._kan_grid import remap_optimizer_state as remap_optimizer_state
from ._mlp import MLP as MLP
from ._polynomial import Polynomial as Polynomial
from ._polynomial import monomial_exponents as monomial_exponents
from ._registry import APPROXIMATORS as APPROXIMATORS
from ._registry import build_approximator as build_approximator
