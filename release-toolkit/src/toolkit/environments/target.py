"""Where a stage runs: the sandbox (the default) or Azure (chosen explicitly). Only endpoints and
credentials differ; every call goes through the same clients and code paths.

Azure: one azure-identity credential (toolkit/azure/credential.py: a refreshing federated assertion in CI,
managed identity, or a developer's `az login`) for ARM, Key Vault, Storage and the Databricks SDK alike.
Sandbox: the sandbox's service principal, read from its home, and its TLS trust bundle.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.environments.sandbox_client import SandboxEndpoints, SandboxUnreachable

ARM_SCOPE = "https://management.azure.com/.default"
DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"  # Azure Databricks' first-party app
SANDBOX_SUBSCRIPTION = "5a4db0c5-0000-4000-8000-00000000cafe"


class TargetError(RuntimeError):
    pass


# azure-core retries a throttled or unavailable answer (429, 5xx) only 3 times by default. A stage makes hundreds of
# calls (a pipeline's progress is polled every few seconds), so 3 would fail some stage under a few percent of such
# answers; 8, within azure-core's default total of 10, does not.
RETRY_OPTIONS: dict[str, Any] = {"retry_status": 8}
CA_VARIABLE = "REQUESTS_CA_BUNDLE"
_CONSTRUCTION = threading.Lock()


@dataclass
class Target:
    name: str  # "sandbox" or "azure"
    subscription_id: str
    arm_url: str
    credential: Any
    verify: str | bool = True
    blob_endpoint: str | None = None  # sandbox: accounts are paths under it
    sandbox: SandboxEndpoints | None = None  # sandbox: how to reach it (vault endpoints, the trusted keys it made)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def is_sandbox(self) -> bool:
        return self.name == "sandbox"

    def account_url(self, account: str) -> str:
        return f"{self.blob_endpoint}/{account}" if self.blob_endpoint else f"https://{account}.blob.core.windows.net"

    def vault_url(self, vault: str) -> str:
        """The data-plane URL of a vault that exists before any release (the signing vault)."""
        if self.sandbox is None:
            return f"https://{vault}.vault.azure.net"
        found = self.sandbox.health()["keyvaults"].get(vault)
        if found is None:
            raise TargetError(f"the sandbox has no vault {vault}: `inv sandbox.up` creates the signing vault")
        return found

    def trusted_keys_file(self) -> Path:
        from toolkit.signing.trusted_keys import trusted_keys_file

        return trusted_keys_file(self.name, self.sandbox.home if self.sandbox else None)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every azure-core client takes on this target."""
        return {**self.transport_options(), **RETRY_OPTIONS}

    def transport_options(self) -> dict[str, Any]:
        return {"connection_verify": self.verify} if self.is_sandbox else {}

    def keyvault_options(self) -> dict[str, Any]:
        # A loopback vault URL cannot end in vault.azure.net, which the challenge check insists on.
        return {**self.client_options(), "verify_challenge_resource": False} if self.is_sandbox else RETRY_OPTIONS

    def workspace_client(self, host: str, resource_id: str | None) -> Any:
        """A databricks.sdk.WorkspaceClient for a workspace, authenticated with this target's one Entra ID
        credential, and trusting this target's TLS roots (the sandbox's CA for this client alone)."""
        from databricks.sdk import WorkspaceClient

        if self.verify is True:
            return WorkspaceClient(**self.databricks_config(host, resource_id))
        # databricks-sdk has no CA option. Its one requests.Session gets the trust bundle; the discovery probe it
        # makes while the client is built (/.well-known/databricks-config, on a session of its own, retried for
        # minutes when TLS fails) can only be reached through REQUESTS_CA_BUNDLE, so that is set for the
        # construction alone, under a lock, and put back as it was.
        with _CONSTRUCTION:
            previous = os.environ.get(CA_VARIABLE)
            os.environ[CA_VARIABLE] = str(self.verify)
            try:
                client = WorkspaceClient(**self.databricks_config(host, resource_id))
            finally:
                if previous is None:
                    os.environ.pop(CA_VARIABLE, None)
                else:
                    os.environ[CA_VARIABLE] = previous
        session = getattr(getattr(client.api_client, "_api_client", None), "_session", None)
        if session is None:
            raise TargetError("this databricks-sdk keeps no requests session where 0.162 does: pin databricks-sdk "
                              "as release-toolkit/requirements.txt does")
        session.verify = self.verify
        # requests lets REQUESTS_CA_BUNDLE from the environment override a session's own verify (psf/requests
        # #3829): this session (to a loopback sandbox: no proxy, no netrc) reads nothing from the environment.
        session.trust_env = False
        return client

    def databricks_config(self, host: str, resource_id: str | None) -> dict[str, Any]:
        """Arguments of databricks.sdk.WorkspaceClient for a workspace, authenticated with this target's one
        Entra ID credential (never a PAT or whatever DATABRICKS_*/ARM_* variables happen to be set): creating
        a Key Vault-backed secret scope needs an Entra ID token."""
        from databricks.sdk.credentials_provider import CredentialsStrategy

        credential = self.credential

        class EntraCredential(CredentialsStrategy):
            def auth_type(self) -> str:
                return "azure-identity"

            def __call__(self, cfg):
                def headers() -> dict[str, str]:
                    found = {"Authorization": f"Bearer {credential.get_token(DATABRICKS_SCOPE).token}"}
                    if resource_id:  # lets a service principal with a role on the workspace in (added as admin)
                        found["X-Databricks-Azure-Workspace-Resource-Id"] = resource_id
                        found["X-Databricks-Azure-SP-Management-Token"] = credential.get_token(ARM_SCOPE).token
                    return found
                return headers

        # auth_type names the one method: the SDK still reads DATABRICKS_TOKEN, ARM_* and the like from the
        # environment, and would otherwise refuse "more than one authorization method configured".
        return {"host": host, "credentials_strategy": EntraCredential(), "auth_type": "azure-identity"}


def sandbox_target(home: Path) -> Target:
    """The sandbox whose home is ``home``, reached over HTTP with what `sandbox.up` wrote there."""
    try:
        endpoints = SandboxEndpoints.from_home(home)
        arm_url = endpoints.health()["arm"]
    except SandboxUnreachable as exc:
        raise TargetError(str(exc)) from None
    return Target("sandbox", SANDBOX_SUBSCRIPTION, arm_url, endpoints.credential(), verify=endpoints.trust_bundle,
                  blob_endpoint=endpoints.blob_endpoint, sandbox=endpoints)


def azure_target(subscription_id: str | None, data_plane_only: bool = False) -> Target:
    """Azure; ``data_plane_only`` for work that calls no ARM (signing with Key Vault), which needs no subscription."""
    if not subscription_id and not data_plane_only:
        raise TargetError("the Azure target needs a subscription id: set [azure] subscription_id in the environment "
                          "file (for example \"${AZURE_SUBSCRIPTION_ID}\")")
    from toolkit.azure.credential import azure_credential

    return Target("azure", subscription_id or "", "https://management.azure.com", azure_credential())
