"""Published versions of the artifact store, with their commit and build time."""
from __future__ import annotations

from dataclasses import dataclass

from toolkit.artifacts.stores import ArtifactNotFound, ArtifactStore
from toolkit.bundle.manifest import MANIFEST, Manifest, ManifestError


@dataclass(frozen=True)
class PublishedVersion:
    version: str
    complete: bool
    commit: str | None = None
    build_time: str | None = None
    files: int = 0
    bundle_digest: str | None = None


def list_versions(store: ArtifactStore) -> list[PublishedVersion]:
    """Every version folder; complete ones (with a manifest) first by build time, incomplete ones after."""
    found = []
    for version in store.list_folders():
        try:
            manifest = Manifest.from_json(store.read(f"{version}/{MANIFEST}"))
        except (ArtifactNotFound, ManifestError):
            found.append(PublishedVersion(version, complete=False))
            continue
        found.append(PublishedVersion(version, True, manifest.commit, manifest.build_time, len(manifest.files),
                                      manifest.digest))
    return sorted(found, key=lambda v: (not v.complete, v.build_time or "", v.version))
