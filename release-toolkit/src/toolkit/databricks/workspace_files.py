"""Workspace files and notebooks: what exists under a folder, and a concurrent importer.

``workspace.import_`` takes up to 10 MB per object and needs ``overwrite`` to replace one; its
parent folder must exist, so folders are made first."""
from __future__ import annotations

import base64
import posixpath
from dataclasses import dataclass
from typing import Callable

from toolkit.concurrency import run_concurrently

MAX_IMPORT_BYTES = 10 * 1024 * 1024
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class WorkspaceObject:
    path: str
    content: bytes
    notebook: bool  # a notebook (SOURCE, Python) or a workspace file


def existing_objects(workspace, folder: str) -> dict[str, int | None]:
    """Path -> size of every object under ``folder`` (empty if it does not exist)."""
    from databricks.sdk.errors import NotFound

    try:
        return {o.path: o.size for o in workspace.workspace.list(folder, recursive=True)}
    except NotFound:
        return {}


def read_file(workspace, path: str) -> bytes | None:
    from databricks.sdk.errors import NotFound

    try:
        exported = workspace.workspace.export(path)
    except NotFound:
        return None
    return base64.b64decode(exported.content or "")


def import_objects(workspace, objects: list[WorkspaceObject], progress: Callable[[WorkspaceObject], None],
                   concurrency: int = DEFAULT_CONCURRENCY) -> None:
    from databricks.sdk.service.workspace import ImportFormat, Language

    too_big = [o.path for o in objects if len(o.content) > MAX_IMPORT_BYTES]
    if too_big:
        raise ValueError(f"workspace import takes up to 10 MB per object: {', '.join(too_big)}")
    for folder in sorted({posixpath.dirname(o.path) for o in objects}):
        workspace.workspace.mkdirs(folder)

    def one(item: WorkspaceObject) -> None:
        if item.notebook:
            workspace.workspace.import_(item.path, content=base64.b64encode(item.content).decode(),
                                        format=ImportFormat.SOURCE, language=Language.PYTHON, overwrite=True)
        else:
            workspace.workspace.import_(item.path, content=base64.b64encode(item.content).decode(),
                                        format=ImportFormat.AUTO, overwrite=True)
        progress(item)

    run_concurrently(objects, one, max(1, concurrency))


def delete_objects(workspace, paths: list[str]) -> None:
    """Delete workspace objects (folders with what is in them); one already gone is not an error."""
    from databricks.sdk.errors import NotFound

    for path in paths:
        try:
            workspace.workspace.delete(path, recursive=True)
        except NotFound:
            pass
