"""A detached signature over a document's SHA-256 digest, and its verification against trusted public keys.

The signature file is JSON, one field per line, so that a release agent can check it with ``sed`` and
``openssl`` before any Python from the bundle runs (see the README: "Verify a bundle before installing it").
Verification is local (the cryptography library): it needs no call, and so no credential.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from toolkit.signing.trusted_keys import KEY_ID, Trust, TrustedKey, same_key_id

# Algorithms over a SHA-256 digest (the manifest's digest is SHA-256): Key Vault's RS256, PS256 and ES256.
ALGORITHMS = ("RS256", "PS256", "ES256")


class SignatureRefused(Exception):
    """A document that does not carry a signature this job accepts; the message says which check failed."""


@dataclass(frozen=True)
class Signature:
    algorithm: str
    key_id: str  # the Key Vault key that signed, with its version
    sha256: str  # hex digest of the signed document
    signature: str  # standard base64 (``openssl base64 -d`` reads it)
    signed: str  # what was signed, for a reader: "manifest.json of 1.2.0", "qa evidence of 1.2.0"

    def to_json(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, source: str) -> "Signature":
        fields = ("algorithm", "key_id", "sha256", "signature", "signed")
        try:
            document: dict[str, Any] = json.loads(data)
            signature = cls(**{k: document[k] for k in fields})
            base64.b64decode(signature.signature, validate=True)
        except (ValueError, TypeError, KeyError, binascii.Error, AttributeError) as exc:
            raise SignatureRefused(f"{source}: not a valid signature file ({exc!r})") from None
        wrong = [k for k in fields if not isinstance(getattr(signature, k), str)]
        if wrong:
            raise SignatureRefused(f"{source}: not a valid signature file ({', '.join(wrong)} must be text)")
        if not re.fullmatch(KEY_ID, signature.key_id) or not re.fullmatch(r"[0-9a-f]{64}", signature.sha256):
            raise SignatureRefused(f"{source}: not a valid signature file (key_id must be a Key Vault key id with "
                                   "its version, sha256 64 lowercase hex digits)")
        if signature.algorithm not in ALGORITHMS:
            raise SignatureRefused(f"{source}: algorithm {signature.algorithm!r} is not accepted (expected one of "
                                   f"{', '.join(ALGORITHMS)})")
        return signature

    def raw(self) -> bytes:
        return base64.b64decode(self.signature)


class Signer(Protocol):
    """What signs a document (toolkit/signing/signers.py: a Key Vault key)."""
    key_name: str

    def sign(self, document: bytes, what: str) -> Signature: ...

    def trusted_key(self) -> TrustedKey: ...

    def describe(self) -> str: ...


def verify(document: bytes, signature_file: bytes | None, trust: Trust, source: str) -> TrustedKey:
    """The trusted key that signed ``document``; else :class:`SignatureRefused` naming what failed: unsigned,
    unknown key, a key not trusted for this purpose, or a bad signature."""
    if signature_file is None:
        raise SignatureRefused(f"{source} is unsigned: there is no signature next to it, and {trust.purpose} "
                               "accepts only signed ones")
    signature = Signature.from_json(signature_file, f"{source}.sig")
    known = [k for k in trust.keys if same_key_id(k.key_id, signature.key_id)]
    if not known:
        raise SignatureRefused(f"{source} is signed by an unknown key {signature.key_id}: it is not among the "
                               f"{len(trust.keys)} trusted keys of {trust.keys_source}")
    accepted = [k for k in known if k.name in trust.accepted]
    if not accepted:
        raise SignatureRefused(f"{source} is signed by {known[0].name} ({signature.key_id}), a key {trust.purpose} "
                               f"does not trust (it trusts {', '.join(trust.accepted) or 'none'})")
    key = accepted[0]
    actual = hashlib.sha256(document).hexdigest()
    if signature.sha256 != actual or not _valid(key, signature.algorithm, hashlib.sha256(document).digest(),
                                                signature.raw()):
        changed = "" if signature.sha256 == actual else \
            f": the document's sha256 is {actual[:12]}…, the signature was made over {signature.sha256[:12]}…"
        raise SignatureRefused(f"{source} has a bad signature: it does not verify with {key.name} "
                               f"({signature.key_id}){changed} (changed after it was signed)")
    return key


def _valid(key: TrustedKey, algorithm: str, digest: bytes, raw: bytes) -> bool:
    public = key.public()
    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if algorithm in ("RS256", "PS256"):
            if not isinstance(public, rsa.RSAPublicKey):
                return False
            scheme = padding.PKCS1v15() if algorithm == "RS256" else \
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
            public.verify(raw, digest, scheme, prehashed)
        else:  # ES256: Key Vault (JWS) gives r||s, 32 bytes each
            if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1" or len(raw) != 64:
                return False
            der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            public.verify(der, digest, ec.ECDSA(prehashed))
        return True
    except InvalidSignature:
        return False
