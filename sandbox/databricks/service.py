"""One Databricks workspace: the REST endpoints of workspace_objects, compute and jobs over one state."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from werkzeug.routing import Map
from werkzeug.wrappers import Request

from sandbox.databricks import compute, jobs, unity_catalog, workspace_objects
from sandbox.databricks.blobs import BlobStore
from sandbox.http import ApiError, Service
from sandbox.state import JsonState


def empty_workspace() -> dict:
    return {"objects": {"/": {"object_type": "DIRECTORY", "object_id": 0, "created_at": 0, "modified_at": 0}},
            "scopes": {}, "dbfs": {}, "handles": {}, "clusters": {}, "jobs": {}, "runs": {}, "next_id": 1000}


class DatabricksService(Service, workspace_objects.WorkspaceObjects, compute.Compute, jobs.Jobs,
                        unity_catalog.UnityCatalog):
    name = "databricks"
    url_map = Map(workspace_objects.RULES + compute.RULES + jobs.RULES + unity_catalog.RULES)

    def __init__(self, workspace: str, workspace_id: int, state: JsonState, home: Path, authority, faults,
                 keyvault_reader: Callable[[str], dict[str, str]] | None = None, blob_endpoint: str | None = None,
                 keyvault_grant: Callable[[str], None] | None = None, legacy: bool = False,
                 storage_access: Callable[[str, str], str] = lambda connector, account: "",
                 account_key: Callable[[str], str | None] = lambda account: None):
        Service.__init__(self, authority, faults)
        self.workspace, self.workspace_id, self.state = workspace, workspace_id, state
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(home / "blobs")
        self.keyvault_reader = keyvault_reader
        self.keyvault_grant = keyvault_grant  # adds AzureDatabricks to a vault's access policies
        self.blob_endpoint = blob_endpoint
        # A workspace of an account opened before DBFS mounts were withdrawn; new accounts have none (RULES.md).
        self.legacy = legacy
        self.storage_access = storage_access  # (access connector id, account) -> 'rw', 'r' or ''
        self.account_key = account_key
        self._run_locks: dict[str, threading.Lock] = {}
        self._run_locks_guard = threading.Lock()
        self._init_compute()

    # -- mounts (see sandbox.databricks.mounts) ----------------------------------------------------
    def _mount_sources(self) -> dict:
        from sandbox.databricks.mounts import MountSource

        return {point: MountSource(**source) for point, source in self.ws(self.state.read()).get("mounts", {}).items()}

    # Each cluster works on its own local copy of what it reads (one driver runs one notebook at a time, see
    # jobs.py): two clusters running at once, as Databricks allows, do not share a folder.
    def cluster_home(self, cluster_id: str) -> Path:
        return self.home / "clusters" / cluster_id

    def sync_mounts_down(self, cluster_id: str) -> dict[str, tuple[str, object]]:
        """Every mount copied into the cluster's own folders: mount point -> (folder, snapshot)."""
        from sandbox.databricks.mounts import sync_down
        from sandbox.notebook.dbutils import mount_local_folder

        folders = {}
        for point, source in self._mount_sources().items():
            folder = mount_local_folder(self.cluster_home(cluster_id) / "mounts", point)
            folder.mkdir(parents=True, exist_ok=True)
            folders[point] = (str(folder), sync_down(self.blob_endpoint, source, folder))
        return folders

    def sync_mounts_up(self, cluster_id: str, synced_down: dict) -> None:
        """After a run: what it changed under each mount goes up (a mount the run created: all it wrote)."""
        from sandbox.databricks.mounts import sync_up
        from sandbox.notebook.dbutils import mount_local_folder

        for point, source in self._mount_sources().items():
            folder = mount_local_folder(self.cluster_home(cluster_id) / "mounts", point)
            sync_up(self.blob_endpoint, source, folder, since=synced_down[point][1] if point in synced_down else None)

    # -- abfss:// paths through Unity Catalog external locations ------------------------------------
    def lake_folders(self, parameters: dict, cluster: dict, cluster_id: str) -> tuple[dict, dict]:
        """Widget values that are abfss:// paths point at the cluster's local copy of the external location that
        covers them (local Spark has no ABFS driver), once Unity Catalog has allowed the caller to read there.
        Returns the translated parameters and, by location, (grant, local folder, snapshot) for the sync up."""
        from sandbox.databricks.mounts import sync_down

        translated, synced = dict(parameters), {}
        paths = {n: v for n, v in parameters.items() if isinstance(v, str) and v.startswith("abfss://")}
        if paths:
            self.check_access_mode(cluster)
        for name, value in paths.items():
            grant = self.path_access(value)
            folder = self.cluster_home(cluster_id) / "external-locations" / grant.location.lower()
            if grant.location not in synced:
                folder.mkdir(parents=True, exist_ok=True)
                synced[grant.location] = (grant, folder, sync_down(self.blob_endpoint, self._source(grant), folder))
            relative = unity_catalog.normalize_url(value)[len(grant.url):].strip("/")
            translated[name] = str(folder / relative) if relative else str(folder)
        return translated, synced

    def _source(self, grant):
        from sandbox.databricks.mounts import MountSource

        return MountSource(grant.account, grant.container, grant.prefix, self.account_key(grant.account) or "")

    def sync_lake_folders_up(self, synced: dict) -> str | None:
        """After a run: what it changed under each external location goes up, when the caller may write there;
        otherwise nothing goes up and the run fails with Databricks' refusal."""
        from sandbox.databricks.mounts import sync_up

        for grant, folder, since in synced.values():
            if sync_up(self.blob_endpoint, self._source(grant), folder, since, dry_run=True) and not grant.writable:
                return (f"PERMISSION_DENIED: User does not have WRITE FILES on External Location '{grant.location}' "
                        "(or the location is read-only, or its credential's identity may only read the account).")
        for grant, folder, since in synced.values():
            sync_up(self.blob_endpoint, self._source(grant), folder, since)
        return None

    def check_access_mode(self, cluster: dict) -> None:
        """Unity Catalog data is reached only from a cluster in an access mode that supports it; a dedicated
        (single user) cluster runs only its user's commands."""
        spec = cluster.get("spec") or {}
        mode = spec.get("data_security_mode") or "NONE"
        if mode not in unity_catalog.UC_ACCESS_MODES:
            raise PermissionError(f"[UC_NOT_ENABLED] Unity Catalog is not enabled on this cluster (access mode "
                                  f"{mode}): use a dedicated (SINGLE_USER) or standard (USER_ISOLATION) cluster")
        single_user = spec.get("single_user_name")
        if mode in ("SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED") and single_user != self.caller():
            raise PermissionError(f"Single-user check failed: user '{self.caller()}' attempted to run a command on "
                                  f"single-user cluster, but the single user of this cluster is '{single_user}'")

    def record_mounts(self, created: dict[str, dict], removed: list[str]) -> None:
        """Keep the mounts a run made (workspace-wide, as on Databricks) and forget the ones it removed."""
        from dataclasses import asdict

        from sandbox.databricks.mounts import parse_source

        with self.state.update() as data:
            mounts = self.ws(data).setdefault("mounts", {})
            for point in removed:
                mounts.pop(point, None)
            for point, spec in created.items():
                mounts[point] = asdict(parse_source(spec["source"], spec["extra_configs"]))

    def ws(self, data: dict) -> dict:
        return data.setdefault(self.workspace, empty_workspace())

    def error_body(self, error: ApiError):
        return {"error_code": error.code, "message": error.message}

    def challenge_headers(self, request: Request) -> dict[str, str]:
        return {}

    def authenticate(self, request: Request) -> dict:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer dapi") and self.token_is_valid(header[7:]):
            return {"pat": True}
        try:
            return super().authenticate(request)
        except ApiError as error:
            raise ApiError(401, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for "
                           "this API.", headers=error.headers) from None
