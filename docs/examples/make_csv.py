"""A CSV of recorded trajectories: the shipped real pendulum record, with a header row."""

import numpy as np

import physnet as pn

rows = np.loadtxt(pn.datasets.path("real-pendulum"), comments="%")
np.savetxt(
    "pendulum.csv", rows, delimiter=",", header="trial,t,theta,omega", comments="", fmt="%.10g"
)
