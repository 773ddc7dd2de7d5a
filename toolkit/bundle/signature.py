"""A bundle's signature: ``manifest.sig`` next to ``manifest.json``, over the manifest's SHA-256 (the bundle
digest, which pins every file's digest). ``publish`` writes it; ``fetch``, every stage and ``swap`` check it
against the job's trusted keys before their first write. It is not one of the bundle's files, so a bundle
stays byte-identical across builds of one commit (and ``inv build`` needs no vault)."""
from __future__ import annotations

from pathlib import Path

from toolkit.artifacts.stores import ArtifactNotFound, ArtifactStore
from toolkit.bundle.manifest import MANIFEST, SIGNATURE, Manifest
from toolkit.signing.signatures import Signature, verify
from toolkit.signing.trusted_keys import Trust, TrustedKey


def sign_manifest(manifest: Manifest, signer) -> Signature:
    return signer.sign(manifest.to_json(), f"{MANIFEST} of {manifest.version}")


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


def verify_folder(bundle: Path, manifest: Manifest, trust: Trust) -> TrustedKey:
    """Whether a fetched bundle's manifest carries a signature ``trust`` accepts (its files are checked against
    the manifest by toolkit/bundle/verify.py)."""
    path = bundle / SIGNATURE
    return verify(manifest.to_json(), path.read_bytes() if path.is_file() else None, trust, str(bundle / MANIFEST))


def key_file_trust(store: ArtifactStore, version: str, path: Path) -> Trust:
    """Trust in one public key file (``--key``), for the key id the published signature names: the key is
    whatever the file holds, and the signature must verify with it."""
    from toolkit.signing.signatures import Signature
    from toolkit.signing.trusted_keys import KnownKeys, key_from_pem_file

    signature = published_signature(store, version)
    if signature is None:  # verification says "unsigned"
        return KnownKeys((), str(path)).accepting([], f"the key in {path}")
    key = key_from_pem_file(path, Signature.from_json(signature, f"{version}/{SIGNATURE}").key_id)
    return KnownKeys((key,), str(path)).accepting([key.name], f"the key in {path}")
