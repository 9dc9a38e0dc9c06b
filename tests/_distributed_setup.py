"""The E1 setting shared by test_distributed.py and its worker processes (small: seconds)."""

import jax
import numpy as np
import optax
from flax import nnx

import physnet as pn
from physnet.reproduce._common import DataConfig, make_data

#: optimizer steps of every run
STEPS = 40


def e1_train():
    """E1's training data (the source's Duffing setting, SPEC.md section 3), 16 trajectories
    of 25 points instead of 80 of 50: 400 samples."""
    train, _ = make_data(
        pn.systems.Duffing(1.0, 2.0, 0.0), DataConfig(n_trajectories=20, n_points=25)
    )
    return train


def model():
    return pn.HNN(pn.MLP(2, 1, width=16, depth=2, rngs=nnx.Rngs(0)))


def ensemble():
    return pn.Ensemble.from_factory(lambda r: pn.HNN(pn.MLP(2, 1, width=8, rngs=r)), 8)


def optimizer():
    return optax.adam(1e-2)


def flat(module) -> np.ndarray:
    """Every array of ``module``'s state, raveled and concatenated."""
    state = module.state if isinstance(module, pn.Ensemble) else nnx.state(module)
    return np.concatenate([np.ravel(np.asarray(x)) for x in jax.tree.leaves(state)])
