"""The sandbox's control-plane process: the token endpoint and admin API on the main port, and
one HTTPS listener per Key Vault (a vault is the root of its own URL, as in Azure).

    python -m sandbox.server --home .sandbox [--port N]
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import secrets
import signal
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox.arm import ArmService
from sandbox.auth import TokenAuthority
from sandbox.databricks.service import DatabricksService
from sandbox.http import ApiError, Faults, Service, anonymous, json_response
from sandbox.keyvault import KeyVaultService
from sandbox.request_log import RequestLog, counted
from sandbox.state import JsonState
from sandbox.storage import ManagedStorage
from sandbox.storage_gateway import RawHeadersHandler, StorageGateway
from sandbox.tls import TlsFiles, ensure_tls
from toolkit.local_files import write_atomically

HOST = "127.0.0.1"
SERVICES = ("control", "keyvault", "databricks", "arm", "storage")
# How long a new role assignment takes to reach storage in the sandbox (Azure: "up to 10 minutes"; RULES.md
# rbac.propagation). Long enough that a release which does not wait for it fails, short enough for tests.
ROLE_PROPAGATION_S = 2.0


@dataclass(frozen=True)
class Identity:
    """The sandbox tenant, its one client (service principal) and the token signing key."""

    tenant_id: str
    client_id: str
    client_secret: str
    signing_key: str
    storage_keys: dict[str, str]

    @property
    def azure_databricks_object_id(self) -> str:
        """The object id of the AzureDatabricks application's service principal in this tenant (first-party app
        2ff814a6-3304-4ab8-85cb-cd0e6f879c1d; its object id differs per tenant, as on Azure)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.tenant_id}/2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"))

    @classmethod
    def load_or_create(cls, home: Path, storage_accounts: tuple[str, ...] = ()) -> "Identity":
        path = home / "identity.json"
        if path.exists():
            return cls(**json.loads(path.read_text()))
        import base64

        identity = cls(str(uuid.uuid4()), str(uuid.uuid4()), secrets.token_urlsafe(32), secrets.token_hex(32),
                       {a: base64.b64encode(secrets.token_bytes(64)).decode() for a in storage_accounts})
        write_atomically(path, json.dumps(identity.__dict__), 0o600)
        return identity

    def authority(self) -> TokenAuthority:
        return TokenAuthority(self.signing_key.encode(), self.tenant_id, self.client_id, self.client_secret)


