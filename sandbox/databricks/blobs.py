"""File contents of a workspace (notebooks, workspace files, DBFS files), kept by digest on disk."""
from __future__ import annotations

import hashlib
from pathlib import Path


class BlobStore:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.folder / digest
        if not path.exists():
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(data)
            temporary.replace(path)
        return digest

    def path(self, digest: str) -> Path:
        return self.folder / digest

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()
