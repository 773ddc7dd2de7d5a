"""Which artifact store to use, from environments/artifacts.toml (validated; errors name file and key).

Secrets never live in the file: a connection string or SAS token is read from the
environment variable the file names.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator


class ConfigError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalStoreConfig(_Strict):
    kind: Literal["local"]
    path: str = Field(description="folder of the store; relative paths are relative to the repository")


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


def _explain(error: ValidationError, source: str) -> str:
    lines = []
    for problem in error.errors():
        location = ".".join(str(p) for p in problem["loc"] if p not in ("local", "blob"))
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            location = "kind"
        location = location or "(top level)"
        lines.append(f"{source}: {location}: {problem['msg']}")
    return "\n".join(lines)


def load_store_config(path: Path) -> LocalStoreConfig | BlobStoreConfig:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: artifact store configuration not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        return _ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, str(path))) from None


def secret_from_environment(variable: str, purpose: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"environment variable {variable} is not set: it must hold the {purpose}")
    return value