class ControlService(Service):
    name = "control"
    url_map = Map([
        Rule("/health", endpoint="health", methods=["GET"]),
        Rule("/<tenant>/oauth2/v2.0/token", endpoint="token", methods=["POST"]),
        Rule("/admin/keyvaults", endpoint="list_vaults", methods=["GET"]),
        Rule("/admin/keyvaults/<name>", endpoint="create_vault", methods=["PUT"]),
        Rule("/admin/workspaces", endpoint="list_workspaces", methods=["GET"]),
        Rule("/admin/workspaces/<name>", endpoint="create_workspace", methods=["PUT"]),
        Rule("/admin/faults/<service>", endpoint="set_faults", methods=["PUT"]),
        Rule("/admin/rbac", endpoint="set_rbac", methods=["PUT"]),
        Rule("/admin/metastore/privileges", endpoint="set_metastore_privileges", methods=["PUT"]),
        Rule("/admin/requests", endpoint="get_requests", methods=["GET"]),
        Rule("/admin/requests", endpoint="reset_requests", methods=["DELETE"]),
    ])

    def __init__(self, sandbox: "Sandbox"):
        super().__init__(sandbox.authority, sandbox.faults_for)
        self.sandbox = sandbox

    @anonymous
    def health(self, request: Request) -> Response:
        if not self.sandbox.ready:  # the control listener answers before the other services listen
            return json_response({"status": "starting"}, 503)
        return json_response({"status": "ok", "arm": self.sandbox.arm_url, "keyvaults": self.sandbox.vault_urls(),
                              "workspaces": self.sandbox.workspace_urls()})

    @anonymous
    def token(self, request: Request, tenant: str) -> Response:
        form = request.form
        if tenant != self.authority.tenant_id:
            return json_response({"error": "invalid_request", "error_description": f"AADSTS90002: Tenant '{tenant}' "
                                  "not found."}, 400)
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type",
                                  "error_description": "AADSTS70003: only client_credentials is supported."}, 400)
        if not self.authority.client_is_valid(form.get("client_id"), form.get("client_secret")):
            return json_response({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client "
                                  "secret provided."}, 401)
        token, expires = self.authority.issue(form.get("scope", ""))
        return json_response({"token_type": "Bearer", "expires_in": self.authority.lifetime_s,
                              "ext_expires_in": self.authority.lifetime_s, "access_token": token})

    def list_vaults(self, request: Request) -> Response:
        return json_response({"value": [{"name": n, "vaultUri": u} for n, u in self.sandbox.vault_urls().items()]})

    def create_vault(self, request: Request, name: str) -> Response:
        return json_response({"name": name, "vaultUri": self.sandbox.ensure_vault(name)})

    def list_workspaces(self, request: Request) -> Response:
        return json_response({"value": [{"name": n, "workspaceUrl": u}
                                        for n, u in self.sandbox.workspace_urls().items()]})

    def create_workspace(self, request: Request, name: str) -> Response:
        """A workspace made ahead of its ARM deployment; ``{"legacy": true}`` makes it (or turns an existing one into)
        one of an account that still has DBFS mounts (see Sandbox.ensure_workspace)."""
        legacy = (request.get_json(silent=True) or {}).get("legacy")
        url = self.sandbox.ensure_workspace(name, None if legacy is None else bool(legacy))
        return json_response({"name": name, "workspaceUrl": url})

    def set_rbac(self, request: Request) -> Response:
        """The deployer's Azure roles (Owner by default) and how long a role assignment takes to reach storage."""
        settings = request.get_json(silent=True) or {}
        if set(settings) - {"deployer_roles", "propagation_s"}:
            raise ApiError(400, "InvalidSettings", "expected deployer_roles and propagation_s")
        self.sandbox.set_rbac(settings.get("deployer_roles"), settings.get("propagation_s"))
        return json_response(settings)

    def set_metastore_privileges(self, request: Request) -> Response:
        """What the deployer holds on the metastore, as an account admin would grant it."""
        privileges = (request.get_json(silent=True) or {}).get("privileges")
        if not isinstance(privileges, list):
            raise ApiError(400, "InvalidSettings", "expected privileges: a list")
        self.sandbox.set_metastore_privileges(privileges)
        return json_response({"privileges": privileges})

    def set_faults(self, request: Request, service: str) -> Response:
        if service not in SERVICES:
            raise ApiError(400, "InvalidService", f"unknown service {service!r}: expected one of {SERVICES}")
        settings = request.get_json(silent=True) or {}
        allowed = {"rate_429", "rate_503", "latency_ms", "retry_after_s", "seed", "match"}
        if set(settings) - allowed:
            raise ApiError(400, "InvalidFaults", f"unknown settings {sorted(set(settings) - allowed)}")
        try:
            re.compile(settings.get("match") or "")
        except re.error as exc:
            raise ApiError(400, "InvalidFaults", f"match is not a regular expression: {exc}") from None
        with self.sandbox.services.update() as data:
            data["faults"][service] = settings
        return json_response({"service": service, **settings})

    def get_requests(self, request: Request) -> Response:
        return json_response(self.sandbox.requests.snapshot())

    def reset_requests(self, request: Request) -> Response:
        self.sandbox.requests.reset()
        return Response(status=204)


