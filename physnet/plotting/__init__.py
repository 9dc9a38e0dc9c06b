"""Figures from arrays: phase portraits, time series, energy curves, KAN diagrams, spectra.

Functions of arrays (or of a KAN) that draw matplotlib figures; none selects a
backend. Poincaré sections and kernel spectra are drawn here too."""

from ._figures import energy_curve as energy_curve
from ._figures import phase_portrait as phase_portrait
from ._figures import save_figure as save_figure
from ._figures import time_series as time_series
from ._kan import kan_diagram as kan_diagram
from ._kan import kan_edge_functions as kan_edge_functions
from ._poincare import poincare_section as poincare_section
from ._spectra import error_spectrum as error_spectrum
from ._spectra import kernel_drift as kernel_drift
from ._spectra import kernel_spectra as kernel_spectra
from ._spectra import mode_convergence as mode_convergence
