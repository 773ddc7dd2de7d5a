"""A finding names the file, the JSON path and what is wrong; loading JSON reports where it breaks."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator


@dataclass(frozen=True)
class Finding:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class DefinitionError(Exception):
    """Raised when definitions have findings; carries them all."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__(f"{len(findings)} problem(s) in the definitions:\n  " + "\n  ".join(map(str, findings)))


def relative(repo: Path, path: Path) -> str:
    try:
        return path.relative_to(repo).as_posix()
    except ValueError:
        return path.as_posix()


def load_json(repo: Path, path: Path) -> tuple[Any, list[Finding]]:
    """The document, or None and a finding naming the line and column where the JSON breaks."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig")), []
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return None, [Finding(relative(repo, path), "$", f"invalid JSON: {exc.msg} at {where}")]
    except UnicodeDecodeError as exc:
        return None, [Finding(relative(repo, path), "$", f"not UTF-8 text: {exc.reason}")]


def walk(node: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    """Every (JSON path, value) in a document, depth first."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")
