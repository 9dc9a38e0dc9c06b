"""Losses, the training loop and checkpoints."""

from ._acceleration_loss import AccelerationLoss as AccelerationLoss
from ._checkpoint import load_model as load_model
from ._checkpoint import model_spec as model_spec
from ._checkpoint import save_model as save_model
from ._fit import History as History
from ._fit import fit as fit
from ._fit import make_train_chunk as make_train_chunk
from ._losses import LOSSES as LOSSES
from ._losses import AbstractLoss as AbstractLoss
from ._losses import DerivativeLoss as DerivativeLoss
from ._losses import get_loss as get_loss
