"""Learnable maps from one input vector to one output vector: MLP (and KAN)."""

from ._activations import ACTIVATIONS as ACTIVATIONS
from ._activations import NONSMOOTH_ACTIVATIONS as NONSMOOTH_ACTIVATIONS
from ._activations import SoftExponential as SoftExponential
from ._activations import soft_exponential as soft_exponential
from ._base import AbstractApproximator as AbstractApproximator
from ._kan import KAN as KAN
from ._kan import Grid as Grid
from ._kan import GridChange as GridChange
from ._kan import KANLayer as KANLayer
from ._kan import remap_optimizer_state as remap_optimizer_state
from ._mlp import MLP as MLP
