"""``inv fetch``: download a published bundle and verify every file against its manifest."""
from __future__ import annotations

import shutil
from pathlib import Path

from toolkit.artifacts.stores import ArtifactNotFound, ArtifactStore
from toolkit.artifacts.transfer import DEFAULT_CONCURRENCY, run_concurrently
from toolkit.bundle.manifest import MANIFEST, FileEntry, Manifest, sha256_file
from toolkit.bundle.verify import BundleError, verify_bundle
from toolkit.progress import Progress


class FetchError(Exception):
    pass


def read_published_manifest(store: ArtifactStore, version: str) -> Manifest:
    try:
        data = store.read(f"{version}/{MANIFEST}")
    except ArtifactNotFound:
        folders = store.list_folders()
        state = "incomplete (no manifest: re-run its publish)" if version in folders else "not published"
        raise FetchError(f"version {version} is {state} in {store.describe()}") from None
    return Manifest.from_json(data, f"{store.describe()}/{version}/{MANIFEST}")


def fetch(store: ArtifactStore, version: str, destination: Path, concurrency: int = DEFAULT_CONCURRENCY,
          show_progress: bool = True) -> Manifest:
    """Download ``version`` into ``destination`` (reused if it already holds that bundle intact).

    Every file is checked against the published manifest; a missing or tampered file fails the
    fetch with its name, and ``destination`` is left as it was.
    """
    manifest = read_published_manifest(store, version)
    if destination.is_dir():
        try:
            if verify_bundle(destination).to_json() == manifest.to_json():
                return manifest
        except BundleError:
            pass
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    progress = Progress(f"fetch {version}", len(manifest.files), enabled=show_progress)

    def download(entry: FileEntry) -> None:
        target = partial / entry.path
        try:
            store.download(f"{version}/{entry.path}", target)
        except ArtifactNotFound:
            raise FetchError(f"{entry.path}: missing from published version {version} in {store.describe()}") from None
        if target.stat().st_size != entry.size or sha256_file(target) != entry.sha256:
            raise FetchError(f"{entry.path}: does not match the manifest of version {version} (tampered or "
                             "corrupt): refusing the bundle")
        progress.advance(entry.size)

    try:
        run_concurrently(manifest.files, download, concurrency)
        (partial / MANIFEST).write_bytes(manifest.to_json())
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(destination, ignore_errors=True)
    partial.rename(destination)
    return manifest
