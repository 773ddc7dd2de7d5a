"""Key Vault secrets, written only when their value changed (every write makes a new version), and a
soft-deleted secret recovered rather than failed on (soft delete is always on)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SecretState:
    value: str | None  # None: no current version
    tags: dict[str, str]
    deleted: bool  # soft-deleted: must be recovered before it can be set
    updated_on: datetime | None = None  # when the current version was written
    version: str | None = None  # the current version's id (a new value is a new version)


def read_secret(client, name: str) -> SecretState:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        secret = client.get_secret(name)
        return SecretState(secret.value, dict(secret.properties.tags or {}), False,
                           secret.properties.updated_on or secret.properties.created_on, secret.properties.version)
    except ResourceNotFoundError:
        pass
    try:
        client.get_deleted_secret(name)
        return SecretState(None, {}, True)
    except ResourceNotFoundError:
        return SecretState(None, {}, False)


def recover_secret(client, name: str) -> None:
    client.begin_recover_deleted_secret(name).result()


def write_secret(client, name: str, value: str, tags: dict[str, str] | None = None) -> None:
    client.set_secret(name, value, tags=tags or None, content_type="text/plain")
