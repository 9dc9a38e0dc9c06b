"""Write the version-0.1 checkpoint fixtures (run ONCE with the code of commit f589013).

Each ``<name>/`` holds ``model.json`` + ``state.npz`` written by ``physnet.training.save_model``
and ``outputs.json``: the model's vector field at :data:`STATES` (an ensemble: per member).
``tests/test_checkpoint_compat.py`` loads them with the current code and compares. Do not
rerun this script with newer code: the fixtures record what the previous version wrote.

    PYTHONPATH=$PWD python tests/data/checkpoints_v0_1/make_fixtures.py
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
from flax import nnx

jax.config.update("jax_enable_x64", True)

from physnet.approximators import KAN, MLP  # noqa: E402
from physnet.models import HNN, LNN, DissipativeHNN, Ensemble, NeuralODE  # noqa: E402
from physnet.training import save_model  # noqa: E402

STATES = [[0.3, -0.2], [-1.1, 0.7], [0.05, 1.4]]
HERE = Path(__file__).parent


def mlp(seed, out=1, activation="tanh"):
    return MLP(2, out, width=4, depth=1, activation=activation, rngs=nnx.Rngs(seed))


def models():
    return {
        "hnn_mlp": HNN(mlp(0)),
        "neural_ode_mlp": NeuralODE(mlp(1, out=2)),
        "dhnn_friction": DissipativeHNN(mlp(2), gamma_init=0.3),
        "dhnn_general": DissipativeHNN(mlp(3), mlp(4, out=2)),
        "dhnn_none": DissipativeHNN(mlp(5), "none"),
        "lnn_mlp": LNN(mlp(6, activation="softplus"), kinetic=1.0),
        "hnn_kan": HNN(KAN([2, 2, 1], grid=3, rngs=nnx.Rngs(7))),
        "ensemble_hnn": Ensemble([HNN(mlp(8)), HNN(mlp(9))]),
    }


def outputs(model):
    ys = jnp.asarray(STATES, dtype=jnp.float64)
    if isinstance(model, Ensemble):
        return model.apply(lambda m: jax.vmap(lambda y: m(0.0, y))(ys)).tolist()
    return jax.vmap(lambda y: model(0.0, y))(ys).tolist()


if __name__ == "__main__":
    for name, model in models().items():
        target = save_model(model, HERE / name)
        out = {"states": STATES, "outputs": outputs(model)}
        (target / "outputs.json").write_text(json.dumps(out, indent=2) + "\n")
        print(name, sorted(p.name for p in target.iterdir()))
