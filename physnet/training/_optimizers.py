"""Optimizer presets: Adam with a constant or a warm-up-cosine learning rate."""

from __future__ import annotations

import optax

from .._errors import ConfigError

SCHEDULES = ("constant", "warmup-cosine")


def make_optimizer(
    learning_rate: float, steps: int, schedule: str = "constant"
) -> optax.GradientTransformation:
    """Adam at ``learning_rate`` with a constant or a warm-up-cosine schedule.

    ``"constant"`` is the source's setting. ``"warmup-cosine"`` is physnet's recommendation:
    linear warm-up from lr/10 to lr over the first 5 % of the steps, then cosine decay to
    lr/300; it tolerates a larger peak rate than a constant schedule, and its small final rate
    lets the fit settle.

    Args:
        learning_rate: the (peak) learning rate.
        steps: the number of optimizer steps the schedule spans.
        schedule: one of :data:`SCHEDULES`.

    Returns:
        An optax optimizer.

    Raises:
        ConfigError: on an unknown ``schedule``.
    """
    if schedule == "constant":
        return optax.adam(learning_rate)
    if schedule == "warmup-cosine":
        lr = optax.warmup_cosine_decay_schedule(
            learning_rate / 10, learning_rate, max(1, steps // 20), steps, learning_rate / 300
        )
        return optax.adam(lr)
    raise ConfigError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
