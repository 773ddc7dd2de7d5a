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
                 keyvault_reader: Callable[[str], dict[str, str]] | None = None,
                 mounts: dict[str, str] | None = None):
        Service.__init__(self, authority, faults)
        self.workspace, self.workspace_id, self.state = workspace, workspace_id, state
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(home / "blobs")
        self.keyvault_reader = keyvault_reader
        self.mounts = mounts or {}
        self._init_compute()

    def ws(self, data: dict) -> dict:
        return data.setdefault(self.workspace, empty_workspace())

    def error_body(self, error: ApiError):
        return {"error_code": error.code, "message": error.message}

    def challenge_headers(self, request: Request) -> dict[str, str]:
        return {}

    def authenticate(self, request: Request) -> dict:
        try:
            return super().authenticate(request)
        except ApiError as error:
            raise ApiError(401, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for "
                           "this API.", headers=error.headers) from None
