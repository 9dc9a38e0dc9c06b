"""Data from the dysts database (Gilpin 2021): attractor trajectories from dysts' own equations.

dysts (``pip install -e ".[dysts]"``) is imported only when a function here is called.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from .._checks import integer, number
from .._errors import ConfigError, DataError
from ..approximators import monomial_exponents
from ..training._sparse_polynomial import monomials

#: integrator tolerances of the data (scipy's DOP853, relative and absolute)
RTOL = 1e-10
ATOL = 1e-10


def _dysts():
    try:
        import dysts.flows
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ConfigError(
            'the dysts benchmark needs dysts 0.96 (not installed): pip install -e ".[dysts]"'
        ) from err
    return dysts.flows


def dysts_names() -> list[str]:
    """The names of dysts' continuous flows (135 in dysts 0.96), sorted."""
    _dysts()
    from dysts.systems import get_attractor_list

    return sorted(get_attractor_list("continuous"))


def dysts_system(name: str, parameters: Mapping[str, float] | None = None):
    """The dysts flow ``name`` with its published parameters, some replaced by ``parameters``.

    Raises:
        ConfigError: for an unknown name or a parameter the system does not have.
    """
    flows = _dysts()
    cls = getattr(flows, str(name), None)
    if cls is None or not isinstance(cls, type):
        raise ConfigError(f"dysts has no flow named {name!r}")
    system = cls()
    if parameters:
        unknown = sorted(set(parameters) - set(system.params))
        if unknown:
            raise ConfigError(
                f"dysts flow {name} has no parameter(s) {', '.join(unknown)}; it has "
                f"{', '.join(sorted(system.params))}"
            )
        merged = {**system.params, **{k: float(v) for k, v in parameters.items()}}
        system = cls(parameters=merged)
    return system


def vector_field(system):
    """dysts' right-hand side as ``f(t, y) -> dy/dt`` (NumPy) for scipy."""

    def f(t, y):
        return np.asarray(system.rhs(np.asarray(y), t), dtype=np.float64)

    return f


def integrate(system, y0, ts) -> np.ndarray:
    """The trajectory ``(T, d)`` of ``system`` from ``y0`` at times ``ts`` (DOP853, RTOL/ATOL).

    Raises:
        DataError: when the integrator fails or the solution is not finite.
    """
    from scipy.integrate import solve_ivp  # lazily: 0.9 s at import
    sol = solve_ivp(
        vector_field(system), (ts[0], ts[-1]), np.asarray(y0, dtype=np.float64), t_eval=ts,
        method="DOP853", rtol=RTOL, atol=ATOL,
    )  # fmt: skip
    if sol.status != 0 or sol.y.shape[1] != len(ts) or not np.isfinite(sol.y).all():
        raise DataError(f"{system.name}: integration failed ({sol.message})")
    return sol.y.T


@dataclasses.dataclass(frozen=True)
class DystsData:
    """Train and test trajectories of one dysts flow (states only).

    Attributes:
        name: the flow's name.
        ts: times ``(T,)`` shared by every trajectory (starting at 0).
        train: training states ``(B_train, T, d)``, with the measurement noise.
        train_clean: the same without noise.
        test: clean test states ``(B_test, T, d)`` from other initial conditions.
        noise: the noise level (fraction of each state's standard deviation).
        period: dysts' dominant period.
        lyapunov: dysts' estimated largest Lyapunov exponent.
        parameters: the parameters used.
    """

    name: str
    ts: np.ndarray
    train: np.ndarray
    train_clean: np.ndarray
    test: np.ndarray
    noise: float
    period: float
    lyapunov: float
    parameters: dict


