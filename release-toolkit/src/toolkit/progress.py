"""Progress of long work on stderr: one rewritten line on a terminal, a line per tenth otherwise (CI logs)."""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, unit: str = "files", stream: TextIO | None = None,
                 enabled: bool = True):
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.done = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_tenth = -1
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def advance(self, nbytes: int = 0) -> None:
        with self._lock:
            self.done += 1
            self.bytes += nbytes
            if self.enabled:
                self._show()

    def _show(self) -> None:
        line = (f"{self.label}: {self.done}/{self.total} {self.unit}, {self.bytes / 1e6:.1f} MB, "
                f"{time.monotonic() - self._started:.1f}s")
        if self._tty:
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
            self.stream.flush()
            return
        tenth = self.done * 10 // self.total
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            print(line, file=self.stream, flush=True)


HEARTBEAT_SECONDS = 5.0


class Heartbeat:
    """Says what a long wait is on, with its elapsed time, at least every ``every`` seconds: in a CI log a line
    every few seconds tells a slow step from a hung one. ``update`` changes what is said."""

    def __init__(self, say, state: str, every: float | None = None):
        self.say, self.state, self.every = say, state, every or HEARTBEAT_SECONDS
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def update(self, state: str) -> None:
        self.state = state

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.0f}s"

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            self.say(f"{self.state} ({self.elapsed()})")

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every)
