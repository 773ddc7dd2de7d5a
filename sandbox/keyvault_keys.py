"""Key Vault keys (REST API 7.x), the subset a release signs with: create, get, list versions, sign, verify.

Keys are software-protected RSA (2048, 3072, 4096 bits) or EC (P-256, P-384, P-521, P-256K) keys; their private
part never leaves the vault, as on Azure. A signature is made over a digest the caller computed, of the length its
algorithm needs; ECDSA signatures come back as raw r||s (RFC 7518), not DER. Each rule and its source is in
RULES.md (keyvault.key-*).
"""
from __future__ import annotations

import base64
import time
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from sandbox.http import ApiError, json_response

RSA_TYPES = ("RSA", "RSA-HSM")
EC_TYPES = ("EC", "EC-HSM")
RSA_SIZES = (2048, 3072, 4096)
CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1, "P-256K": ec.SECP256K1}
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
# The curve each ECDSA algorithm needs (ES256K is SHA-256 on secp256k1).
_ALGORITHM_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521", "ES256K": "P-256K"}
ALGORITHMS = ("PS256", "PS384", "PS512", "RS256", "RS384", "RS512", *_ALGORITHM_CURVES)
DEFAULT_OPERATIONS = {"RSA": ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"], "EC": ["sign", "verify"]}
OPERATIONS = ("encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export")

KEY_RULES = [
    Rule("/keys/<name>/create", endpoint="create_key", methods=["POST"]),
    Rule("/keys/<name>/versions", endpoint="list_key_versions", methods=["GET"]),
    Rule("/keys/<name>/", endpoint="get_key", methods=["GET"]),
    Rule("/keys/<name>/<version>", endpoint="get_key", methods=["GET"]),
    Rule("/keys/<name>/<version>/sign", endpoint="sign", methods=["POST"]),
    Rule("/keys/<name>//sign", endpoint="sign", methods=["POST"]),
    Rule("/keys/<name>/<version>/verify", endpoint="verify", methods=["POST"]),
    Rule("/keys/<name>//verify", endpoint="verify", methods=["POST"]),
]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str, field: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise ApiError(400, "BadParameter", f"Property '{field}' is not base64url encoded") from None


def _hash(alg: str) -> type[hashes.HashAlgorithm]:
    """The hash an algorithm signs the digest of (ES256K: SHA-256, on secp256k1)."""
    return _HASHES["256" if alg == "ES256K" else alg[-3:]]


def _integer(value: int, length: int | None = None) -> str:
    length = length or (value.bit_length() + 7) // 8
    return _b64url(value.to_bytes(length, "big"))


def pick_version(versions: list[dict] | None, name: str, version: str | None, not_found) -> dict:
    """A secret's or a key's version: the named one, else the latest; ``not_found(name, version)`` is the
    ApiError of that kind of object (SecretNotFound, KeyNotFound)."""
    if not versions:
        raise not_found(name)
    if not version:
        return versions[-1]
    found = next((v for v in versions if v["version"] == version), None)
    if found is None:
        raise not_found(name, version)
    return found


class KeyOperations:
    """The keys endpoints of :class:`sandbox.keyvault.KeyVaultService` (which supplies state, names and errors)."""

    # -- state -------------------------------------------------------------------------------
    def _keys(self, data: dict) -> dict:
        return self._vault(data).setdefault("keys", {})

    @staticmethod
    def _key_not_found(name: str, version: str | None = None) -> ApiError:
        what = f"{name}/{version}" if version else name
        return ApiError(404, "KeyNotFound", f"A key with (name/id) {what} was not found in this key vault. If you "
                        "recently deleted this key you may be able to recover it using the correct recovery command. "
                        "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182")

    def _key_version(self, name: str, version: str | None) -> dict:
        return pick_version(self._keys(self.state.read()).get(name), name, version, self._key_not_found)

    def _kid(self, request: Request, name: str, version: str) -> str:
        return f"{self._base(request)}/keys/{name}/{version}"

    def _key_bundle(self, request: Request, name: str, version: dict, with_key: bool = True) -> dict:
        kid = self._kid(request, name, version["version"])
        attributes = {**version["attributes"], "recoveryLevel": "Recoverable+Purgeable",
                      "recoverableDays": self.recoverable_days, "exportable": False}
        if not with_key:
            return {"kid": kid, "attributes": attributes, **({"tags": version["tags"]} if version["tags"] else {})}
        public = serialization.load_pem_private_key(version["private_pem"].encode(), None).public_key()
        jwk = {"kid": kid, "kty": version["kty"], "key_ops": version["key_ops"]}
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            jwk.update(n=_integer(numbers.n), e=_integer(numbers.e))
        else:
            numbers, size = public.public_numbers(), (public.curve.key_size + 7) // 8
            jwk.update(crv=version["crv"], x=_integer(numbers.x, size), y=_integer(numbers.y, size))
        body = {"key": jwk, "attributes": attributes}
        if version["tags"]:
            body["tags"] = version["tags"]
        return body

    # -- endpoints ---------------------------------------------------------------------------
    def create_key(self, request: Request, name: str) -> Response:
        self.check_name(name)
        body = request.get_json(silent=True) or {}
        kty = body.get("kty")
        if kty in RSA_TYPES:
            size = body.get("key_size") or 2048
            if size not in RSA_SIZES:
                raise ApiError(400, "BadParameter", f"The specified RSA key size {size} is not supported: use one of "
                               f"{', '.join(map(str, RSA_SIZES))}")
            private = rsa.generate_private_key(public_exponent=body.get("public_exponent") or 65537, key_size=size)
            curve = None
        elif kty in EC_TYPES:
            curve = body.get("crv") or "P-256"
            if curve not in CURVES:
                raise ApiError(400, "BadParameter", f"The specified curve {curve!r} is not supported: use one of "
                               f"{', '.join(CURVES)}")
            private = ec.generate_private_key(CURVES[curve]())
        else:
            raise ApiError(400, "BadParameter", f"Key type {kty!r} is not supported by a key vault: use "
                           f"{', '.join(RSA_TYPES + EC_TYPES)}" if kty else "Property kty is required")
        family = "RSA" if kty in RSA_TYPES else "EC"
        operations = body.get("key_ops") or DEFAULT_OPERATIONS[family]
        unknown = [op for op in operations if op not in OPERATIONS]
        if unknown:
            raise ApiError(400, "BadParameter", f"Invalid key operation: {unknown[0]}")
        now = int(time.time())
        attributes = {"enabled": True, **{k: v for k, v in (body.get("attributes") or {}).items()
                                          if k in ("enabled", "nbf", "exp")}, "created": now, "updated": now}
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        version = {"version": uuid.uuid4().hex, "kty": kty, "crv": curve, "key_ops": list(operations),
                   "tags": body.get("tags") or {}, "attributes": attributes, "private_pem": pem}
        with self.state.update() as data:
            self._keys(data).setdefault(name, []).append(version)
        return json_response(self._key_bundle(request, name, version))

    def get_key(self, request: Request, name: str, version: str | None = None) -> Response:
        return json_response(self._key_bundle(request, name, self._key_version(name, version)))

    def list_key_versions(self, request: Request, name: str) -> Response:
        versions = self._keys(self.state.read()).get(name) or []  # a missing key has no versions: 200, not 404
        return json_response({"value": [self._key_bundle(request, name, v, with_key=False) for v in versions],
                              "nextLink": None})

    def sign(self, request: Request, name: str, version: str | None = None) -> Response:
        body = request.get_json(silent=True) or {}
        key = self._usable(request, name, version, "sign", body.get("alg"))
        digest = self._digest(body.get("alg"), body.get("value"), "value")
        private = serialization.load_pem_private_key(key["private_pem"].encode(), None)
        algorithm = utils.Prehashed(_hash(body["alg"])())
        if isinstance(private, rsa.RSAPrivateKey):
            signature = private.sign(digest, self._rsa_padding(body["alg"]), algorithm)
        else:
            r, s = utils.decode_dss_signature(private.sign(digest, ec.ECDSA(algorithm)))
            size = (private.curve.key_size + 7) // 8
            signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")  # RFC 7518: raw r||s, each padded
        return json_response({"kid": self._kid(request, name, key["version"]), "value": _b64url(signature)})

    def verify(self, request: Request, name: str, version: str | None = None) -> Response:
        body = request.get_json(silent=True) or {}
        key = self._usable(request, name, version, "verify", body.get("alg"))
        digest = self._digest(body.get("alg"), body.get("digest"), "digest")
        signature = _unb64url(body.get("value") or "", "value")
        public = serialization.load_pem_private_key(key["private_pem"].encode(), None).public_key()
        algorithm = utils.Prehashed(_hash(body["alg"])())
        try:
            if isinstance(public, rsa.RSAPublicKey):
                public.verify(signature, digest, self._rsa_padding(body["alg"]), algorithm)
            else:
                half = len(signature) // 2
                der = utils.encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                                 int.from_bytes(signature[half:], "big"))
                public.verify(der, digest, ec.ECDSA(algorithm))
            valid = True
        except InvalidSignature:
            valid = False
        return json_response({"value": valid})

    # -- checks --------------------------------------------------------------------------------
    def _usable(self, request: Request, name: str, version: str | None, operation: str, alg) -> dict:
        """The key version, if ``operation`` with ``alg`` may be done with it (else Key Vault's refusal)."""
        if alg not in ALGORITHMS:
            raise ApiError(400, "BadParameter", f"Invalid algorithm: {alg!r}" if alg else "Property alg is required")
        key = self._key_version(name, version)
        kid = self._kid(request, name, key["version"])
        if not key["attributes"].get("enabled", True):
            raise ApiError(403, "Forbidden", f"Operation {operation} is not allowed on a disabled key.",
                           inner="KeyDisabled")
        if operation not in key["key_ops"]:
            raise ApiError(403, "Forbidden", f"Operation {operation} is not permitted on this key.",
                           inner="KeyOperationForbidden")
        rsa_key = key["kty"] in RSA_TYPES
        if alg.startswith(("RS", "PS")) != rsa_key:
            raise ApiError(400, "BadParameter", f"Key and signing algorithm are incompatible. Key {kid} is of type "
                           f"'{key['kty']}', and algorithm '{alg}' can only be used with key type "
                           f"'{'EC' if rsa_key else 'RSA'}'.")
        if not rsa_key and _ALGORITHM_CURVES[alg] != key["crv"]:
            raise ApiError(400, "BadParameter", f"Key and signing algorithm are incompatible. Key {kid} uses curve "
                           f"'{CURVES[key['crv']].name.upper()}', and algorithm '{alg}' can only be used with curve "
                           f"'{_ALGORITHM_CURVES[alg]}'.")
        return key

    @staticmethod
    def _digest(alg: str, value, field: str) -> bytes:
        """The digest, of the length the algorithm's hash gives (Key Vault signs digests, never messages)."""
        digest = _unb64url(value or "", field)
        needed = _hash(alg).digest_size
        if len(digest) != needed:
            raise ApiError(400, "BadParameter", f"Invalid length of '{field}': {len(digest)} bytes. {alg} requires "
                           f"{needed} bytes, encoded with base64url.")
        return digest

    @staticmethod
    def _rsa_padding(alg: str):
        if alg.startswith("PS"):
            return padding.PSS(mgf=padding.MGF1(_hash(alg)()), salt_length=_hash(alg).digest_size)
        return padding.PKCS1v15()
