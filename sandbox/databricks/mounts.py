"""Sandbox mounts: a mount point maps to an Azurite container (as dbutils.fs.mount maps one to ADLS),
kept in step with a local folder around each run, since local Spark has no ABFS driver. Before a run
the container's blobs are copied down; after it, what the run changed in its copy goes up (new and changed
files, and the removal of files it deleted), so the lake in storage is what the notebook wrote. Only the
run's own changes go up, measured against the copy it started from: on Databricks two runs on two clusters
write the lake at once, and neither undoes what the other wrote.

What Spark writes lands as it does on ADLS Gen2 (an account with a hierarchical namespace) seen through
the Blob API: every directory is a zero-length blob with metadata ``hdi_isfolder=true``, and files carry
no Content-MD5 (the ABFS driver writes by append and flush, and sends none). Whether a file changed is
told by size and last-modified time, as ``azcopy sync`` does. Sources: sandbox/RULES.md (storage.*)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError

from sandbox.adls import is_directory, write_directory, write_file
from sandbox.databricks.errors import invalid
from sandbox.request_log import CLUSTER_USER_AGENT

_SOURCE = re.compile(r"^(?:abfss?|wasbs?)://(?P<container>[^@/]+)@(?P<account>[a-z0-9]+)\."
                     r"(?:dfs|blob)\.core\.windows\.net/?(?P<prefix>.*)$")


@dataclass(frozen=True)
class MountSource:
    account: str
    container: str
    prefix: str
    key: str
    source: str = ""  # as given to dbutils.fs.mount


def parse_source(source: str, extra_configs: dict[str, str]) -> MountSource:
    match = _SOURCE.match(source)
    if not match:
        raise invalid(f"mount source {source!r}: expected abfss://container@account.dfs.core.windows.net/path")
    account = match["account"]
    key = next((v for k, v in extra_configs.items() if k.startswith(f"fs.azure.account.key.{account}.")), None)
    if key is None:
        raise invalid(f"mount of {source}: the sandbox mounts with an account key "
                      f"(extra_configs fs.azure.account.key.{account}.dfs.core.windows.net)")
    return MountSource(account, match["container"], match["prefix"].strip("/"), key, source)


def _container(blob_endpoint: str, source: MountSource):
    from azure.storage.blob import BlobServiceClient

    # Databricks reads a mount through the ABFS driver, which retries throttling and busy answers many
    # times (up to 30); the SDK's default of 3 would fail a sync of a few hundred files under injected faults.
    service = BlobServiceClient(f"{blob_endpoint}/{source.account}",
                                credential={"account_name": source.account, "account_key": source.key},
                                retry_total=12, retry_status=12, initial_backoff=0.5, increment_base=2,
                                user_agent=CLUSTER_USER_AGENT)
    container = service.get_container_client(source.container)
    if not container.exists():
        container.create_container()
    return container


def _stamp(path: Path, blob) -> None:
    """The local copy carries the blob's last-modified time: a file Spark rewrites gets a later one."""
    moment = blob.last_modified.timestamp()
    os.utime(path, (moment, moment))


def _unchanged(path: Path, blob) -> bool:
    return path.is_file() and path.stat().st_size == blob.size and \
        path.stat().st_mtime <= blob.last_modified.timestamp()


def _listing(container, prefix: str) -> dict:
    return {b.name[len(prefix):]: b for b in container.list_blobs(name_starts_with=prefix, include=["metadata"])}


@dataclass(frozen=True)
class Snapshot:
    """A local copy as it was synced down: each file's (size, modified time), and the directories."""
    files: dict
    directories: frozenset


def snapshot(folder: Path) -> Snapshot:
    files = {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime)
             for p in folder.rglob("*") if p.is_file()}
    return Snapshot(files, frozenset(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_dir()))


def sync_down(blob_endpoint: str, source: MountSource, folder: Path) -> Snapshot:
    """The container (under the source's prefix) copied into ``folder``, which then holds nothing else; what
    the copy is now, for :func:`sync_up` to tell the run's own changes by."""
    container = _container(blob_endpoint, source)
    prefix = f"{source.prefix}/" if source.prefix else ""
    remote = _listing(container, prefix)
    for relative, blob in remote.items():
        local = folder / relative
        if is_directory(blob):
            local.mkdir(parents=True, exist_ok=True)
            continue
        if _unchanged(local, blob) and local.stat().st_mtime == blob.last_modified.timestamp():
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(container.download_blob(blob.name).readall())
        _stamp(local, blob)
    files = {r for r, b in remote.items() if not is_directory(b)}
    for local in [p for p in folder.rglob("*") if p.is_file()]:
        if local.relative_to(folder).as_posix() not in files:
            local.unlink()
    return snapshot(folder)


def sync_up(blob_endpoint: str, source: MountSource, folder: Path, since: Snapshot | None = None,
            dry_run: bool = False) -> int:
    """Upload what changed in ``folder`` since it was synced down (``since``): new and changed files (and a
    directory blob for each new directory), and remove the blobs of files and directories the run deleted.
    Blobs another writer added meanwhile are left alone. Without ``since`` (a folder never synced down: a mount
    the run created) everything in it is new. Returns how many blobs change; ``dry_run`` only counts them."""
    since = since or Snapshot({}, frozenset())
    container = _container(blob_endpoint, source)
    prefix = f"{source.prefix}/" if source.prefix else ""
    now = snapshot(folder)
    new_dirs = sorted(now.directories - since.directories)
    changed = sorted(r for r, stat in now.files.items() if since.files.get(r) != stat)
    gone = sorted((set(since.files) - set(now.files)) | (since.directories - now.directories))
    if dry_run:
        return len(new_dirs) + len(changed) + len(gone)
    for relative in new_dirs:
        write_directory(container, prefix + relative)
    for relative in changed:
        path = folder / relative
        write_file(container, prefix + relative, path.read_bytes())
        _stamp(path, container.get_blob_client(prefix + relative).get_blob_properties())
    for relative in sorted(gone, reverse=True):  # a directory after what it held
        try:
            container.delete_blob(prefix + relative)
        except ResourceNotFoundError:  # another writer removed it too
            pass
    return len(new_dirs) + len(changed) + len(gone)
