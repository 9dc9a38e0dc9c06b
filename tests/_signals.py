"""A training hook that signals this process at a given step (Ctrl-C, SIGTERM), for the
interruption and resume tests."""

import os
import signal

from physnet.training import Hook


class SignalAt(Hook):
    """Send this process ``sig`` (default SIGINT, Ctrl-C) when the step reaches ``step``."""

    def __init__(self, step, sig=signal.SIGINT):
        self.step, self.sig = step, sig

    def boundaries(self, steps):
        return [self.step]

    def __call__(self, step, model, history):
        if step == self.step:
            os.kill(os.getpid(), self.sig)
