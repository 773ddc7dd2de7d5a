"""One Databricks workspace: the REST endpoints of workspace_objects, compute and jobs over one state."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from werkzeug.routing import Map
from werkzeug.wrappers import Request

from sandbox.databricks import compute, jobs, workspace_objects
from sandbox.databricks.blobs import BlobStore
from sandbox.http import ApiError, Service
from sandbox.state import JsonState


def empty_workspace() -> dict:
    return {"objects": {"/": {"object_type": "DIRECTORY", "object_id": 0, "created_at": 0, "modified_at": 0}},
            "scopes": {}, "dbfs": {}, "handles": {}, "clusters": {}, "jobs": {}, "runs": {}, "next_id": 1000}


class DatabricksService(Service, workspace_objects.WorkspaceObjects, compute.Compute, jobs.Jobs):
    name = "databricks"
    url_map = Map(workspace_objects.RULES + compute.RULES + jobs.RULES)

    def __init__(self, workspace: str, workspace_id: int, state: JsonState, home: Path, authority, faults,
                 keyvault_reader: Callable[[str], dict[str, str]] | None = None, blob_endpoint: str | None = None,
                 keyvault_grant: Callable[[str], None] | None = None):
        Service.__init__(self, authority, faults)
        self.workspace, self.workspace_id, self.state = workspace, workspace_id, state
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(home / "blobs")
        self.keyvault_reader = keyvault_reader
        self.keyvault_grant = keyvault_grant  # adds AzureDatabricks to a vault's access policies
        self.blob_endpoint = blob_endpoint
        self.mount_root = home / "mounts"
        self._init_compute()

    # -- mounts (see sandbox.databricks.mounts) ----------------------------------------------------
    def _mount_sources(self) -> dict:
        from sandbox.databricks.mounts import MountSource

        return {point: MountSource(**source) for point, source in self.ws(self.state.read()).get("mounts", {}).items()}

    def sync_mounts_down(self) -> dict[str, str]:
        from sandbox.databricks.mounts import sync_down
        from sandbox.notebook.dbutils import mount_local_folder

        folders = {}
        for point, source in self._mount_sources().items():
            folder = mount_local_folder(self.mount_root, point)
            folder.mkdir(parents=True, exist_ok=True)
            sync_down(self.blob_endpoint, source, folder)
            folders[point] = str(folder)
        return folders

    def sync_mounts_up(self, synced_down: set[str]) -> None:
        """After a run: mounts that were synced down before it are mirrored up; a mount the run created only
        adds what the run wrote, then comes down whole for the next run."""
        from sandbox.databricks.mounts import sync_down, sync_up
        from sandbox.notebook.dbutils import mount_local_folder

        for point, source in self._mount_sources().items():
            folder = mount_local_folder(self.mount_root, point)
            sync_up(self.blob_endpoint, source, folder, delete=point in synced_down)
            if point not in synced_down:
                sync_down(self.blob_endpoint, source, folder)

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