def dysts_data(
    name: str,
    *,
    n_train: int = 5,
    n_test: int = 5,
    n_points: int = 1000,
    points_per_period: int = 100,
    transient_periods: float = 20.0,
    spacing_periods: float = 3.0,
    noise: float = 0.0,
    parameters: Mapping[str, float] | None = None,
    seed: int = 0,
) -> DystsData:
    """Trajectories on the attractor of a dysts flow, from its own equations and parameters.

    From dysts' initial condition the flow is integrated for ``transient_periods`` periods
    (discarded), then on along the attractor; the initial conditions of the ``n_train +
    n_test`` trajectories are states of that orbit ``spacing_periods`` periods apart (train
    first, then test: different initial conditions). Each trajectory has ``n_points`` samples,
    ``points_per_period`` per dysts period. Gaussian measurement noise of standard deviation
    ``noise`` times each state's standard deviation (over the clean training states) is added
    to the training states only (Kaptanoglu et al. 2023); the random generator is
    ``numpy.random.default_rng(seed)``.

    Raises:
        ConfigError: on a bad option or an unknown flow. DataError: when integration fails.
    """
    function = "dysts_data"
    integer(function, "n_train", n_train, low=1)
    integer(function, "n_test", n_test, low=1)
    integer(function, "n_points", n_points, low=10)
    integer(function, "points_per_period", points_per_period, low=2)
    number(function, "transient_periods", transient_periods, low=0)
    number(function, "spacing_periods", spacing_periods, low=0)
    number(function, "noise", noise, low=0)
    system = dysts_system(name, parameters)
    period = float(system.period)
    dt = period / points_per_period
    starts_t = (transient_periods + spacing_periods * np.arange(n_train + n_test)) * period
    orbit_t = np.concatenate([[0.0], starts_t]) if starts_t[0] > 0 else starts_t
    orbit = integrate(system, np.asarray(system.ic, dtype=np.float64), orbit_t)
    y0s = orbit[-(n_train + n_test) :]
    ts = dt * np.arange(n_points)
    clean = np.stack([integrate(system, y0, ts) for y0 in y0s])
    clean_data = DystsData(
        name=str(name),
        ts=ts,
        train=clean[:n_train],
        train_clean=clean[:n_train],
        test=clean[n_train:],
        noise=0.0,
        period=period,
        lyapunov=float(system.maximum_lyapunov_estimated),
        parameters={k: np.asarray(v).tolist() for k, v in system.params.items()},
    )
    return add_noise(clean_data, noise, seed=seed)


def add_noise(data: DystsData, noise: float, *, seed: int = 0) -> DystsData:
    """The same data with measurement noise on the training states.

    The training states are replaced by the clean ones plus Gaussian noise of ``noise`` times each state's standard deviation (``numpy.random.default_rng(seed)``), as
    :func:`dysts_data` adds it."""
    number("add_noise", "noise", noise, low=0)
    rng = np.random.default_rng(seed)
    sigma = noise * data.train_clean.std(axis=(0, 1))
    train = data.train_clean + sigma * rng.standard_normal(data.train_clean.shape)
    return dataclasses.replace(data, train=train, noise=float(noise))


def polynomial_coefficients(system, states, *, degree: int = 4, rtol: float = 1e-9):
    """dysts' field as a polynomial of ``degree``: Ξ ``(M, d)``, or ``None`` if it is not one.

    Least squares of the field at ``states`` (and at the same states spread by 50 % around
    their mean, so the fit is not confined to the attractor) on the monomials of
    :func:`physnet.approximators.monomial_exponents`; the field is polynomial when the
    residual is below ``rtol`` of the field's norm. Coefficients below 1e-9 of the largest
    are set to zero. A field that depends on time is not polynomial.
    """
    states = np.asarray(states, dtype=np.float64).reshape(-1, np.shape(states)[-1])
    rng = np.random.default_rng(0)
    centre = states.mean(axis=0)
    picks = states[rng.choice(len(states), size=min(len(states), 2000), replace=False)]
    points = np.concatenate([picks, centre + 1.5 * (picks - centre)])
    f = vector_field(system)
    values = np.stack([f(0.0, y) for y in points])
    shifted = np.stack([f(1.2345, y) for y in points[:50]])
    if not np.allclose(values[:50], shifted, rtol=1e-12, atol=0):
        return None
    exponents = monomial_exponents(points.shape[1], degree)
    scale = np.max(np.abs(points), axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    theta = monomials(points / scale, exponents)
    xi = np.linalg.lstsq(theta, values, rcond=None)[0]
    if np.linalg.norm(theta @ xi - values) > rtol * np.linalg.norm(values):
        return None
    xi = xi / np.prod(scale[None, :] ** np.asarray(exponents), axis=-1)[:, None]
    xi[np.abs(xi) < 1e-9 * np.abs(xi).max()] = 0.0
    return xi


def divergence(system, states, *, step: float = 1e-6) -> np.ndarray:
    """The divergence ∇·f of dysts' field at ``states``.

    Central differences with relative step ``step`` at states ``(N, d)``; returns ``(N,)``."""
    f = vector_field(system)
    states = np.asarray(states, dtype=np.float64)
    out = np.zeros(len(states))
    for j in range(states.shape[1]):
        h = step * np.maximum(1.0, np.abs(states[:, j]))
        plus, minus = states.copy(), states.copy()
        plus[:, j] += h
        minus[:, j] -= h
        out += np.array(
            [(f(0.0, a)[j] - f(0.0, b)[j]) for a, b in zip(plus, minus, strict=True)]
        ) / (2 * h)
    if not np.isfinite(out).all():
        raise DataError(f"{system.name}: the divergence is not finite on the states")
    return out
