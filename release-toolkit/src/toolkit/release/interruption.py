"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (a CI job cancelled, a pod stopped).

The first signal raises :class:`Interrupted` in the main thread, wherever it is; the stage then cancels what it
started (a pipeline run, a Databricks run), records the interruption in the ledger and gives the lock back. A
further signal while that cleanup runs is said and otherwise ignored, so the cleanup is not cut short (it takes
a few calls; SIGKILL still stops everything, and the lock then frees itself within its lease). Inside a
:func:`shielded` section (a ledger record, the lock's release) a first signal is held and raised when the section
ends, so those few calls are never cut in half either."""
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


class _Signals:
    """What the handler knows: the signal being acted on, one held by a shielded section, how deep the shield is."""

    def __init__(self) -> None:
        self.stopping: str | None = None
        self.held: str | None = None
        self.shield = 0


_STATE = _Signals()


@contextmanager
def shielded() -> Iterator[None]:
    """A few calls a signal must not cut in half: a first signal arriving inside is raised when they end."""
    _STATE.shield += 1
    try:
        yield
    finally:
        _STATE.shield -= 1
    if _STATE.shield == 0 and _STATE.held:
        name, _STATE.held = _STATE.held, None
        raise Interrupted(name)


@contextmanager
def interruptible(say: Callable[[str], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise :class:`Interrupted` once (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def tell(line: str) -> None:
        try:  # a signal that lands while stderr is being written: a second write there would raise
            say(line)
        except RuntimeError:
            pass

    def handler(number: int, frame) -> None:
        name = signal.Signals(number).name
        if _STATE.stopping:
            tell(f"{name} received: already stopping ({_STATE.stopping}); cancelling what this run started and "
                 "giving the lock back first")
            return
        _STATE.stopping = name
        if _STATE.shield:
            _STATE.held = name
            tell(f"{name} received: stopping once the ledger record or the lock's release under way is done")
            return
        raise Interrupted(name)

    previous = {number: signal.signal(number, handler) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler_before in previous.items():
            signal.signal(number, signal.SIG_DFL if handler_before is None else handler_before)
        _STATE.stopping = _STATE.held = None
