"""The environment's release ledger: a JSON blob in its lake's ``releases`` container recording every
deploy, test result and swap (who, when, version, bundle digest, slot, outcome). A lease on this same
blob is the environment lock (``toolkit.release.lock``): while a run holds it, only that run can
write the ledger, and every write carries the lease and keeps the holder's metadata. Appends are
also optimistic (ETag), so a write between our read and our replace is never lost."""
from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import datetime, timezone
from typing import Any, Protocol

CONTAINER = "releases"
BLOB = "ledger.json"
_ATTEMPTS = 8
EMPTY = b'{"records": []}'


class LedgerLease(Protocol):
    """What a write needs from the lock that holds the ledger: the lease and the holder's metadata."""
    lease: Any
    metadata: dict[str, str]


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
            "host": socket.gethostname(), "deployer": deployer(), "event": event, "environment": environment,
            "version": version, "bundle_digest": digest, "outcome": outcome,
            **{k: v for k, v in details.items() if v is not None}}


def deployer() -> str:
    """Which release toolkit wrote a record: the installed parking-release's version (a release job installs the
    one its bundle carries), or "source" for a toolkit run from a clone's sources."""
    from toolkit import DISTRIBUTION, installed_version

    found = installed_version()
    return f"{DISTRIBUTION} {found}" if found else "source"


def ledger_blob(lake, create: bool = False):
    """The ledger's blob client; with ``create``, the container and an empty ledger exist afterwards."""
    from azure.core.exceptions import ResourceExistsError

    container = lake.get_container_client(CONTAINER)
    blob = container.get_blob_client(BLOB)
    if create and not blob.exists():
        try:
            container.create_container()
        except ResourceExistsError:
            pass
        try:
            blob.upload_blob(EMPTY, overwrite=False)
        except ResourceExistsError:
            pass  # created in between by another run
    return blob


def read_ledger(lake) -> tuple[dict, str | None]:
    """The ledger and its ETag (None when there is no ledger yet)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        download = ledger_blob(lake).download_blob()
    except ResourceNotFoundError:
        return {"records": []}, None
    return json.loads(download.readall()), download.properties.etag


def append_record(lake, record: dict, lock: LedgerLease | None = None) -> None:
    """Append ``record``; ``lock`` is the environment lock when this run holds it (the ledger is then
    leased, and only a write that carries the lease is accepted)."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

    blob = ledger_blob(lake, create=lock is None)
    held = {"lease": lock.lease, "metadata": lock.metadata} if lock is not None else {}
    for _ in range(_ATTEMPTS):
        ledger, etag = read_ledger(lake)
        ledger["records"].append(record)
        data = json.dumps(ledger, indent=1).encode()
        try:
            if etag is None:
                blob.upload_blob(data, overwrite=False, **held)
            else:
                blob.upload_blob(data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified,
                                 **held)
            return
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            continue  # someone else appended in between: read again
    raise RuntimeError(f"could not append to the ledger {CONTAINER}/{BLOB} after {_ATTEMPTS} attempts")


def last_record(ledger: dict, **match: Any) -> dict | None:
    found = [r for r in ledger.get("records", []) if all(r.get(k) == v for k, v in match.items())]
    return found[-1] if found else None
