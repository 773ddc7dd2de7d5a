"""``inv fetch``: download a published bundle and verify every file against its manifest.

A fetch never deletes what it did not create: it downloads into a fresh folder of its own next to the
destination and moves that into place in one rename. A destination that already holds something else is
refused (the toolkit's own cache of fetched bundles may be refreshed: the toolkit made it).

The manifest's signature is checked against the job's trusted keys before anything is downloaded, and goes
into the folder with the bundle (``manifest.sig``) for the stage that deploys it to check again."""
from __future__ import annotations

import errno
import glob
import os
import shutil
import tempfile
import time
from pathlib import Path

from toolkit.artifacts.stores import ArtifactNotFound, ArtifactStore
from toolkit.bundle.manifest import BUNDLE_NAME, MANIFEST, SIGNATURE, FileEntry, Manifest, ManifestError, sha256_file
from toolkit.artifacts.signature import verify_published
from toolkit.bundle.verify import BundleError, verify_bundle
from toolkit.concurrency import DEFAULT_CONCURRENCY, run_concurrently
from toolkit.local_files import write_atomically
from toolkit.progress import Progress
from toolkit.signing.trusted_keys import Trust

_OURS = (".partial", ".stale")  # the suffixes of the folders a fetch makes next to its destination
_STALE_AFTER_S = 3600  # a folder of ours this old belongs to a fetch that died (killed): removed


class FetchError(Exception):
    pass


def read_published_manifest(store: ArtifactStore, version: str, expected_digest: str | None = None) -> Manifest:
    """The manifest published as ``version``, refused unless it names this repository's bundle, that same
    version (an edited or misplaced manifest would deploy under another version's name) and, when given,
    the digest the caller expects."""
    source = f"{store.describe()}/{version}/{MANIFEST}"
    try:
        data = store.read(f"{version}/{MANIFEST}")
    except ArtifactNotFound:
        folders = store.list_folders()
        state = "incomplete (no manifest: re-run its publish)" if version in folders else "not published"
        raise FetchError(f"version {version} is {state} in {store.describe()}") from None
    manifest = Manifest.from_json(data, source)
    if manifest.name != BUNDLE_NAME:
        raise FetchError(f"{source}: the manifest is of bundle {manifest.name!r}, not {BUNDLE_NAME!r}: refusing it")
    if manifest.version != version:
        raise FetchError(f"{source}: the manifest says version {manifest.version!r} but was published as {version!r} "
                         "(edited, or stored under the wrong version): refusing it")
    if expected_digest is not None and manifest.digest != expected_digest:
        raise FetchError(f"{source}: bundle digest {manifest.digest} is not the expected {expected_digest}: "
                         "refusing it")
    return manifest


def fetch(store: ArtifactStore, version: str, destination: Path, trust: Trust,
          concurrency: int = DEFAULT_CONCURRENCY, show_progress: bool = True, expected_digest: str | None = None,
          refresh: bool = False) -> Manifest:
    """Download ``version`` into ``destination`` and return its manifest, once its signature verifies with a
    key ``trust`` accepts (else SignatureRefused, and nothing is written).

    A destination that already holds that bundle intact is reused as it is. Otherwise it must not exist
    or be an empty folder: anything else is refused before any download, and nothing in it is touched.
    ``refresh`` is for the toolkit's own cache: a cached copy that is not intact is replaced. Every file
    is checked against the published manifest; a missing or tampered file fails the fetch with its name
    and leaves ``destination`` as it was.
    """
    manifest = read_published_manifest(store, version, expected_digest)
    signature, _ = verify_published(store, manifest, trust)
    if _holds(destination, manifest):
        if (destination / SIGNATURE).is_file() and (destination / SIGNATURE).read_bytes() == signature:
            return manifest
        write_atomically(destination / SIGNATURE, signature)  # re-signed since (a key rotation)
        return manifest
    if destination.exists() and not destination.is_dir():
        raise FetchError(f"{destination}: exists and is not a folder: give a new or empty folder")
    if destination.is_dir() and any(destination.iterdir()) and not refresh:
        raise FetchError(f"{destination}: not empty, and not an intact copy of version {version}: nothing was "
                         "written; give a new or empty folder")
    destination.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_folders(destination)
    partial = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent))
    try:
        os.chmod(partial, 0o755)  # mkdtemp's 0700 would keep the bundle from other users of the machine (CI agents)
        _download(store, version, manifest, partial, concurrency, show_progress)
        (partial / SIGNATURE).write_bytes(signature)
        verify_bundle(partial)  # all there, as downloaded, before it takes the destination's name
        _move_into_place(partial, destination, manifest, refresh)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return manifest


def _holds(folder: Path, manifest: Manifest) -> bool:
    """Whether ``folder`` is an intact copy of the bundle ``manifest`` describes."""
    if not (folder / MANIFEST).is_file():
        return False
    try:
        return verify_bundle(folder).to_json() == manifest.to_json()
    except (BundleError, ManifestError, OSError):  # damaged, edited or unreadable: not that bundle
        return False


def _download(store: ArtifactStore, version: str, manifest: Manifest, into: Path, concurrency: int,
              show_progress: bool) -> None:
    progress = Progress(f"fetch {version}", len(manifest.files), enabled=show_progress)

    def download(entry: FileEntry) -> None:
        target = into / entry.path
        try:
            store.download(f"{version}/{entry.path}", target)
        except ArtifactNotFound:
            raise FetchError(f"{entry.path}: missing from published version {version} in {store.describe()}") from None
        if target.stat().st_size != entry.size or sha256_file(target) != entry.sha256:
            raise FetchError(f"{entry.path}: does not match the manifest of version {version} (tampered or "
                             "corrupt): refusing the bundle")
        progress.advance(entry.size)

    run_concurrently(manifest.files, download, concurrency)
    (into / MANIFEST).write_bytes(manifest.to_json())


def _move_into_place(partial: Path, destination: Path, manifest: Manifest, refresh: bool) -> None:
    """One rename: a missing or empty destination is replaced by the downloaded folder. A copy of the same bundle
    placed meanwhile by another fetch is kept (a run may be reading it); a stale cache (``refresh``) is moved
    aside and replaced."""
    for attempt in range(2):
        try:
            os.rename(partial, destination)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise FetchError(f"{destination}: cannot be put in place: {exc.strerror}") from None
        if _holds(destination, manifest):
            return
        if not refresh or attempt:
            raise FetchError(f"{destination}: filled by something else during the download: nothing was written "
                             "there; give a new or empty folder")
        aside = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".stale", dir=destination.parent))
        try:
            os.replace(destination, aside / "bundle")
        except FileNotFoundError:  # another fetch moved it first
            pass
        shutil.rmtree(aside, ignore_errors=True)


def _remove_stale_folders(destination: Path) -> None:
    """Folders of this destination left by a fetch that was killed (those of a live fetch are younger)."""
    cutoff = time.time() - _STALE_AFTER_S
    for suffix in _OURS:
        for folder in destination.parent.glob(f".{glob.escape(destination.name)}.*{suffix}"):
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                pass
