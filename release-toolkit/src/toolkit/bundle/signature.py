"""A bundle's signature: ``manifest.sig`` next to ``manifest.json``, over the manifest's SHA-256 (the bundle
digest, which pins every file's digest). ``publish`` writes it into the store; ``fetch`` puts it into the
fetched folder, where every stage and ``swap`` check it again before their first write. It is not one of
the bundle's files, so a bundle stays byte-identical across builds of one commit (and ``inv build`` needs no
vault)."""
from __future__ import annotations

from pathlib import Path

from toolkit.bundle.manifest import MANIFEST, SIGNATURE, Manifest
from toolkit.bundle.verify import BundleError, verify_bundle
from toolkit.signing.signatures import Signature, Signer, verify
from toolkit.signing.trusted_keys import Trust, TrustedKey


def sign_manifest(manifest: Manifest, signer: Signer) -> Signature:
    return signer.sign(manifest.to_json(), f"{MANIFEST} of {manifest.version}")


def verify_folder(bundle: Path, manifest: Manifest, trust: Trust) -> TrustedKey:
    """The trusted key that signed the bundle in ``bundle``, once the folder holds exactly ``manifest``'s files
    (else BundleError) and its signature verifies with a key ``trust`` accepts (else SignatureRefused)."""
    if verify_bundle(bundle).to_json() != manifest.to_json():
        raise BundleError(f"{bundle}: holds another bundle than version {manifest.version} ({manifest.digest[:12]})")
    path = bundle / SIGNATURE
    return verify(manifest.to_json(), path.read_bytes() if path.is_file() else None, trust, str(bundle / MANIFEST))
