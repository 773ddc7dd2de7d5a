"""The marker of a release root in the workspace: written last by the application step, so a root is a
complete release only when its marker names it (the version and bundle digest, and a slot's name)."""
from __future__ import annotations

import json

from toolkit.databricks.workspace_files import read_file

MARKER = "release.json"


def read_marker(workspace, root: str) -> dict | None:
    """The marker of a release root, or None when the root is not (or not yet completely) deployed."""
    content = read_file(workspace, f"{root}/{MARKER}")
    return json.loads(content) if content else None
