"""Learnable maps from one input vector to one output vector: MLP (and KAN)."""

from ._activations import ACTIVATIONS as ACTIVATIONS
from ._activations import NONSMOOTH_ACTIVATIONS as NONSMOOTH_ACTIVATIONS
from ._activations import SoftExponential as SoftExponential
from ._activations import soft_exponential as soft_exponential
from ._base import AbstractApproximator as AbstractApproximator
from ._mlp import MLP as MLP
