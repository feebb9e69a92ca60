"""How a command ends when it is asked to stop: SIGTERM (`docker stop`, `kill`, a scheduler's cancel) as
Ctrl-C, once. The run in progress is stored INTERRUPTED with its latest checkpoint for the next attempt."""

from __future__ import annotations

import contextlib
import os
import signal

_STATE = {"stopping": False, "busy": False}


def interrupt_on_sigterm(worker: bool = False) -> None:
    """SIGTERM (and, in a pool worker, SIGINT too) raises KeyboardInterrupt the first time only: a second
    signal (Ctrl-C reaches a worker, then its parent's SIGTERM) must not cut Sacred's INTERRUPTED save
    short. A worker with no run in progress leaves at once, without a traceback."""

    def interrupt(signum, frame):
        if _STATE["stopping"]:
            return
        _STATE["stopping"] = True
        if worker and not _STATE["busy"]:
            os._exit(130)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    if worker:
        signal.signal(signal.SIGINT, interrupt)


@contextlib.contextmanager
def running():
    """Marks the worker busy with a run (a stop signal then interrupts the run instead of ending it)."""
    _STATE["busy"] = True
    try:
        yield
    finally:
        _STATE["busy"] = False
