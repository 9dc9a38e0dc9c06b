"""E4 settings as code: a dissipative HNN (small-friction form, learned γ) on the damped
Duffing oscillator, noise σ = 0.05.

The source's settings (SPEC.md sections 2-3), and physnet's recommended ones ("physnet best").
Fork this file to change an experiment; ``main.py`` runs whatever it returns.
"""

from physnet.reproduce import DataConfig, DHNNConfig


def get_config() -> DHNNConfig:
    """The source: α = 1, β = 2, γ = 0.1, N(0, 0.05²) noise on q, p, dq/dt, dp/dt; 100 trajectories of 50 points on t in [0, 5], 80/20
    split by trajectory; H = MLP 2-32-32-1 tanh, γ = softplus(raw) started at 0.01 (not at the
    truth); Adam lr 1e-3, 3000 full-batch steps."""
    return DHNNConfig(
        data=DataConfig(alpha=1.0, beta=2.0, gamma=0.1, noise=0.05, n_trajectories=100),
        width=32,
        depth=2,
        activation="tanh",
        gamma_init=0.01,
        learning_rate=1e-3,
        schedule="constant",
        steps=3000,
    )


def get_best_config() -> DHNNConfig:
    """physnet best for noisy data: the source's constant Adam rate 1e-3 for 10000 steps (the
    faster warm-up/cosine schedule of E3 fits the noise and biases γ)."""
    return DHNNConfig(
        data=DataConfig(alpha=1.0, beta=2.0, gamma=0.1, noise=0.05, n_trajectories=100),
        width=32,
        depth=2,
        activation="tanh",
        gamma_init=0.01,
        learning_rate=1e-3,
        schedule="constant",
        steps=10000,
    )
