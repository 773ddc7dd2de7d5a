"""The environment's release ledger: a JSON blob in its lake's ``releases`` container recording every
deploy and test result (who, when, version, bundle digest, outcome). Appends are optimistic: the blob
is replaced only if it is still the version that was read (ETag), and re-read on a conflict."""
from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import datetime, timezone
from typing import Any

CONTAINER = "releases"
BLOB = "ledger.json"
_ATTEMPTS = 8


def actor() -> str:
    for variable in ("BUILD_REQUESTEDFOREMAIL", "BUILD_REQUESTEDFOR", "GITHUB_ACTOR"):
        if os.environ.get(variable):
            return os.environ[variable]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def new_record(event: str, environment: str, version: str, digest: str, outcome: str, **details: Any) -> dict:
    return {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "who": actor(),
            "host": socket.gethostname(), "event": event, "environment": environment, "version": version,
            "bundle_digest": digest, "outcome": outcome, **details}


def read_ledger(lake) -> tuple[dict, str | None]:
    """The ledger and its ETag (None when there is no ledger yet)."""
    from azure.core.exceptions import ResourceNotFoundError

    blob = lake.get_blob_client(CONTAINER, BLOB)
    try:
        download = blob.download_blob()
    except ResourceNotFoundError:
        return {"records": []}, None
    return json.loads(download.readall()), download.properties.etag


def append_record(lake, record: dict) -> None:
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

    container = lake.get_container_client(CONTAINER)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    blob = container.get_blob_client(BLOB)
    for _ in range(_ATTEMPTS):
        ledger, etag = read_ledger(lake)
        ledger["records"].append(record)
        data = json.dumps(ledger, indent=1).encode()
        try:
            if etag is None:
                blob.upload_blob(data, overwrite=False)
            else:
                blob.upload_blob(data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified)
            return
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            continue  # someone else appended in between: read again
    raise RuntimeError(f"could not append to the ledger {CONTAINER}/{BLOB} after {_ATTEMPTS} attempts")


def last_record(ledger: dict, **match: Any) -> dict | None:
    found = [r for r in ledger.get("records", []) if all(r.get(k) == v for k, v in match.items())]
    return found[-1] if found else None
