"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (a CI job cancelled, a pod stopped).

The first signal raises :class:`Interrupted` in the main thread, wherever it is; the stage then cancels what it
started (a pipeline run, a Databricks run), records the interruption in the ledger and gives the lock back. A
further signal while that cleanup runs is said and otherwise ignored, so the cleanup is not cut short (it takes
a few calls; SIGKILL still stops everything, and the lock then frees itself within its lease)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``signal_name`` says which."""

    def __init__(self, signal_name: str = "SIGINT"):
        super().__init__(signal_name)
        self.signal_name = signal_name

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process a signal ended."""
        return 128 + int(getattr(signal, self.signal_name, signal.SIGINT))


def signal_name(exc: KeyboardInterrupt) -> str:
    return exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"


@contextmanager
def interruptible(say: Callable[[str], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise :class:`Interrupted` once (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping: list[str] = []

    def handler(number: int, frame) -> None:
        name = signal.Signals(number).name
        if stopping:
            say(f"{name} received: already stopping ({stopping[0]}); cancelling what this run started and "
                "giving the lock back first")
            return
        stopping.append(name)
        raise Interrupted(name)

    previous = {number: signal.signal(number, handler) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler_before in previous.items():
            signal.signal(number, handler_before)
