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
