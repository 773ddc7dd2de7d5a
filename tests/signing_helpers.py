"""Signing without a vault, for tests of what is signed rather than of Key Vault: a key pair made here, with
the interface of toolkit.signing.signers.KeyVaultSigner, and the Trust a job listing it would have."""
from __future__ import annotations

import base64
import hashlib
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from toolkit.signing.signatures import Signature
from toolkit.signing.trusted_keys import KnownKeys, Trust, TrustedKey


class LocalSigner:
    def __init__(self, name: str = "release-signer", vault: str = "kv-test"):
        self.key_name = name
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = f"https://{vault}.vault.azure.net/keys/{name}/{uuid.uuid4().hex}"

    def describe(self) -> str:
        return f"local key {self.key_name}"

    def trusted_key(self, name: str | None = None) -> TrustedKey:
        pem = self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        return TrustedKey(name=name or self.key_name, key_id=self.key_id, public_key=pem)

    def sign(self, document: bytes, what: str) -> Signature:
        digest = hashlib.sha256(document)
        raw = self.private.sign(digest.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        return Signature("RS256", self.key_id, digest.hexdigest(), base64.b64encode(raw).decode(), what)


def known(*signers: LocalSigner) -> KnownKeys:
    return KnownKeys(tuple(s.trusted_key() for s in signers), "the test's trusted keys")


def trusting(*signers: LocalSigner) -> Trust:
    """A Trust accepting exactly these signers."""
    return known(*signers).accepting([s.key_name for s in signers], "the test")
