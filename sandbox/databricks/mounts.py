"""Sandbox mounts: a mount point maps to an Azurite container (as dbutils.fs.mount maps one to ADLS),
kept in step with a local folder around each run, since local Spark has no ABFS driver. Before a run
the container's blobs are copied down; after it, new and changed files go up and deleted ones are
removed, so the lake in storage is what the notebook wrote."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from sandbox.databricks.errors import invalid

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
                                retry_total=12, retry_status=12, initial_backoff=0.5, increment_base=2)
    container = service.get_container_client(source.container)
    if not container.exists():
        container.create_container()
    return container


def _md5(path: Path) -> bytes:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).digest()


def sync_down(blob_endpoint: str, source: MountSource, folder: Path) -> None:
    container = _container(blob_endpoint, source)
    prefix = f"{source.prefix}/" if source.prefix else ""
    remote = set()
    for blob in container.list_blobs(name_starts_with=prefix):
        relative = blob.name[len(prefix):]
        remote.add(relative)
        local = folder / relative
        md5 = blob.content_settings.content_md5
        if local.is_file() and local.stat().st_size == blob.size and md5 and bytes(md5) == _md5(local):
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(container.download_blob(blob.name).readall())
    for local in [p for p in folder.rglob("*") if p.is_file()]:
        if local.relative_to(folder).as_posix() not in remote:
            local.unlink()


def sync_up(blob_endpoint: str, source: MountSource, folder: Path, delete: bool = True) -> None:
    """Upload new and changed files; with ``delete``, remove blobs whose file is gone (only safe when
    the folder was synced down before the run)."""
    container = _container(blob_endpoint, source)
    prefix = f"{source.prefix}/" if source.prefix else ""
    remote = {b.name[len(prefix):]: b for b in container.list_blobs(name_starts_with=prefix)}
    local_files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    for relative, path in local_files.items():
        blob = remote.get(relative)
        md5 = blob.content_settings.content_md5 if blob else None
        if blob and blob.size == path.stat().st_size and md5 and bytes(md5) == _md5(path):
            continue
        container.upload_blob(prefix + relative, path.read_bytes(), overwrite=True)
    for relative in set(remote) - set(local_files) if delete else ():
        container.delete_blob(prefix + relative)
