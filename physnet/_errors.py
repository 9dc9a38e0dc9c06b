"""Exceptions raised for user errors.

Every error a user can cause (bad files, bad shapes, unknown options, diverging training)
derives from :class:`PhysnetError`, so the command line can print one clear line for it.
"""


class PhysnetError(Exception):
    """Base class of physnet's user-facing errors."""


class DataError(PhysnetError, ValueError):
    """A data file or array is missing, malformed, non-finite or of the wrong shape."""


class ConfigError(PhysnetError, ValueError):
    """An option, argument or configuration value is not valid."""


class TrainingDivergedError(PhysnetError, FloatingPointError):
    """The training loss became non-finite.

    Attributes:
        step: the 0-based optimizer step whose loss (or gradient) was first non-finite.
        last_loss: the last finite training loss, or ``nan`` if there was none.
        history: the :class:`~physnet.training.History` up to the failure.

    Args:
        step, last_loss, history: the attributes above.
        message: the error text, when the default (which names ``step`` and ``last_loss``)
            does not fit, e.g. for an ensemble whose members all diverged.
    """

    def __init__(self, step: int, last_loss: float, history=None, *, message: str | None = None):
        self.step = int(step)
        self.last_loss = float(last_loss)
        self.history = history
        super().__init__(
            message
            or f"training diverged: the loss became non-finite at step {self.step} "
            f"(last finite loss {self.last_loss:.6g}); the model keeps the parameters of "
            f"the last finite step. Lower the learning rate or check the data."
        )


class TrainingInterrupted(PhysnetError):
    """Training was stopped by Ctrl-C (SIGINT) between two compiled chunks.

    Attributes:
        step: the optimizer steps completed; the model holds the parameters after them.
        checkpoint: the training checkpoint written at that step (resume from it), or None.
    """

    def __init__(self, step: int, checkpoint=None, *, message: str | None = None):
        self.step = int(step)
        self.checkpoint = checkpoint
        where = (
            f"; the state at that step is saved in {checkpoint}: resume from it"
            if checkpoint is not None
            else "; the model holds the parameters after that step"
        )
        super().__init__(message or f"training interrupted after step {self.step}{where}")
