"""Unity Catalog objects of one environment, through databricks-sdk: the storage credential backed by the Access
Connector's managed identity, the external location on the lake's container, the catalog (with its managed
location inside that external location), its schemas, and the grants of the identity that runs the jobs.

Each is read first; the release creates what is missing and updates what differs, never anything else.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

# What the identity that runs the jobs is granted: the notebooks read and write files under the external
# location (READ FILES, WRITE FILES), and may use the catalog's schemas and their tables. Nothing on the
# credential, nothing on the metastore.
LOCATION_PRIVILEGES = ("READ_FILES", "WRITE_FILES")
CATALOG_PRIVILEGES = ("USE_CATALOG", "USE_SCHEMA", "CREATE_TABLE", "SELECT", "MODIFY")
# What the deployer needs on the metastore to create each kind of object (Databricks docs: storage credentials,
# CREATE EXTERNAL LOCATION, CREATE CATALOG).
CREATE_PRIVILEGE = {"credential": "CREATE_STORAGE_CREDENTIAL", "location": "CREATE_EXTERNAL_LOCATION",
                    "catalog": "CREATE_CATALOG"}
VALIDATED_OPERATIONS = ("READ", "LIST", "WRITE", "DELETE")


def lake_url(account: str, container: str) -> str:
    return f"abfss://{container}@{account}.dfs.core.windows.net"


def credential_name(catalog: str) -> str:
    return f"{catalog}_connector"


def location_name(catalog: str) -> str:
    return f"{catalog}_lake"


@dataclass(frozen=True)
class CatalogSetup:
    """What one environment's Unity Catalog objects should be."""
    catalog: str
    url: str  # the external location: the lake's container
    managed_location: str
    access_connector_id: str
    schemas: tuple[str, ...]
    principal: str  # who runs the jobs

    @property
    def credential(self) -> str:
        return credential_name(self.catalog)

    @property
    def location(self) -> str:
        return location_name(self.catalog)


@dataclass
class CatalogState:
    credential_connector: str | None = None  # None: no credential
    location: dict | None = None  # url, credential_name, read_only
    catalog_root: str | None = None
    catalog_exists: bool = False
    schemas: set[str] = field(default_factory=set)
    location_grants: set[str] = field(default_factory=set)
    catalog_grants: set[str] = field(default_factory=set)


def _get(call: Callable[[], object]):
    from databricks.sdk.errors import NotFound

    try:
        return call()
    except NotFound:
        return None


def _granted(workspace, kind: str, name: str, principal: str) -> set[str]:
    answer = workspace.api_client.do("GET", f"/api/2.1/unity-catalog/permissions/{kind}/{name}",
                                     query={"principal": principal})
    return {p for a in answer.get("privilege_assignments") or [] if a.get("principal") == principal
            for p in a.get("privileges") or []}


def read_state(workspace, setup: CatalogSetup) -> CatalogState:
    """The environment's objects as they are (reads only)."""
    state = CatalogState()
    credential = _get(lambda: workspace.storage_credentials.get(setup.credential))
    if credential is not None and credential.azure_managed_identity is not None:
        state.credential_connector = credential.azure_managed_identity.access_connector_id
    elif credential is not None:
        state.credential_connector = ""
    location = _get(lambda: workspace.external_locations.get(setup.location))
    if location is not None:
        state.location = {"url": (location.url or "").rstrip("/"), "credential_name": location.credential_name,
                          "read_only": bool(location.read_only)}
        state.location_grants = _granted(workspace, "external_location", setup.location, setup.principal)
    catalog = _get(lambda: workspace.catalogs.get(setup.catalog))
    if catalog is not None:
        state.catalog_exists, state.catalog_root = True, (catalog.storage_root or "").rstrip("/") or None
        state.schemas = {s.name for s in workspace.schemas.list(catalog_name=setup.catalog)}
        state.catalog_grants = _granted(workspace, "catalog", setup.catalog, setup.principal)
    return state


