"""``inv publish``: upload a bundle to the artifact store, immutably.

- A version whose manifest is in the store is published: the same digests make a publish a
  no-op that says so; different content is refused and nothing is written.
- Otherwise the files go first, concurrently, skipping those already there intact (left by an
  interrupted publish); then one listing of the store verifies every file's size and digests
  against the manifest; the manifest goes last, create-only. An interrupted publish therefore
  leaves no manifest (the version does not look published), and a re-run completes it.
- Then the manifest's signature (``manifest.sig``, made with the signer's Key Vault key), over exactly the
  published manifest's bytes. A version whose publish stopped between the two, or published before releases
  were signed, is refused everywhere as unsigned until a publish of the same build signs it; a signature
  that does not match the published manifest is replaced the same way, and ``resign`` replaces a valid one
  (a key rotation). Only the build that made a manifest signs it: a published manifest that is not this
  build's is never signed from here.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from toolkit.artifacts.stores import ArtifactExists, ArtifactStore, StoredObject
from toolkit.concurrency import DEFAULT_CONCURRENCY, run_concurrently
from toolkit.bundle.manifest import MANIFEST, SIGNATURE, FileEntry, Manifest
from toolkit.artifacts.signature import published_signature
from toolkit.bundle.signature import sign_manifest
from toolkit.signing.signatures import Signature, SignatureRefused, Signer, verify
from toolkit.signing.trusted_keys import KnownKeys
from toolkit.bundle.verify import verify_bundle
from toolkit.progress import Progress


class PublishError(Exception):
    pass


@dataclass(frozen=True)
class PublishReport:
    version: str
    store: str
    outcome: str  # "published", "completed" (an interrupted publish finished) or "already-published"
    uploaded_files: int
    uploaded_bytes: int
    skipped_files: int
    seconds: float
    bundle_digest: str
    signature: str  # "written", "replaced" or "kept" (already signed)
    signed_by: str | None  # the key id of the signature written or kept


def differences(local: Manifest, remote: Manifest) -> list[str]:
    """Files whose presence, size or digest differ between two manifests."""
    mine = {f.path: (f.size, f.sha256) for f in local.files}
    theirs = {f.path: (f.size, f.sha256) for f in remote.files}
    return sorted(p for p in mine.keys() | theirs.keys() if mine.get(p) != theirs.get(p))


def _refuse_if_published_differently(store: ArtifactStore, manifest: Manifest) -> None:
    key = f"{manifest.version}/{MANIFEST}"
    remote = Manifest.from_json(store.read(key), f"{store.describe()}/{key}")
    changed = differences(manifest, remote)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise PublishError(f"version {manifest.version} is already published in {store.describe()} with different "
                           f"content ({shown}); versions are immutable: build a new version")


def _md5(path: Path) -> bytes:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).digest()


def _intact(entry: FileEntry, stored: StoredObject | None, bundle: Path) -> bool:
    if stored is None or stored.size != entry.size or stored.sha256 != entry.sha256:
        return False
    # A store that computes its own MD5 on receipt (Blob) proves the bytes, not just our metadata.
    return stored.md5 is None or stored.md5 == _md5(bundle / entry.path)


def _sign(store: ArtifactStore, manifest: Manifest, signer: Signer, resign: bool) -> tuple[str, str | None]:
    """Sign the published manifest, which must be this build's, unless the signer's current key signed it already
    (and not ``resign``): (what was done, the key id of the signature there now). A signature by another key (an
    older version of the key, another sandbox's) is replaced: this signer speaks for this build."""
    source = f"{store.describe()}/{manifest.version}/{MANIFEST}"
    published = store.read(f"{manifest.version}/{MANIFEST}")
    existing = published_signature(store, manifest.version)
    current = None
    if existing is not None:
        try:
            current = Signature.from_json(existing, f"{source} signature")
        except SignatureRefused:
            pass  # not a signature at all: replaced below
    over_published = current is not None and current.sha256 == hashlib.sha256(published).hexdigest()
    if over_published and not resign and _signed_by(signer, published, existing, source):
        return "kept", current.key_id
    if published != manifest.to_json():
        if over_published and not resign:  # another build's manifest, signed: not this build's to sign again
            return "kept", current.key_id
        raise PublishError(f"{source} is not this build's manifest (its commit, build time or tool versions differ): "
                           "only the build that made it may sign it; nothing was signed")
    signature = sign_manifest(manifest, signer)
    store.write(f"{manifest.version}/{SIGNATURE}", signature.to_json(), overwrite=True)
    return ("written" if existing is None else "replaced"), signature.key_id


def _signed_by(signer: Signer, document: bytes, signature: bytes, source: str) -> bool:
    try:
        verify(document, signature, KnownKeys.only(signer.trusted_key(), signer.describe(), "the signer"), source)
        return True
    except SignatureRefused:
        return False


def publish(bundle: Path, store: ArtifactStore, signer: Signer, concurrency: int = DEFAULT_CONCURRENCY,
            show_progress: bool = True, resign: bool = False) -> PublishReport:
    """Publish ``bundle`` signed by ``signer`` (toolkit/signing/signers.py: ``sign(document, what)``)."""
    started = time.monotonic()
    manifest = verify_bundle(bundle)  # never publish a bundle that does not match its own manifest
    prefix = f"{manifest.version}/"

    def report(outcome: str, uploaded: list[FileEntry], signing: tuple[str, str | None]) -> PublishReport:
        return PublishReport(manifest.version, store.describe(), outcome, len(uploaded),
                             sum(f.size for f in uploaded), len(manifest.files) - len(uploaded),
                             round(time.monotonic() - started, 3), manifest.digest, *signing)

    if store.stat(prefix + MANIFEST) is not None:
        _refuse_if_published_differently(store, manifest)
        return report("already-published", [], _sign(store, manifest, signer, resign))

    before = store.inventory(prefix)
    todo = [e for e in manifest.files if not _intact(e, before.get(prefix + e.path), bundle)]
    progress = Progress(f"publish {manifest.version}", len(todo), enabled=show_progress)

    def upload(entry: FileEntry) -> None:
        # Overwrite: only a file left by an interrupted publish of this unpublished version can be there.
        store.upload(prefix + entry.path, bundle / entry.path, entry.sha256, overwrite=True)
        progress.advance(entry.size)

    run_concurrently(todo, upload, concurrency)
    after = store.inventory(prefix)
    broken = [e.path for e in manifest.files if not _intact(e, after.get(prefix + e.path), bundle)]
    if broken:
        raise PublishError(f"verification after upload failed for {', '.join(broken[:5])}: the store does not "
                           "hold them as the manifest says; nothing was marked published, re-run to repair")
    try:
        store.write(prefix + MANIFEST, manifest.to_json(), overwrite=False)
    except ArtifactExists:  # another publisher finished first: fine if it published the same bundle
        _refuse_if_published_differently(store, manifest)
        return report("already-published", todo, _sign(store, manifest, signer, resign))
    return report("published" if len(todo) == len(manifest.files) else "completed", todo,
                  _sign(store, manifest, signer, resign))
