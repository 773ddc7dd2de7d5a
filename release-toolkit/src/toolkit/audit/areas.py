"""The shadow areas of a lake: one folder per audit under [audit] area, named by when it was made (so the names
sort by age). The newest few are kept so an audit can be read again; older ones are removed by the next audit and
after a swap. Removal deletes blobs deepest first: on ADLS Gen2 a directory goes after what it holds."""
from __future__ import annotations

from typing import Callable

from toolkit.environments.model import Environment


def _container(lake, environment: Environment):
    return lake.get_container_client(environment.databricks.lake_container)


def listing(lake, environment: Environment) -> dict[str, list[str]]:
    """Area name -> its blobs (directories included), oldest area first."""
    prefix = f"{environment.audit.area}/"
    container = _container(lake, environment)
    if not container.exists():
        return {}
    found: dict[str, list[str]] = {}
    for blob in container.list_blobs(name_starts_with=prefix):
        area = blob.name[len(prefix):].split("/", 1)[0]
        if area:
            found.setdefault(area, []).append(blob.name)
    return dict(sorted(found.items()))


def to_remove(lake, environment: Environment, keep: int) -> dict[str, int]:
    """The areas beyond the newest ``keep``, with how many blobs each holds (the deletes it takes)."""
    found = listing(lake, environment)
    old = list(found)[:max(0, len(found) - keep)]
    return {area: len(found[area]) for area in old}


def remove(lake, environment: Environment, areas: dict[str, int] | list[str], say: Callable[[str], None]) -> int:
    """Delete these areas; a blob already gone is not an error. How many blobs went."""
    from azure.core.exceptions import ResourceNotFoundError

    container, found, removed = _container(lake, environment), listing(lake, environment), 0
    for area in areas:
        for name in sorted(found.get(area, []), key=lambda n: (-n.count("/"), n)):
            try:
                container.delete_blob(name)
                removed += 1
            except ResourceNotFoundError:
                pass
        say(f"shadow area {environment.audit.area}/{area} removed")
    return removed
