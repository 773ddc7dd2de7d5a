"""Service state kept as JSON on disk, so it survives a restart of the sandbox until `reset`."""
from __future__ import annotations

import copy
import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


class JsonState:
    def __init__(self, path: Path, default: Callable[[], Any]):
        self.path = path
        self._lock = threading.RLock()
        self._data = json.loads(path.read_text()) if path.exists() else default()

    def read(self) -> Any:
        with self._lock:
            return copy.deepcopy(self._data)

    @contextmanager
    def update(self) -> Iterator[Any]:
        """Change the state in place; it is written to disk (atomically) when the block ends without error."""
        with self._lock:
            working = copy.deepcopy(self._data)
            yield working
            self._data = working
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            # State holds secret values (vault secrets, account keys): readable by its owner only.
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as f:
                f.write(json.dumps(working, indent=1, sort_keys=True))
            os.replace(temporary, self.path)
