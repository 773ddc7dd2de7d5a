"""The bundle manifest: name, version, commit, build time, tool versions, and every file's path,
role, size and sha256. Serialized canonically (sorted keys, fixed layout) so that the same
build always gives the same bytes."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"  # the manifest's detached signature (toolkit/bundle/signature.py): not one of its files
BUNDLE_NAME = "parking-sensors"  # what every bundle of this repository is called in its manifest
ROLES = ("wheel", "dependency", "jar", "notebook", "cluster-config", "adf", "arm-template", "arm-parameters",
         "script", "environment", "signing-config", "toolkit", "toolkit-requirements", "intended-changes")
_CHUNK = 1 << 20


class ManifestError(ValueError):
    pass


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    path: str
    role: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    commit: str
    build_time: str
    tools: dict[str, str]
    files: tuple[FileEntry, ...]

    def to_json(self) -> bytes:
        document = asdict(self)
        document["files"] = [asdict(f) for f in sorted(self.files, key=lambda f: f.path)]
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")

    @property
    def digest(self) -> str:
        """The bundle's digest: the sha256 of its manifest, which pins every file's digest."""
        return hashlib.sha256(self.to_json()).hexdigest()

    def file(self, path: str) -> FileEntry:
        for entry in self.files:
            if entry.path == path:
                return entry
        raise KeyError(path)

    def by_role(self, role: str) -> list[FileEntry]:
        return [f for f in self.files if f.role == role]

    @classmethod
    def from_json(cls, data: bytes, source: str = MANIFEST) -> "Manifest":
        try:
            document: dict[str, Any] = json.loads(data)
            files = tuple(FileEntry(**entry) for entry in document.pop("files"))
            manifest = cls(files=files, **document)
        except (ValueError, TypeError, KeyError) as exc:
            raise ManifestError(f"{source}: not a valid bundle manifest ({exc})") from None
        for entry in manifest.files:
            if entry.role not in ROLES or entry.path.startswith("/") or ".." in entry.path.split("/"):
                raise ManifestError(f"{source}: bad file entry {entry.path!r} (role {entry.role!r})")
        return manifest
