import jax

import physnet as pn

system = pn.systems.Duffing(alpha=1.0, beta=2.0, gamma=0.1)
data = pn.data.generate(system, n_trajectories=80, t1=5.0, n_points=50, key=jax.random.key(0))
noisy = data.with_noise(0.05, key=jax.random.key(1)).without_derivatives()
noisy.save("states.npz")
print(noisy.derivatives)  # None: states only
