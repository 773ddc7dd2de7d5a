"""Databricks notebook source format: a header line, cells split by COMMAND lines, magics as # MAGIC comments."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HEADER = "# Databricks notebook source"
CELL_SEPARATOR = re.compile(r"^# COMMAND -{10}\s*$", re.MULTILINE)
_MAGIC_PREFIX = "# MAGIC"


class NotebookFormatError(ValueError):
    """The file is not a Databricks source notebook, or uses a magic the runner cannot run."""


@dataclass(frozen=True)
class Cell:
    index: int
    kind: str  # "python", "markdown" or "run"
    source: str


def _magic_body(lines: list[str]) -> list[str]:
    body = []
    for line in lines:
        if not line.startswith(_MAGIC_PREFIX):
            raise NotebookFormatError(f"line {line!r} in a magic cell does not start with '{_MAGIC_PREFIX}'")
        body.append(line[len(_MAGIC_PREFIX):].removeprefix(" "))
    return body


def parse_cells(text: str, name: str = "<notebook>") -> list[Cell]:
    """Split a source notebook into cells; raises NotebookFormatError naming the notebook and cell."""
    text = text.lstrip("\ufeff")
    first, _, rest = text.partition("\n")
    if first.strip() != HEADER:
        raise NotebookFormatError(f"{name}: first line must be {HEADER!r}, got {first.strip()[:60]!r}")
    cells = []
    for index, chunk in enumerate(CELL_SEPARATOR.split(rest), start=1):
        lines = chunk.strip("\n").splitlines()
        if not lines:
            continue
        if not lines[0].startswith(_MAGIC_PREFIX):
            cells.append(Cell(index, "python", "\n".join(lines) + "\n"))
            continue
        try:
            body = _magic_body(lines)
        except NotebookFormatError as exc:
            raise NotebookFormatError(f"{name}, cell {index}: {exc}") from None
        magic, _, argument = body[0].partition(" ")
        if magic == "%md":
            cells.append(Cell(index, "markdown", "\n".join([argument, *body[1:]]).strip() + "\n"))
        elif magic == "%run":
            cells.append(Cell(index, "run", argument.strip()))
        else:
            raise NotebookFormatError(f"{name}, cell {index}: magic {magic!r} is not supported by the local runner "
                                      "(supported: %md, %run)")
    return cells


def read_notebook(path: str | Path) -> list[Cell]:
    path = Path(path)
    return parse_cells(path.read_text(encoding="utf-8"), str(path))