class Sandbox:
    """All listeners of one sandbox home; state lives in ``home`` and survives restarts."""

    def __init__(self, home: Path, port: int = 0, blob_endpoint: str | None = None,
                 storage: ManagedStorage | None = None):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
        self.home = home
        self.storage = storage  # Azurite run by this process (sandbox.up), or None (tests bring their own)
        # Azurite's endpoint, e.g. http://127.0.0.1:10000 (accounts are paths under it)
        self.blob_endpoint = storage.endpoint if storage else blob_endpoint
        self.identity = Identity.load_or_create(home)
        self.authority = self.identity.authority()
        self.tls: TlsFiles = ensure_tls(home / "tls")
        self.services = JsonState(home / "services.json",
                                  lambda: {"keyvaults": {}, "workspaces": {}, "faults": {}, "port": 0})
        self.keyvault_state = JsonState(home / "keyvault.json", dict)
        self.databricks_state = JsonState(home / "databricks.json", dict)
        self.arm_state = JsonState(home / "arm.json", dict)
        self._workspaces: dict[str, DatabricksService] = {}
        self._servers: dict[str, object] = {}
        self._lock = threading.RLock()
        self._faults: dict[str, Faults] = {}
        self.requests = RequestLog()
        self.ready = False
        self.port = self._listen("control", ControlService(self), port or self.services.read()["port"])
        if storage is not None:
            gateway = StorageGateway(lambda: storage.azurite_endpoint, self.faults_for)
            self._listen("storage", gateway, storage.port, tls=False, handler=RawHeadersHandler)
        with self.services.update() as data:
            data["port"] = self.port
        for name, vault_port in self.services.read()["keyvaults"].items():
            self._listen(f"keyvault:{name}", self._vault_app(name), vault_port)
        self.arm_port = self._listen("arm", ArmService(self.arm_state, self.authority, self.faults_for, self),
                                     self.services.read().get("arm_port", 0))
        with self.services.update() as data:
            data["arm_port"] = self.arm_port
        for name, workspace in self.services.read().get("workspaces", {}).items():
            app = self._workspace_app(name, workspace["id"], workspace.get("legacy", False))
            self._listen(f"databricks:{name}", app, workspace["port"])
        self.ready = True

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def faults_for(self, service: str) -> Faults:
        settings = self.services.read()["faults"].get(service, {})
        key = json.dumps(settings, sort_keys=True)
        cached = self._faults.get(service)
        if cached is None or getattr(cached, "_key", None) != key:
            cached = Faults(**settings)
            cached._key = key
            self._faults[service] = cached
        return cached

    def _vault_app(self, name: str) -> KeyVaultService:
        return KeyVaultService(name, self.keyvault_state, self.authority, self.faults_for)

    def _listen(self, name: str, app, port: int, tls: bool = True, handler=None) -> int:
        context = (str(self.tls.server_cert), str(self.tls.server_key)) if tls else None
        try:
            server = make_server(HOST, port, counted(app, name.split(":")[0], self.requests), threaded=True,
                                 ssl_context=context, request_handler=handler)
        except OSError:  # the remembered port is taken: take any
            server = make_server(HOST, 0, counted(app, name.split(":")[0], self.requests), threaded=True,
                                 ssl_context=context, request_handler=handler)
        threading.Thread(target=server.serve_forever, name=f"sandbox-{name}", daemon=True).start()
        self._servers[name] = server
        return server.server_port

    def _workspace_app(self, name: str, workspace_id: int, legacy: bool = False) -> DatabricksService:
        databricks = self.identity.azure_databricks_object_id
        app = DatabricksService(name, workspace_id, self.databricks_state, self.home / "databricks" / name,
                                self.authority, self.faults_for, blob_endpoint=self.blob_endpoint,
                                keyvault_reader=lambda rid: self.vault_secrets(rid, databricks),
                                keyvault_grant=lambda rid: self.grant_vault_access(rid, databricks, ["get", "list"]),
                                legacy=legacy, storage_access=self.storage_data_access, account_key=self.account_key)
        self._workspaces[name] = app
        return app

    def account_key(self, account: str) -> str | None:
        return self.storage.key(account) if self.storage is not None else self.identity.storage_keys.get(account)

    def storage_data_access(self, access_connector_id: str, account: str) -> str:
        """What an access connector's identity may do with a storage account's blobs: 'rw', 'r' or ''."""
        from sandbox import arm_authorization

        data = self.arm_state.read()
        resources = data.get("resources", {})
        connector = resources.get(access_connector_id.rstrip("/").lower())
        target = next((r for r in resources.values() if r["type"] == "Microsoft.Storage/storageAccounts"
                       and r["name"] == account), None)
        if connector is None or connector["type"] != "Microsoft.Databricks/accessConnectors" or target is None:
            return ""
        return arm_authorization.data_access(data, connector["identity"]["principalId"], target["id"],
                                             data.get("rbacPropagationSeconds", ROLE_PROPAGATION_S))

    def set_metastore_privileges(self, privileges: list[str]) -> None:
        """What the deployer holds on the account's metastore, as an account admin would grant it."""
        from sandbox.databricks.unity_catalog import set_deployer_privileges

        with self.databricks_state.update() as data:
            set_deployer_privileges(data, self.identity.tenant_id, self.identity.client_id, privileges)

    def set_rbac(self, deployer_roles: list[str] | None = None, propagation_s: float | None = None) -> None:
        """The deployer's Azure roles (Owner by default) and how long a role assignment takes to reach storage."""
        from sandbox import arm_authorization

        unknown = set(deployer_roles or []) - set(arm_authorization.DEPLOYER_ROLES)
        if unknown:
            raise ApiError(400, "InvalidSettings", f"unknown roles {sorted(unknown)}: expected some of "
                           f"{sorted(arm_authorization.DEPLOYER_ROLES)}")
        with self.arm_state.update() as data:
            if deployer_roles is not None:
                data["deployerRoles"] = list(deployer_roles)
            if propagation_s is not None:
                data["rbacPropagationSeconds"] = float(propagation_s)

    @property
    def arm_url(self) -> str:
        return f"https://{HOST}:{self.arm_port}"

    def read_vault_secret(self, vault_url: str, name: str) -> str | None:
        """The latest value of a secret, for a service of the sandbox that reads Key Vault (ADF)."""
        by_url = {url.rstrip("/"): vault for vault, url in self.vault_urls().items()}
        vault = by_url.get(vault_url.rstrip("/"))
        return self.vault_secrets(vault).get(name) if vault else None

    def vault_secrets(self, vault_resource_id: str, reader_object_id: str | None = None) -> dict[str, str]:
        """Latest enabled value of every secret of a vault (named by its resource id), for KV-backed scopes.
        With ``reader_object_id``, that principal needs get and list on the vault's access policies, as Key Vault
        asks of AzureDatabricks when a notebook reads a Key Vault-backed scope."""
        if reader_object_id is not None:
            self._check_vault_reader(vault_resource_id, reader_object_id)
        vault = self.keyvault_state.read().get(vault_resource_id.rstrip("/").rsplit("/", 1)[-1], {})
        return {name: secret["versions"][-1]["value"] for name, secret in vault.get("secrets", {}).items()
                if secret["versions"][-1]["attributes"].get("enabled", True)}

    def _vault_record(self, data: dict, vault_resource_id: str) -> dict:
        record = data.get("resources", {}).get(vault_resource_id.rstrip("/").lower())
        if record is None or record["type"] != "Microsoft.KeyVault/vaults":
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Azure Key Vault {vault_resource_id} does not exist.")
        return record

    def _check_vault_reader(self, vault_resource_id: str, object_id: str) -> None:
        record = self._vault_record(self.arm_state.read(), vault_resource_id)
        granted = {p.lower() for policy in record["properties"].get("accessPolicies") or []
                   if policy.get("objectId") == object_id for p in (policy.get("permissions") or {}).get("secrets", [])}
        if not {"get", "list"} <= granted:
            raise ApiError(403, "PERMISSION_DENIED", f"The user, group or application 'oid={object_id}' does not "
                           f"have secrets get and list permission on key vault '{record['name']}'. (Key Vault "
                           "Forbidden: the vault's access policies do not include AzureDatabricks.)")

    def grant_vault_access(self, vault_resource_id: str, object_id: str, secret_permissions: list[str]) -> None:
        """Add an access policy to a vault, as creating a Key Vault-backed scope does for AzureDatabricks."""
        with self.arm_state.update() as data:
            record = self._vault_record(data, vault_resource_id)
            policies = record["properties"].setdefault("accessPolicies", [])
            if not any(p.get("objectId") == object_id for p in policies):
                policies.append({"tenantId": self.authority.tenant_id, "objectId": object_id,
                                 "permissions": {"secrets": list(secret_permissions)}})

    def purge_vault(self, name: str) -> None:
        """A purged vault's secrets are gone for good; a vault created later under its name starts empty."""
        with self.keyvault_state.update() as data:
            data.pop(name, None)

    def ensure_workspace(self, name: str, legacy: bool | None = None) -> str:
        """A workspace's URL, made if missing. ``legacy``: whether it still has DBFS mounts (a new one does not
        unless told; an existing one keeps what it has unless told, as the workspace setting that disables legacy
        DBFS can be changed on Databricks)."""
        with self._lock:
            if name not in self.services.read().get("workspaces", {}):
                workspace_id = 1000000000000000 + len(self.services.read().get("workspaces", {})) + 1
                port = self._listen(f"databricks:{name}", self._workspace_app(name, workspace_id, bool(legacy)), 0)
                with self.services.update() as data:
                    data.setdefault("workspaces", {})[name] = {"port": port, "id": workspace_id,
                                                               "legacy": bool(legacy)}
            elif legacy is not None:
                with self.services.update() as data:
                    data["workspaces"][name]["legacy"] = legacy
                self._workspaces[name].legacy = legacy
            return self.workspace_urls()[name]

    def stop_workspace(self, name: str) -> None:
        """Stop a workspace's clusters (its resource was deleted); its endpoint stays, answering as empty."""
        workspace = self._workspaces.get(name)
        if workspace is not None:
            workspace.stop_clusters(close=False)
            with self.databricks_state.update() as data:
                data.pop(name, None)

    def workspace_urls(self) -> dict[str, str]:
        return {name: f"https://{HOST}:{self._servers[f'databricks:{name}'].server_port}"
                for name in self.services.read().get("workspaces", {})}

    def ensure_vault(self, name: str) -> str:
        with self._lock:
            known = self.services.read()["keyvaults"]
            if name not in known:
                port = self._listen(f"keyvault:{name}", self._vault_app(name), 0)
                with self.services.update() as data:
                    data["keyvaults"][name] = port
            return self.vault_urls()[name]

    def vault_urls(self) -> dict[str, str]:
        return {name: f"https://{HOST}:{self._servers[f'keyvault:{name}'].server_port}"
                for name in self.services.read()["keyvaults"]}

    def shutdown(self) -> None:
        for workspace in self._workspaces.values():
            workspace.stop_clusters()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        if self.storage:
            self.storage.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--repo", type=Path, required=True, help="the repository (its node_modules hold Azurite)")
    parser.add_argument("--storage-accounts", default="", help="comma-separated accounts to serve from the start")
    args = parser.parse_args()
    identity = Identity.load_or_create(args.home, tuple(a for a in args.storage_accounts.split(",") if a))
    storage = ManagedStorage(args.home, args.repo, identity.storage_keys).start()
    try:
        sandbox = Sandbox(args.home, args.port, storage=storage)
    except BaseException:
        storage.stop()  # never leave Azurite behind a server that failed to start
        raise
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps({"url": sandbox.url}), flush=True)
    stop.wait()
    sandbox.shutdown()


if __name__ == "__main__":
    main()
