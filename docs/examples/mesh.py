import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"  # before importing JAX

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh

import physnet as pn

data = pn.data.generate(pn.systems.Duffing(), 80, 5.0, 50, key=jax.random.key(0))
model = pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)))
mesh = Mesh(np.array(jax.devices()), ("data",))  # 2 devices, one axis
history = pn.fit(model, data, steps=500, optimizer="source", mesh=mesh)
print(jax.device_count(), "devices, final loss", history.final_train_loss())
