"""The changes a release intends, declared next to its notebooks (notebooks/intended_changes.toml, in the bundle):
an audit finding they cover passes without --force. Each ``[[change]]`` names a table (glob), a column (glob;
a dimension for coverage) and a kind of change, and says why:

    [[change]]
    table = "dw/fact_parking"
    column = "dim_time_id"
    change = "values"
    why = "time ids are now local (Melbourne) time"
"""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from toolkit.configuration import ConfigError, explain, read_toml
from toolkit.environments.model import ChangePattern

FILE = "notebooks/intended_changes.toml"


def read(bundle: Path) -> list[ChangePattern]:
    """The bundle's declared intentions (none when it has no such file)."""
    path = bundle / FILE
    if not path.is_file():
        return []
    document = read_toml(path, "intended changes")
    unknown = set(document) - {"change"}
    if unknown:
        raise ConfigError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}: only [[change]] entries")
    changes = []
    for index, entry in enumerate(document.get("change", [])):
        try:
            changes.append(ChangePattern.model_validate(entry))
        except ValidationError as exc:
            raise ConfigError(explain(exc, f"{path} [[change]] #{index + 1}")) from None
    return changes


def patterns(recorded: list[dict]) -> list[ChangePattern]:
    """Intentions as an audit record keeps them."""
    return [ChangePattern.model_validate(p) for p in recorded or []]
