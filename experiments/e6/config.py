"""E6 settings as code: KANs fitted to f(x, y) = x·y; sparsity, pruning, multiplication
nodes and the exported formula.

pykan's x·y tutorial setup (the source's Figures 12-13), with Adam instead of L-BFGS.
Fork this file to change the experiment; ``main.py`` runs whatever it returns.
"""

from physnet.reproduce import E6Config


def get_config() -> E6Config:
    """1000 training and 1000 test points uniform on [-1, 1]²; a plain [2, 5, 1] KAN (G = 5,
    cubic) trained by Adam 1e-2 with cosine decay for 2000 steps; the same network and a
    [2, [1, 1], 1] multiplication KAN trained 1500 steps with the L1 + entropy regulariser
    (λ = 1e-3), pruned (node threshold 1e-2, edge threshold 3e-2), fine-tuned 1000 steps;
    the exported formula's coefficients refitted with relative threshold 1e-6."""
    return E6Config(
        n_train=1000,
        n_test=1000,
        data_seed=0,
        model_seed=0,
        widths=(2, 5, 1),
        mult_widths=(2, (1, 1), 1),
        grid=5,
        order=3,
        learning_rate=1e-2,
        steps=2000,
        sparsity=1e-3,
        sparse_steps=1500,
        finetune_steps=1000,
        node_threshold=1e-2,
        edge_threshold=3e-2,
        refit_threshold=1e-6,
    )


def get_best_config() -> None:
    """No separate "physnet best" for E6: the source reports no number to beat; the plain
    KAN's test RMSE is already below pykan's tutorial value."""
    return None
