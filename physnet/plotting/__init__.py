"""Figures: phase portraits, time series, energy curves, KAN diagrams (functions of arrays)."""

from ._figures import energy_curve as energy_curve
from ._figures import phase_portrait as phase_portrait
from ._figures import save_figure as save_figure
from ._figures import time_series as time_series
from ._kan import kan_diagram as kan_diagram
from ._kan import kan_edge_functions as kan_edge_functions
