"""A published bundle's signature in the artifact store (``<version>/manifest.sig``): read and checked
against the job's trusted keys before anything of that version is downloaded."""
from __future__ import annotations

from pathlib import Path

from toolkit.artifacts.stores import ArtifactNotFound, ArtifactStore
from toolkit.bundle.manifest import MANIFEST, SIGNATURE, Manifest
from toolkit.signing.signatures import Signature, SignatureRefused, verify
from toolkit.signing.trusted_keys import KnownKeys, Trust, TrustedKey, key_from_pem_file


def published_signature(store: ArtifactStore, version: str) -> bytes | None:
    try:
        return store.read(f"{version}/{SIGNATURE}")
    except ArtifactNotFound:
        return None


def verify_published(store: ArtifactStore, manifest: Manifest, trust: Trust) -> tuple[bytes, TrustedKey]:
    """The published signature of ``manifest`` and the trusted key it verifies with (else SignatureRefused)."""
    signature = published_signature(store, manifest.version)
    key = verify(manifest.to_json(), signature, trust, f"{store.describe()}/{manifest.version}/{MANIFEST}")
    return signature, key


def key_file_trust(store: ArtifactStore, version: str, path: Path) -> Trust:
    """Trust in one public key file (``inv verify --key``): whatever key the published signature names, it must
    verify with the key in the file."""
    signature = published_signature(store, version)
    key_id = None
    if signature is not None:
        try:
            key_id = Signature.from_json(signature, f"{version}/{SIGNATURE}").key_id
        except SignatureRefused:
            pass  # verification names what is wrong with it
    if key_id is None:
        return KnownKeys((), str(path)).accepting([], f"the key in {path}")
    return KnownKeys.only(key_from_pem_file(path, key_id), str(path), f"the key in {path}")