def missing_privileges(workspace, needed: set[str]) -> list[str]:
    """Which of the metastore privileges ``needed`` the caller lacks (none for the metastore's owner)."""
    if not needed:
        return []
    me = workspace.current_user.me().user_name
    summary = workspace.metastores.summary()
    if summary.owner == me:
        return []
    answer = workspace.api_client.do("GET", f"/api/2.1/unity-catalog/effective-permissions/metastore/"
                                     f"{summary.metastore_id}", query={"principal": me})
    held = {p.get("privilege") for a in answer.get("privilege_assignments") or [] if a.get("principal") == me
            for p in a.get("privileges") or []}
    return sorted(needed - held)


def validation_failures(workspace, credential: str, url: str) -> list[str]:
    """Operations the credential cannot yet do at ``url`` (validate-storage-credentials, a read)."""
    answer = workspace.api_client.do("POST", "/api/2.1/unity-catalog/validate-storage-credentials",
                                     body={"storage_credential_name": credential, "url": url})
    return [f"{r.get('operation')}: {r.get('message') or r.get('result')}" for r in answer.get("results") or []
            if r.get("operation") in VALIDATED_OPERATIONS and r.get("result") == "FAIL"]


def wait_until_valid(workspace, credential: str, url: str, timeout_s: float, say: Callable[[str], None],
                     sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
    """Wait for a new role assignment to reach storage: until the credential validates at ``url``, or
    TimeoutError naming what still fails and what to check."""
    deadline, delay = clock() + timeout_s, 2.0
    while True:
        failures = validation_failures(workspace, credential, url)
        if not failures:
            return
        if clock() + delay > deadline:
            raise TimeoutError(f"storage credential {credential} still cannot reach {url} after {timeout_s:.0f}s "
                               f"({failures[0]}): check that the access connector's identity has Storage Blob Data "
                               "Contributor on the storage account (the ARM template assigns it)")
        say(f"waiting for the access connector's role to reach storage ({failures[0]}); again in {delay:.0f}s")
        sleep(delay)
        delay = min(delay * 2, 30)


def create_credential(workspace, setup: CatalogSetup) -> None:
    from databricks.sdk.service.catalog import AzureManagedIdentityRequest

    workspace.storage_credentials.create(setup.credential, comment="the lake, through the access connector",
                                         azure_managed_identity=AzureManagedIdentityRequest(
                                             access_connector_id=setup.access_connector_id))


def update_credential(workspace, setup: CatalogSetup) -> None:
    from databricks.sdk.service.catalog import AzureManagedIdentityResponse

    workspace.storage_credentials.update(setup.credential, azure_managed_identity=AzureManagedIdentityResponse(
        access_connector_id=setup.access_connector_id))


def put_location(workspace, setup: CatalogSetup, exists: bool) -> None:
    if exists:
        workspace.external_locations.update(setup.location, url=setup.url, credential_name=setup.credential,
                                            read_only=False)
    else:
        workspace.external_locations.create(setup.location, setup.url, setup.credential,
                                            comment="the environment's lake container")


def create_catalog(workspace, setup: CatalogSetup) -> None:
    workspace.catalogs.create(setup.catalog, storage_root=setup.managed_location,
                              comment="parking sensors: the environment's catalog")


def create_schema(workspace, setup: CatalogSetup, schema: str) -> None:
    workspace.schemas.create(schema, setup.catalog)


def grant(workspace, kind: str, name: str, principal: str, privileges: list[str]) -> None:
    workspace.api_client.do("PATCH", f"/api/2.1/unity-catalog/permissions/{kind}/{name}",
                            body={"changes": [{"principal": principal, "add": privileges}]})


def remove(workspace, catalog: str, say: Callable[[str], None]) -> list[str]:
    """Delete an environment's catalog (with its schemas), external location and credential; what was deleted.
    Missing ones are skipped, so a teardown that stopped half way finishes on a re-run."""
    from databricks.sdk.errors import NotFound

    location, credential = location_name(catalog), credential_name(catalog)
    deleted = []
    for what, call in ((f"catalog {catalog}", lambda: workspace.catalogs.delete(catalog, force=True)),
                       (f"external location {location}",
                        lambda: workspace.external_locations.delete(location, force=True)),
                       (f"storage credential {credential}",
                        lambda: workspace.storage_credentials.delete(credential, force=True))):
        try:
            call()
        except NotFound:
            continue
        say(f"deleted {what}")
        deleted.append(what)
    return deleted
