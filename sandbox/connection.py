"""How a test or benchmark reaches a running sandbox: the toolkit's endpoints (what `sandbox.up` wrote into its
home) plus the admin API, which is not part of the cloud (faults, request counts, resources made ahead)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sandbox.lifecycle import SandboxError, status
from sandbox.server import Identity
from toolkit.environments.sandbox_client import SandboxCredential, SandboxEndpoints


@dataclass(frozen=True)
class SandboxConnection:
    endpoints: SandboxEndpoints
    identity: Identity

    @classmethod
    def from_home(cls, home: Path) -> "SandboxConnection":
        current = status(home)
        if not (current["storage"]["running"] and current["control"]["running"]):
            raise SandboxError(f"the sandbox in {home} is not running: start it with `inv sandbox.up`")
        return cls(SandboxEndpoints.from_home(home), Identity.load_or_create(home))

    @property
    def home(self) -> str:
        return str(self.endpoints.home)

    @property
    def control_url(self) -> str:
        return self.endpoints.control_url

    @property
    def trust_bundle(self) -> str:
        return self.endpoints.trust_bundle

    @property
    def blob_port(self) -> int:
        return int(self.endpoints.blob_endpoint.rsplit(":", 1)[1])

    def credential(self) -> SandboxCredential:
        return self.endpoints.credential()

    def storage_connection_string(self, account: str) -> str:
        import json

        key = json.loads((Path(self.home) / "storage.json").read_text())["accounts"][account]
        return (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
                f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{account};")

    def admin(self, method: str, path: str, body: dict | None = None) -> dict | None:
        """A call to the sandbox's admin API (not part of the cloud: faults, request counts, resources)."""
        import requests

        token = self.credential().get_token("https://management.azure.com/.default").token
        response = requests.request(method, f"{self.control_url}/admin/{path}", json=body, verify=self.trust_bundle,
                                    headers={"Authorization": f"Bearer {token}"}, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def ensure_vault(self, name: str) -> str:
        return self.admin("PUT", f"keyvaults/{name}")["vaultUri"]

    def ensure_workspace(self, name: str, legacy: bool | None = None) -> str:
        """A workspace (made now if it does not exist); ``legacy`` sets whether it still has DBFS mounts."""
        body = None if legacy is None else {"legacy": legacy}
        return self.admin("PUT", f"workspaces/{name}", body)["workspaceUrl"]

    def requests_made(self) -> dict:
        """Reads and writes that reached the sandbox since the last reset, by service."""
        return self.admin("GET", "requests")

    def reset_requests(self) -> None:
        self.admin("DELETE", "requests")

    def set_faults(self, service: str, settings: dict) -> None:
        self.admin("PUT", f"faults/{service}", settings)
