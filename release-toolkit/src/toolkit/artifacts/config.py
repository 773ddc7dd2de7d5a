"""Which artifact store to use, from environments/artifacts.toml (validated; errors name file and key).

Secrets never live in the file: a connection string or SAS token is read from the
environment variable the file names.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from toolkit.configuration import ConfigError, Strict as _Strict, explain, read_toml

__all__ = ["ConfigError", "LocalStoreConfig", "BlobStoreConfig", "load_store_config", "secret_from_environment"]


class LocalStoreConfig(_Strict):
    kind: Literal["local"]
    path: str = Field(description="folder of the store; a relative path is relative to this file's folder")


class BlobStoreConfig(_Strict):
    kind: Literal["blob"]
    container: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
    auth: Literal["entra", "connection-string", "sas"] = "entra"
    account_url: str | None = Field(default=None, pattern=r"^https?://")
    connection_string_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    sas_token_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _auth_settings_present(self) -> "BlobStoreConfig":
        required = {"entra": ("account_url",), "sas": ("account_url", "sas_token_env"),
                    "connection-string": ("connection_string_env",)}[self.auth]
        missing = [name for name in required if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth = {self.auth!r} needs {', '.join(missing)}")
        return self


StoreConfig = Annotated[Union[LocalStoreConfig, BlobStoreConfig], Field(discriminator="kind")]
_ADAPTER = TypeAdapter(StoreConfig)


def load_store_config(path: Path) -> LocalStoreConfig | BlobStoreConfig:
    document = read_toml(path, "artifact store configuration")
    try:
        return _ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise ConfigError(explain(exc, str(path), ("local", "blob"))) from None


def secret_from_environment(variable: str, purpose: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"environment variable {variable} is not set: it must hold the {purpose}")
    return value
