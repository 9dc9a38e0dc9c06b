import physnet as pn
from physnet.interpret import read_model

model = pn.load_model("runs/states/checkpoint")  # a run's trained model
data = pn.data.load("states.npz")  # the states to read it on
readout = read_model(model, data)
print(readout.formula)  # H = ... + 0.499499*p**2 + ... + 0.498838*q**4 ...
print(readout.constants)  # {'gamma_hat': 0.1004...}
