"""Artifact stores: a local folder, or an Azure Blob container. Both keep, beside each object,
its size and sha256, so a publish can skip what is there and verify what it wrote."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from toolkit.bundle.manifest import sha256_file


class ArtifactNotFound(KeyError):
    pass


class ArtifactExists(Exception):
    pass


@dataclass(frozen=True)
class StoredObject:
    size: int
    sha256: str | None
    md5: bytes | None = None  # as the store computed it on receipt (blob), None where it keeps none


class ArtifactStore(Protocol):
    def describe(self) -> str: ...

    def stat(self, key: str) -> StoredObject | None: ...

    def read(self, key: str) -> bytes: ...

    def download(self, key: str, destination: Path) -> None: ...

    def upload(self, key: str, source: Path, sha256: str, overwrite: bool) -> None: ...

    def write(self, key: str, data: bytes, overwrite: bool) -> None: ...

    def list_folders(self) -> list[str]: ...

    def inventory(self, prefix: str) -> dict[str, StoredObject]: ...


class LocalStore:
    """A folder. Writes go to a temporary file renamed into place, so a reader never sees half a file."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def describe(self) -> str:
        return f"local folder {self.root}"

    def _path(self, key: str) -> Path:
        return self.root / key

    def stat(self, key: str) -> StoredObject | None:
        path = self._path(key)
        return StoredObject(path.stat().st_size, sha256_file(path)) if path.is_file() else None

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFound(key) from None

    def download(self, key: str, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(self.read(key))

    def _place(self, key: str, write, overwrite: bool) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            if overwrite:
                os.replace(temporary, target)
            else:
                try:
                    os.link(temporary, target)  # fails if the target exists: create-only, atomically
                except FileExistsError:
                    raise ArtifactExists(key) from None
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def upload(self, key: str, source: Path, sha256: str, overwrite: bool) -> None:
        def copy(f) -> None:
            with source.open("rb") as src:
                shutil.copyfileobj(src, f)
        self._place(key, copy, overwrite)

    def write(self, key: str, data: bytes, overwrite: bool) -> None:
        self._place(key, lambda f: f.write(data), overwrite)

    def list_folders(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def inventory(self, prefix: str) -> dict[str, StoredObject]:
        """Every object under ``prefix`` (a folder, ending in /), with sizes and digests recomputed."""
        folder = self._path(prefix)
        if not folder.is_dir():
            return {}
        return {p.relative_to(self.root).as_posix(): StoredObject(p.stat().st_size, sha256_file(p))
                for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}


class BlobStore:
    """An Azure Blob container (works the same on an ADLS Gen2 account). Each blob's sha256 is kept
    in its metadata; uploads send an MD5 the service checks, so corrupted bytes are refused."""

    def __init__(self, container_client):
        self.container = container_client

    def describe(self) -> str:
        return f"blob container {self.container.url}"

    @staticmethod
    def _stored(properties) -> StoredObject:
        md5 = properties.content_settings.content_md5 if properties.content_settings else None
        return StoredObject(properties.size, (properties.metadata or {}).get("sha256"), bytes(md5) if md5 else None)

    def stat(self, key: str) -> StoredObject | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._stored(self.container.get_blob_client(key).get_blob_properties())
        except ResourceNotFoundError:
            return None

    def inventory(self, prefix: str) -> dict[str, StoredObject]:
        """Every blob under ``prefix`` with size, sha256 metadata and the service's MD5: one listing call per 5000."""
        return {b.name: self._stored(b) for b in self.container.list_blobs(name_starts_with=prefix,
                                                                           include=["metadata"])}

    def read(self, key: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.container.download_blob(key).readall()
        except ResourceNotFoundError:
            raise ArtifactNotFound(key) from None

    def download(self, key: str, destination: Path) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with destination.open("wb") as f:
                self.container.download_blob(key).readinto(f)
        except ResourceNotFoundError:
            raise ArtifactNotFound(key) from None

    def _upload(self, key: str, data, sha256: str, overwrite: bool) -> None:
        from azure.core.exceptions import ResourceExistsError

        try:
            self.container.upload_blob(key, data, overwrite=overwrite, metadata={"sha256": sha256},
                                       validate_content=True)
        except ResourceExistsError:
            raise ArtifactExists(key) from None

    def upload(self, key: str, source: Path, sha256: str, overwrite: bool) -> None:
        with source.open("rb") as f:
            self._upload(key, f, sha256, overwrite)

    def write(self, key: str, data: bytes, overwrite: bool) -> None:
        self._upload(key, data, hashlib.sha256(data).hexdigest(), overwrite)

    def list_folders(self) -> list[str]:
        return sorted(p.name.rstrip("/") for p in self.container.walk_blobs(delimiter="/") if p.name.endswith("/"))


def open_store(config, base: Path) -> ArtifactStore:
    """The store a configuration names (see toolkit.artifacts.config)."""
    from toolkit.artifacts.config import BlobStoreConfig, secret_from_environment

    if not isinstance(config, BlobStoreConfig):
        path = Path(config.path)
        return LocalStore(path if path.is_absolute() else base / path)
    from azure.storage.blob import BlobServiceClient

    if config.auth == "connection-string":
        service = BlobServiceClient.from_connection_string(
            secret_from_environment(config.connection_string_env, "storage connection string"))
    elif config.auth == "sas":
        service = BlobServiceClient(config.account_url, credential=secret_from_environment(
            config.sas_token_env, "SAS token"))
    else:
        from toolkit.azure.credential import azure_credential

        service = BlobServiceClient(config.account_url, credential=azure_credential())
    container = service.get_container_client(config.container)
    return BlobStore(container)
