"""Service state kept as JSON on disk, so it survives a restart of the sandbox until `reset`."""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from toolkit.local_files import write_atomically


class JsonState:
    """The state is kept as its JSON text: a read is a parse of it (several times faster than a deep copy)
    and an update parses, changes, serializes and writes once, so requests stay cheap as the state grows."""

    def __init__(self, path: Path, default: Callable[[], Any]):
        self.path = path
        self._lock = threading.RLock()
        self._text = path.read_text() if path.exists() else json.dumps(default())

    def read(self) -> Any:
        with self._lock:
            return json.loads(self._text)

    @contextmanager
    def update(self) -> Iterator[Any]:
        """Change the state in place; it is written to disk (atomically) when the block ends without error."""
        with self._lock:
            working = json.loads(self._text)
            yield working
            text = json.dumps(working, separators=(",", ":"))
            # State holds secret values (vault secrets, account keys): readable by its owner only.
            write_atomically(self.path, text, 0o600)
            self._text = text
