"""Exact input signals of time for simulation: random multisines, chirps, steps, formulas."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import sympy
from jax import Array

from .._checks import integer, number
from .._errors import ConfigError
from .._formula import parse_formula
from ._base import AbstractSignal


class Zero(AbstractSignal):
    """u(t) = 0 with ``m`` channels (an undriven run of a driven system)."""

    m: int = eqx.field(static=True, default=1)

    @property
    def input_size(self) -> int:
        return self.m

    def __call__(self, t) -> Array:
        return jnp.zeros((self.m,), dtype=jnp.result_type(t, jnp.float64))


class Multisine(AbstractSignal):
    r"""A sum of sines per channel: u_j(t) = Σ_k a_{kj} sin(ω_k t + φ_{kj}).

    With :meth:`random` the amplitudes are equal, the frequencies a grid up to a band edge
    and the phases random (Schroeder's random-phase multisine), which is band-limited noise
    with a flat spectrum and a bounded peak: the usual excitation for identification.

    Attributes:
        amplitudes: ``(K, m)``.
        frequencies: angular frequencies ω_k, ``(K,)``.
        phases: ``(K, m)``.
    """

    amplitudes: Array
    frequencies: Array
    phases: Array

    @property
    def input_size(self) -> int:
        return int(self.amplitudes.shape[-1])

    def __call__(self, t) -> Array:
        arg = self.frequencies[:, None] * t + self.phases
        return jnp.sum(self.amplitudes * jnp.sin(arg), axis=0)

    @classmethod
    def random(
        cls,
        key: Array,
        input_size: int = 1,
        *,
        rms: float = 1.0,
        max_frequency: float = 3.0,
        n_terms: int = 10,
    ) -> Multisine:
        """A random-phase multisine with ``n_terms`` angular frequencies
        ``max_frequency·k/n_terms`` (k = 1..K), phases uniform on [0, 2π) from ``key`` and
        equal amplitudes giving root-mean-square ``rms`` per channel.

        Raises:
            ConfigError: for a non-positive size, rms, band edge or number of terms.
        """
        integer("Multisine", "input_size", input_size, low=1)
        integer("Multisine", "n_terms", n_terms, low=1)
        rms = number("Multisine", "rms", rms, positive=True)
        max_frequency = number("Multisine", "max_frequency", max_frequency, positive=True)
        frequencies = max_frequency * jnp.arange(1, n_terms + 1, dtype=jnp.float64) / n_terms
        phases = jax.random.uniform(key, (n_terms, input_size), jnp.float64, 0.0, 2 * math.pi)
        amplitude = rms * math.sqrt(2.0 / n_terms)
        return cls(jnp.full((n_terms, input_size), amplitude), frequencies, phases)


class Chirp(AbstractSignal):
    r"""A linear chirp: a sine whose angular frequency sweeps from ω_0 to ω_1.

    u(t) = a sin(ω_0 t + (ω_1 - ω_0) t² / (2 t_1)): the angular frequency is ω_0 at t = 0 and
    ω_1 at t = t_1 (the same on every channel).

    Args:
        amplitude: a.
        omega0, omega1: start and end angular frequencies (>= 0).
        t1: sweep duration (> 0).
        input_size: channels m.
    """

    amplitude: float = eqx.field(static=True)
    omega0: float = eqx.field(static=True)
    omega1: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    m: int = eqx.field(static=True, default=1)

    def __init__(self, amplitude=1.0, omega0=0.2, omega1=3.0, t1=10.0, input_size: int = 1):
        self.amplitude = number("Chirp", "amplitude", amplitude)
        self.omega0 = number("Chirp", "omega0", omega0, low=0)
        self.omega1 = number("Chirp", "omega1", omega1, low=0)
        self.t1 = number("Chirp", "t1", t1, positive=True)
        self.m = integer("Chirp", "input_size", input_size, low=1)

    @property
    def input_size(self) -> int:
        return self.m

    def __call__(self, t) -> Array:
        phase = self.omega0 * t + (self.omega1 - self.omega0) * t**2 / (2 * self.t1)
        return jnp.full((self.m,), self.amplitude) * jnp.sin(phase)


class Step(AbstractSignal):
    """u(t) = ``amplitude`` for t >= ``t_step``, 0 before (every channel)."""

    amplitude: float = eqx.field(static=True)
    t_step: float = eqx.field(static=True)
    m: int = eqx.field(static=True, default=1)

    def __init__(self, amplitude=1.0, t_step=0.0, input_size: int = 1):
        self.amplitude = number("Step", "amplitude", amplitude)
        self.t_step = number("Step", "t_step", t_step)
        self.m = integer("Step", "input_size", input_size, low=1)

    @property
    def input_size(self) -> int:
        return self.m

    def __call__(self, t) -> Array:
        return jnp.where(t >= self.t_step, self.amplitude, 0.0) * jnp.ones((self.m,))


class Expression(AbstractSignal):
    """Signals given as formulas of ``t``, one per channel.

    As ``physnet simulate --input "0.5*sin(1.3*t)"`` gives them: read by physnet's formula
    reader (no Python code is run) and evaluated exactly inside the integrator.

    Args:
        formulas: one formula or a sequence of them (one per channel).

    Raises:
        ConfigError: one line for a formula outside the grammar or one that uses a name
            other than ``t``.
    """

    formulas: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, formulas):
        formulas = (formulas,) if isinstance(formulas, str) else tuple(formulas)
        if not formulas:
            raise ConfigError("an input needs at least one formula of t")
        for text in formulas:
            parse_formula(text, ["t"], what="input")
        self.formulas = formulas

    @property
    def input_size(self) -> int:
        return len(self.formulas)

    def __call__(self, t) -> Array:
        t_symbol = sympy.Symbol("t")
        values = []
        for text in self.formulas:
            fn = sympy.lambdify([t_symbol], parse_formula(text, ["t"], what="input"), "jax")
            values.append(jnp.asarray(fn(t), dtype=jnp.float64) * jnp.ones_like(t))
        return jnp.stack(values)
