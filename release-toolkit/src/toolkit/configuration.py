"""Reading configuration files: TOML parsed, ``${VARIABLE}`` references resolved, then validated by a
pydantic model, with every error naming the file, the key and what was expected."""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    pass


class Strict(BaseModel):
    """A configuration section: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: {what} is a folder, not a file") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8: say where the offending byte is
        data = path.read_bytes()
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"{path}: line {line}, column {column}: byte 0x{data[exc.start]:02x} is not UTF-8 (TOML "
                          "files must be UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def resolve_variables(document: Any, source: str, environ: dict[str, str] | None = None, trail: str = "") -> Any:
    """Replace ``${NAME}`` in every string with the environment variable's value; an unset one is an error
    naming the key that uses it."""
    environ = os.environ if environ is None else environ
    if isinstance(document, dict):
        return {k: resolve_variables(v, source, environ, f"{trail}.{k}" if trail else k) for k, v in document.items()}
    if isinstance(document, list):
        return [resolve_variables(v, source, environ, f"{trail}[{i}]") for i, v in enumerate(document)]
    if isinstance(document, str):
        def value(match: re.Match) -> str:
            name = match.group(1)
            if not environ.get(name):
                raise ConfigError(f"{source}: {trail}: environment variable {name} is not set")
            return environ[name]
        return _VARIABLE.sub(value, document)
    return document


def explain(error: ValidationError, source: str, hidden_locations: tuple[str, ...] = (),
            discriminator: str = "kind") -> str:
    """One line per problem: ``file: key.path: what was expected``. ``hidden_locations`` are the tags of
    tagged unions, which pydantic puts in the location but the file does not have."""
    lines = []
    for problem in error.errors():
        parts = [str(p) for p in problem["loc"] if p not in hidden_locations]
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            parts.append(discriminator)
        location = ".".join(parts)
        lines.append(f"{source}: {location or '(top level)'}: {problem['msg']}")
    return "\n".join(lines)
