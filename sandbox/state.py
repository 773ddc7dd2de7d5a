"""Service state kept as JSON on disk, so it survives a restart of the sandbox until `reset`."""
from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            # State holds secret values (vault secrets, account keys): readable by its owner only.
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as f:
                f.write(text)
            os.replace(temporary, self.path)
            self._text = text
