"""What deploying the ADF definitions needs besides the service: per-environment property replacement,
the dependency order (linked services, datasets, data flows, pipelines by their calls, triggers), and
which objects a change touches."""
from __future__ import annotations

import copy
import re
from typing import Any

from toolkit.definitions.adf import REFERENCE_KINDS
from toolkit.definitions.findings import walk

ORDER = ("linkedService", "dataset", "dataflow", "pipeline", "trigger")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


class ReplacementError(ValueError):
    pass


def render(template: str, values: dict[str, Any], key: str) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise ReplacementError(f"[datafactory.properties] {key!r}: unknown placeholder {{{name}}} (known: "
                                   f"{', '.join(sorted(values))})")
        return str(values[name])
    return _PLACEHOLDER.sub(one, template)


def replace_properties(objects: dict[str, dict[str, dict]], factory: dict, properties: dict[str, str],
                       values: dict[str, Any]) -> tuple[dict[str, dict[str, dict]], dict]:
    """Copies of the objects' and the factory's documents with each ``kind.name.path`` (or
    ``factory.path``) set; the path is under the document's ``properties`` and must already exist."""
    objects, factory = copy.deepcopy(objects), copy.deepcopy(factory)
    for key, template in properties.items():
        parts = key.split(".")
        if parts[0] == "factory":
            document, path = factory, parts[1:]
        elif parts[0] in ORDER and len(parts) > 2:
            document, path = objects.get(parts[0], {}).get(parts[1]), parts[2:]
            if document is None:
                raise ReplacementError(f"[datafactory.properties] {key!r}: no {parts[0]} named {parts[1]!r} in the "
                                       "bundle")
        else:
            raise ReplacementError(f"[datafactory.properties] {key!r}: expected '<kind>.<name>.<path>' with kind "
                                   f"one of {', '.join(ORDER)}, or 'factory.<path>'")
        node = document.setdefault("properties", {})
        for index, part in enumerate(path):
            if not isinstance(node, dict) or part not in node:
                raise ReplacementError(f"[datafactory.properties] {key!r}: {'.'.join(path[:index + 1])} does not "
                                       "exist in the definition")
            if index == len(path) - 1:
                node[part] = render(template, values, key)
            node = node[part]
    return objects, factory


def references(document: dict) -> set[tuple[str, str]]:
    """(kind, name) of every object a document refers to (Key Vault secret stores included)."""
    found = set()
    for _, node in walk(document):
        if isinstance(node, dict):
            kind = REFERENCE_KINDS.get(node.get("type"))
            if kind and "referenceName" in node:
                found.add((kind, node["referenceName"]))
            if node.get("type") == "AzureKeyVaultSecret" and isinstance(node.get("store"), dict):
                found.add(("linkedService", node["store"].get("referenceName")))
    return found


def deploy_order(objects: dict[str, dict[str, dict]]) -> list[tuple[str, str]]:
    """(kind, name) in an order in which every object's references exist before it."""
    ordered: list[tuple[str, str]] = []
    done: set[tuple[str, str]] = set()

    def visit(kind: str, name: str) -> None:
        if (kind, name) in done or name not in objects.get(kind, {}):
            return
        done.add((kind, name))
        for reference in sorted(references(objects[kind][name])):
            if ORDER.index(reference[0]) <= ORDER.index(kind):
                visit(*reference)
        ordered.append((kind, name))
    for kind in ORDER:
        for name in sorted(objects.get(kind, {})):
            visit(kind, name)
    return ordered


def dependents(objects: dict[str, dict[str, dict]], changed: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Every object that refers, directly or not, to one of ``changed`` (``changed`` included)."""
    touched = set(changed)
    grew = True
    while grew:
        grew = False
        for kind, by_name in objects.items():
            for name, document in by_name.items():
                if (kind, name) not in touched and references(document) & touched:
                    touched.add((kind, name))
                    grew = True
    return touched


def contains(current: Any, desired: Any) -> bool:
    """Whether ``current`` (what the service has) holds everything ``desired`` says; keys the service
    adds on its own are not differences."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(k in current and contains(current[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(current, list) and len(current) == len(desired) and \
            all(contains(c, d) for c, d in zip(current, desired))
    return current == desired
