import jax
from flax import nnx

import physnet as pn

system = pn.systems.Duffing(alpha=1.0, beta=2.0, gamma=0.0)
data = pn.data.generate(system, 50, t1=5.0, n_points=50, key=jax.random.key(0))
train, test = data.split(0.8, key=jax.random.key(1))
model = pn.HNN(pn.MLP(2, 1, width=32, depth=2, rngs=nnx.Rngs(0)))
pn.fit(model, train, steps=1000, test_data=test)
traj = pn.rollout(model, test.y0, jax.numpy.linspace(0, 100, 1001), substeps=10)
drift = pn.energy_drift(system.energy, traj)  # one per test trajectory
print(f"median energy drift at t = 100: {float(jax.numpy.median(drift)):.2%}")
