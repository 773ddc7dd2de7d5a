"""``inv verify``: check a published bundle offline (a public key, no vault): its signature, every file against
its manifest, and which promotion evidence an environment would accept."""
from __future__ import annotations

import tempfile
from pathlib import Path

from toolkit.artifacts.fetch import fetch, read_published_manifest
from toolkit.artifacts.stores import ArtifactStore
from toolkit.bundle.manifest import SIGNATURE
from toolkit.artifacts.signature import verify_published
from toolkit.release.promotion import evidence_refusal
from toolkit.signing.signatures import Signature
from toolkit.signing.trusted_keys import Trust


def verify_published_bundle(store: ArtifactStore, version: str, trust: Trust, evidence_of: dict[str, Trust] | None,
                            show_progress: bool = False) -> dict:
    """What was checked (raises SignatureRefused or FetchError at the first check that fails). ``evidence_of``:
    for each stage, the Trust its promotion evidence must verify with (reported, not raised)."""
    manifest = read_published_manifest(store, version)
    document, key = verify_published(store, manifest, trust)
    signature = Signature.from_json(document, f"{version}/{SIGNATURE}")
    with tempfile.TemporaryDirectory(prefix="parking-verify-") as folder:
        fetch(store, version, Path(folder) / version, trust, show_progress=show_progress)
    result = {"version": version, "bundle_digest": manifest.digest, "files": len(manifest.files),
              "signed_by": key.name, "key_id": signature.key_id, "algorithm": signature.algorithm}
    if evidence_of is not None:
        result["evidence"] = {name: evidence_refusal(store, version, manifest.digest, name, stage_trust)
                              for name, stage_trust in evidence_of.items()}
    return result
