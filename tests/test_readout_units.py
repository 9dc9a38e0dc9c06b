"""Constants read out of a model trained on rescaled states are reported in the data's units
(``readout_in``): built here by hand, the port-Hamiltonian model that IS the true damped,
forced and driven oscillator in scaled variables ỹ = y / s (checked by comparing the fields)
must read out the true damping, input gain and force amplitude, not the scaled ones."""

import jax.numpy as jnp
import numpy as np
import pytest

import physnet as pn
from physnet.approximators import AbstractApproximator
from physnet.models import FourierForce, LearnedInputPort


class _ScaledH(AbstractApproximator):
    """H̃(q̃, p̃) = H(a q̃, b p̃) / c of H = Σ_i k_i q_i² / 2 + p_i² / 2 (one c = a_i b_i)."""

    def __init__(self, k, a, b):
        self.k, self.a, self.b = map(jnp.asarray, (k, a, b))
        self.in_features, self.out_features = 2 * len(k), 1

    def __call__(self, y):
        n = self.k.size
        q, p = self.a * y[:n], self.b * y[n:]
        c = self.a[0] * self.b[0]
        return jnp.atleast_1d((0.5 * jnp.sum(self.k * q**2) + 0.5 * jnp.sum(p**2)) / c)

    def config(self):
        return {}


def _true_field(y, u, t, k, gamma, gain, amp, omega):
    n = len(k)
    q, p = y[:n], y[n:]
    force = amp * jnp.cos(omega * t)
    return jnp.concatenate([p, -k * q - gamma * p + gain * u + force])


@pytest.mark.parametrize("a, b", [((0.5,), (2.0,)), ((0.5, 1.0), (2.0, 1.0))])
def test_scaled_port_model_reads_out_the_true_constants_in_the_data_units(a, b):
    """One degree of freedom: the scaled model (γ̃ = γ a/b, B̃ = B/b) has the true field in
    scaled variables, and reads out γ and B. Two with different b_i/a_i (a_i b_i equal, as
    canonical scaling makes them): one γ̃ is a damping γ̃ b_i/a_i per momentum in the file,
    reported as gamma_hat_i, never as one wrong gamma_hat."""
    n = len(a)
    k, gamma, gain = np.arange(1.0, n + 1), 0.3, 1.7
    a, b = np.asarray(a), np.asarray(b)
    scales = np.concatenate([a, b])
    model = pn.PortHNN(
        _ScaledH(k, a, b),
        "friction",
        force="none",
        gamma_init=float(gamma * a[0] / b[0]),
        input_port=LearnedInputPort(n, 1, gain_init=1.0),
    )
    model.input_port.gain[...] = jnp.asarray((gain / b)[:, None])
    one_ratio = np.allclose(b / a, b[0] / a[0])
    rng = np.random.default_rng(0)
    for _ in range(5 if one_ratio else 0):
        y, u = rng.normal(size=2 * n), rng.normal(size=1)
        scaled = model(0.0, jnp.asarray(y / scales), jnp.asarray(u))
        want = _true_field(jnp.asarray(y), u, 0.0, k, gamma, gain, 0.0, 1.0)
        np.testing.assert_allclose(scaled * scales, want, rtol=1e-12, atol=1e-12)
    raw, converted = model.readout(), model.readout_in(scales)
    assert raw["gamma_hat"] == pytest.approx(gamma * a[0] / b[0], rel=1e-12)
    np.testing.assert_allclose(
        [converted[f"input_gain_{i + 1}_1"] for i in range(n)], np.full(n, gain), rtol=1e-12
    )
    if one_ratio:
        assert converted["gamma_hat"] == pytest.approx(gamma, rel=1e-12)
    else:
        assert "gamma_hat" not in converted
        np.testing.assert_allclose(
            [converted[f"gamma_hat_{i + 1}"] for i in range(n)],
            gamma * (a[0] / b[0]) * b / a,
            rtol=1e-12,
        )
    assert model.readout_in(None) == raw == model.readout_in(np.ones(2 * n))


def test_force_amplitudes_carry_the_momentum_scale_and_frequencies_do_not():
    """F(t) drives ṗ_i, so A_k,i = b_i Ã_k,i; ω_k is a rate (time is never rescaled)."""
    force = FourierForce(2, 2, omega_init=(0.7, 1.9), amplitude_init=0.4)
    scales = np.array([3.0, 5.0, 2.0, 0.5])
    raw, converted = force.readout(), force.readout_in(scales)
    assert set(raw) == set(converted)
    for key, value in raw.items():
        if key.startswith("force_frequency"):
            assert converted[key] == value
        else:
            i = int(key.split("_")[3]) - 1
            assert converted[key] == pytest.approx(value * scales[2 + i], rel=1e-14)


def test_an_lnn_reports_its_constants_unconverted():
    """An LNN's (q, q̇) share one scale per degree of freedom (γ unchanged) and its gain is
    relative to the learned L's own scale: nothing to convert."""
    model = pn.build_model("lnn", 2, "mlp", width=4, depth=1, dissipation="friction")
    assert model.readout_in(np.array([3.0, 3.0])) == model.readout()
