"""Sandbox identities and tokens.

The sandbox has one tenant and one client (a service principal) whose secret is generated at
first start and kept in .sandbox/ (never printed). Its token endpoint answers the OAuth2
client-credentials grant like Entra ID; every other endpoint requires ``Authorization: Bearer``
with a token it issued, and answers 401 otherwise, as Azure does.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    def __init__(self, signing_key: bytes, tenant_id: str, client_id: str, client_secret: str,
                 lifetime_s: int = 3600):
        self._key, self.tenant_id, self.client_id = signing_key, tenant_id, client_id
        self._client_secret, self.lifetime_s = client_secret, lifetime_s

    def client_is_valid(self, client_id: str | None, client_secret: str | None) -> bool:
        return client_id == self.client_id and hmac.compare_digest((client_secret or "").encode(),
                                                                   self._client_secret.encode())

    def issue(self, scope: str) -> tuple[str, int]:
        expires = int(time.time()) + self.lifetime_s
        payload = _b64(json.dumps({"tid": self.tenant_id, "appid": self.client_id, "scp": scope,
                                   "exp": expires}).encode())
        signature = _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
        return f"sbx.{payload}.{signature}", expires

    def verify(self, token: str) -> dict | None:
        try:
            prefix, payload, signature = token.split(".")
        except ValueError:
            return None
        expected = _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
        if prefix != "sbx" or not hmac.compare_digest(signature, expected):
            return None
        claims = json.loads(_unb64(payload))
        return claims if claims.get("exp", 0) > time.time() else None
