"""E1 settings as code: an HNN on the conservative Duffing oscillator, clean data.

The source's settings (SPEC.md sections 2-3), and physnet's recommended ones ("physnet best").
Fork this file to change an experiment; ``main.py`` runs whatever it returns.
"""

from physnet.reproduce import DataConfig, HNNConfig


def get_config() -> HNNConfig:
    """The source: α = 1, β = 2, γ = 0; 100 trajectories of 50 points on t in [0, 5], 80/20
    split by trajectory; H = MLP 2-32-32-1 tanh; Adam lr 1e-3, 3000 full-batch steps."""
    return HNNConfig(
        data=DataConfig(alpha=1.0, beta=2.0, gamma=0.0, noise=0.0, n_trajectories=100),
        width=32,
        depth=2,
        activation="tanh",
        learning_rate=1e-3,
        schedule="constant",
        steps=3000,
        compare_node=True,  # the neural ODE baseline on the same data
        rollout_t1=100.0,
    )


def get_best_config() -> HNNConfig:
    """physnet best: H = MLP 2-64-64-1, 6000 steps of Adam with warm-up to 1e-2 and cosine
    decay to 3.3e-5."""
    return HNNConfig(
        data=DataConfig(alpha=1.0, beta=2.0, gamma=0.0, noise=0.0, n_trajectories=100),
        width=64,
        depth=2,
        activation="tanh",
        learning_rate=1e-2,
        schedule="warmup-cosine",
        steps=6000,
        compare_node=False,
        rollout_t1=100.0,
    )
