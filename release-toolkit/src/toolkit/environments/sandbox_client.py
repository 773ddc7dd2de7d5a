"""How the toolkit reaches a running sandbox: over HTTP only, with what `sandbox.up` wrote into the sandbox's
home (``connection.json``: the control endpoint, the storage endpoint, the TLS trust bundle and the service
principal). No sandbox code is imported: an installed toolkit deploys to a sandbox started from a clone."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

CONNECTION_FILE = "connection.json"  # written by sandbox.up, mode 0600 (it holds the service principal's secret)
FIELDS = ("control_url", "blob_endpoint", "trust_bundle", "tenant_id", "client_id", "client_secret")


class SandboxUnreachable(RuntimeError):
    pass


class SandboxCredential:
    """A TokenCredential (azure-core's protocol) for the sandbox's Entra-like token endpoint (client credentials),
    so the official Azure clients authenticate against the sandbox as they would with azure-identity."""

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


@dataclass(frozen=True)
class SandboxEndpoints:
    home: Path
    control_url: str
    blob_endpoint: str
    trust_bundle: str
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def from_home(cls, home: Path) -> "SandboxEndpoints":
        path = home / CONNECTION_FILE
        try:
            found = json.loads(path.read_text())
        except FileNotFoundError:
            raise SandboxUnreachable(f"no sandbox in {home} ({CONNECTION_FILE} is missing): start one from a clone of "
                                     "the repository with `./dev inv sandbox.up`, or point PARKING_SANDBOX_HOME at "
                                     "the home of one that runs") from None
        except ValueError as exc:
            raise SandboxUnreachable(f"{path} is not valid JSON ({exc}): `inv sandbox.up` writes it again") from None
        try:
            return cls(home, **{name: found[name] for name in FIELDS})
        except KeyError as exc:
            raise SandboxUnreachable(f"{path} has no {exc.args[0]!r}: `inv sandbox.up` writes it again") from None

    def credential(self) -> SandboxCredential:
        return SandboxCredential(f"{self.control_url}/{self.tenant_id}/oauth2/v2.0/token", self.client_id,
                                 self.client_secret, verify=self.trust_bundle)

    def health(self) -> dict[str, Any]:
        """The running sandbox's own description (its ARM endpoint, vaults, workspaces); unreachable is an error."""
        try:
            response = requests.get(f"{self.control_url}/health", verify=self.trust_bundle, timeout=10)
        except requests.RequestException:
            raise SandboxUnreachable(f"the sandbox in {self.home} is not running (nothing answers at "
                                     f"{self.control_url}): start it with `./dev inv sandbox.up`") from None
        if response.status_code != 200:
            raise SandboxUnreachable(f"the sandbox in {self.home} is not ready ({response.status_code} from "
                                     f"{self.control_url}/health): `inv sandbox.status` shows why")
        return response.json()

    def write(self) -> None:
        """What sandbox.up calls: the file an installed toolkit finds the sandbox by."""
        from toolkit.local_files import write_atomically

        fields = {name: getattr(self, name) for name in FIELDS}
        write_atomically(self.home / CONNECTION_FILE, json.dumps(fields, indent=2), 0o600)
