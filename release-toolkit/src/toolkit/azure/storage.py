"""Blob storage: account keys (ARM listKeys) and incremental server-side copies between accounts.

A copy is Copy Blob from a URL signed with a short read-only SAS: the service moves the bytes, none
pass through this machine. On ADLS Gen2 (a hierarchical namespace) the Blob API lists each directory as a
zero-length blob with metadata hdi_isfolder=true, and what Spark or Data Factory wrote usually has no
Content-MD5. So directories are not copied (a copy creates its parents), and a blob is copied again when
its size differs, or its MD5 where both ends have one, or else when the source was modified after the
destination was written (azcopy sync's rule).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

STORAGE_API = "2023-05-01"


def account_key(rest, resource_group: str, account: str) -> str:
    answer = rest.call("POST", f"{rest.group_path(resource_group)}/providers/Microsoft.Storage/storageAccounts/"
                               f"{account}/listKeys", STORAGE_API)
    return answer["keys"][0]["value"]


@dataclass(frozen=True)
class BlobCopy:
    source_name: str
    destination_name: str
    size: int


def _prefix(prefix: str) -> str:
    return prefix.strip("/") + "/" if prefix.strip("/") else ""


def plan_copies(source_container, source_prefix: str, destination_container, destination_prefix: str
                ) -> list[BlobCopy]:
    """Blobs under the source prefix that are missing or different under the destination prefix."""
    source_prefix, destination_prefix = _prefix(source_prefix), _prefix(destination_prefix)
    existing = {}
    if destination_container.exists():
        existing = {b.name: b for b in destination_container.list_blobs(name_starts_with=destination_prefix)}
    wanted = []
    for blob in source_container.list_blobs(name_starts_with=source_prefix, include=["metadata"]):
        if is_directory(blob):
            continue
        target = destination_prefix + blob.name[len(source_prefix):]
        if not same_content(blob, existing.get(target)):
            wanted.append(BlobCopy(blob.name, target, blob.size))
    return wanted


def is_directory(blob) -> bool:
    return (blob.metadata or {}).get("hdi_isfolder") == "true"


def same_content(source, destination) -> bool:
    """Whether ``destination`` (a listed blob, or None) already holds what ``source`` holds."""
    if destination is None or destination.size != source.size:
        return False
    source_md5, destination_md5 = source.content_settings.content_md5, destination.content_settings.content_md5
    if source_md5 and destination_md5:
        return bytes(source_md5) == bytes(destination_md5)
    return destination.last_modified >= source.last_modified


def _sas(blob, key: str, **permissions: bool) -> str:
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    return generate_blob_sas(blob.account_name, blob.container_name, blob.blob_name, account_key=key,
                             permission=BlobSasPermissions(**permissions),
                             expiry=datetime.now(timezone.utc) + timedelta(hours=1))


def copy_blobs(source_container, source_key: str, destination_container, destination_key: str,
               copies: list[BlobCopy], progress: Callable[[BlobCopy], None], concurrency: int = 8) -> None:
    """Copy server-side, waiting for each copy to finish (Azure may complete large ones asynchronously).
    Both ends are authorized by short-lived blob SAS tokens made from the account keys."""
    import time
    from toolkit.concurrency import run_concurrently

    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobClient

    try:
        destination_container.create_container()
    except ResourceExistsError:
        pass

    def one(copy: BlobCopy) -> None:
        source = source_container.get_blob_client(copy.source_name)
        plain = destination_container.get_blob_client(copy.destination_name)
        sas = _sas(plain, destination_key, read=True, write=True, create=True)
        target = BlobClient.from_blob_url(f"{plain.url}?{sas}")
        target.start_copy_from_url(f"{source.url}?{_sas(source, source_key, read=True)}")
        delay = 0.2
        while (status := target.get_blob_properties().copy.status) == "pending":
            time.sleep(delay)
            delay = min(delay * 2, 10)
        if status != "success":
            raise RuntimeError(f"copy of {copy.source_name} to {copy.destination_name} ended {status}")
        progress(copy)

    run_concurrently(copies, one, concurrency)
