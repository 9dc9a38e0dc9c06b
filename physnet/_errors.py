"""Exceptions raised for user errors.

Every error a user can cause (bad files, bad shapes, unknown options, diverging training)
derives from :class:`PhysnetError`, so the command line can print one clear line for it.
"""

from __future__ import annotations


class PhysnetError(Exception):
    """Base class of physnet's user-facing errors."""


class DataError(PhysnetError, ValueError):
    """A data file or array is missing, malformed, non-finite or of the wrong shape."""


class NonFiniteError(DataError):
    """An array holds NaN or infinity where finite values are needed (e.g. a simulation that
    blew up)."""


class UnknownClassError(DataError):
    """A file (a checkpoint) names a class this process does not know.

    Attributes:
        class_name: the class name the file records.
    """

    def __init__(self, class_name: str, message: str):
        self.class_name = class_name
        super().__init__(message)


class ConfigError(PhysnetError, ValueError):
    """An option, argument or configuration value is not valid."""


class TrainingDivergedError(PhysnetError, FloatingPointError):
    """The training loss became non-finite (or the parameters' norm exceeded its bound).

    Attributes:
        step: the 0-based optimizer step whose loss (or gradient) was first non-finite.
        last_loss: the last finite training loss, or ``nan`` if there was none.
        history: the :class:`~physnet.training.History` up to the failure.
        bound: the parameter-norm bound that counted as divergence, or None.
        kept: where the last good parameters are (the end of the message's second clause).
        saved: the training checkpoint holding them, or None.

    Args:
        step, last_loss, history, bound, kept, saved: the attributes above.
        message: the error text, when the default (made from the attributes) does not fit,
            e.g. for an ensemble whose members all diverged.
    """

    def __init__(
        self,
        step: int,
        last_loss: float,
        history=None,
        *,
        message: str | None = None,
        bound: float | None = None,
        kept: str = "the model keeps the parameters of the last good step",
        saved=None,
    ):
        self.step = int(step)
        self.last_loss = float(last_loss)
        self.history = history
        self.bound = bound
        self.kept = kept
        self.saved = saved
        super().__init__(message or self._describe())

    def _describe(self) -> str:
        what = "the loss, a gradient or an update became non-finite"
        if self.bound is not None:
            what += f", or the parameters' norm exceeded {self.bound:g}"
        saved = f" (saved in {self.saved})" if self.saved is not None else ""
        return (
            f"training diverged at step {self.step}: {what} (last finite loss "
            f"{self.last_loss:.6g}); {self.kept}{saved}. Lower the learning rate or check the "
            "data."
        )

    def kept_by(self, kept: str) -> TrainingDivergedError:
        """The same error, saying the last good parameters are ``kept`` elsewhere (e.g. in
        a run directory)."""
        return TrainingDivergedError(
            self.step, self.last_loss, self.history, bound=self.bound, kept=kept
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


class DistributedError(PhysnetError, RuntimeError):
    """A distributed run (several processes) could not start or lost a peer.

    A peer did not join within the timeout, or one died mid-run (the others stop; resume
    from the last training checkpoint)."""
