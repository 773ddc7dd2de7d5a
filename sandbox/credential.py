"""A TokenCredential (azure-core's protocol) for the sandbox's Entra-like token endpoint, so the
official Azure clients authenticate against the sandbox exactly as they would with azure-identity."""
from __future__ import annotations

import threading
import time
from typing import Any

import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError


class SandboxCredential:
    def __init__(self, token_url: str, client_id: str, client_secret: str, verify: str | bool = True):
        self._url, self._client_id, self._secret, self._verify = token_url, client_id, client_secret, verify
        self._cache: dict[str, AccessToken] = {}
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        scope = " ".join(scopes)
        with self._lock:
            cached = self._cache.get(scope)
            if cached and cached.expires_on - 60 > time.time():
                return cached
        response = requests.post(self._url, data={"grant_type": "client_credentials", "client_id": self._client_id,
                                                  "client_secret": self._secret, "scope": scope},
                                 verify=self._verify, timeout=30)
        if response.status_code != 200:
            detail = response.json().get("error_description", response.text) if response.content else ""
            raise ClientAuthenticationError(f"sandbox token request failed ({response.status_code}): {detail}")
        body = response.json()
        token = AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))
        with self._lock:
            self._cache[scope] = token
        return token

    def close(self) -> None:
        pass

    def __enter__(self) -> "SandboxCredential":
        return self

    def __exit__(self, *exc) -> None:
        pass
