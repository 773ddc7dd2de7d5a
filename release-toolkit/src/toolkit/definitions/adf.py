"""Data Factory definitions as ADF's git integration stores them: one JSON file per object.

Checked: valid JSON; each object's name matches its file; every reference resolves to an
object of the right kind (pipeline to dataset, dataset and activity to linked service,
trigger to pipeline, pipeline to pipeline, Key Vault secret to an AzureKeyVault linked
service); activity dependencies name sibling activities and have no cycle; pipelines call
each other without a cycle; variables, parameters and global parameters that expressions
use are declared.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from toolkit.definitions.findings import Finding, load_json, relative, walk

KINDS = ("linkedService", "dataset", "dataflow", "pipeline", "trigger")
REFERENCE_KINDS = {"LinkedServiceReference": "linkedService", "DatasetReference": "dataset",
                   "DataFlowReference": "dataflow", "PipelineReference": "pipeline"}
_VARIABLE = re.compile(r"variables\('([^']+)'\)")
_PARAMETER = re.compile(r"pipeline\(\)\.parameters\.([A-Za-z_][A-Za-z0-9_]*)")
_GLOBAL = re.compile(r"pipeline\(\)\.globalParameters\.([A-Za-z_][A-Za-z0-9_]*)")


class AdfObject:
    def __init__(self, kind: str, file: str, document: dict[str, Any]):
        self.kind, self.file, self.document = kind, file, document
        self.name = document.get("name")
        self.properties = document.get("properties") or {}


def load_adf(repo: Path, adf_dir: Path) -> tuple[dict[str, dict[str, AdfObject]], dict | None, list[Finding]]:
    """Objects by kind and name, the factory document (if any), and findings from loading."""
    objects: dict[str, dict[str, AdfObject]] = {k: {} for k in KINDS}
    findings: list[Finding] = []
    for kind in KINDS:
        for path in sorted((adf_dir / kind).glob("*.json")):
            document, problems = load_json(repo, path)
            findings += problems
            if document is None:
                continue
            obj = AdfObject(kind, relative(repo, path), document)
            if obj.name != path.stem:
                findings.append(Finding(obj.file, "$.name",
                                        f"name {obj.name!r} must match the file name {path.stem!r}"))
            objects[kind][path.stem] = obj
    factory = None
    for path in sorted((adf_dir / "factory").glob("*.json")):
        factory, problems = load_json(repo, path)
        findings += problems
    return objects, factory, findings


def _check_references(obj: AdfObject, objects: dict[str, dict[str, AdfObject]]) -> list[Finding]:
    findings = []
    for path, node in walk(obj.document):
        if not isinstance(node, dict):
            continue
        kind = REFERENCE_KINDS.get(node.get("type"))
        if kind and "referenceName" in node and node["referenceName"] not in objects[kind]:
            findings.append(Finding(obj.file, f"{path}.referenceName",
                                    f"{node['type']} to {node['referenceName']!r}, which is not in adf/{kind}/"))
        if node.get("type") == "AzureKeyVaultSecret":
            store = (node.get("store") or {}).get("referenceName")
            vault = objects["linkedService"].get(store)
            if vault is None or vault.properties.get("type") != "AzureKeyVault":
                findings.append(Finding(obj.file, f"{path}.store.referenceName",
                                        f"Key Vault secret store {store!r} is not an AzureKeyVault linked service"))
    return findings


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in a dependency graph, as the list of its nodes, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt in graph and state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def _check_activities(file: str, activities: list[dict], path: str) -> list[Finding]:
    findings = []
    names = [a.get("name") for a in activities]
    graph = {}
    for i, activity in enumerate(activities):
        depends = [d.get("activity") for d in activity.get("dependsOn") or []]
        for j, dep in enumerate(depends):
            if dep not in names:
                findings.append(Finding(file, f"{path}[{i}].dependsOn[{j}].activity",
                                        f"activity {activity.get('name')!r} depends on {dep!r}, which is not in this "
                                        "pipeline's activities"))
        graph[activity.get("name")] = depends
        for key in ("activities", "ifTrueActivities", "ifFalseActivities"):
            nested = (activity.get("typeProperties") or {}).get(key)
            if isinstance(nested, list):
                findings += _check_activities(file, nested, f"{path}[{i}].typeProperties.{key}")
    cycle = _cycle(graph)
    if cycle:
        findings.append(Finding(file, path, "activity dependencies form a cycle: " + " -> ".join(cycle)))
    return findings


def _check_declared_names(obj: AdfObject, global_parameters: set[str] | None) -> list[Finding]:
    variables = set((obj.properties.get("variables") or {}))
    parameters = set((obj.properties.get("parameters") or {}))
    findings = []
    for path, node in walk(obj.document):
        if not isinstance(node, str) or not node.startswith("@"):
            continue
        for name in _VARIABLE.findall(node):
            if name not in variables:
                findings.append(Finding(obj.file, path, f"expression uses variable {name!r}, which is not declared"))
        for name in _PARAMETER.findall(node):
            if name not in parameters:
                findings.append(Finding(obj.file, path, f"expression uses parameter {name!r}, which is not declared"))
        for name in _GLOBAL.findall(node):
            if global_parameters is not None and name not in global_parameters:
                findings.append(Finding(obj.file, path,
                                        f"expression uses global parameter {name!r}, "
                                        "which the factory does not declare"))
    for i, activity in enumerate(obj.properties.get("activities") or []):
        if activity.get("type") == "SetVariable":
            name = (activity.get("typeProperties") or {}).get("variableName")
            if name not in variables:
                findings.append(Finding(obj.file, f"$.properties.activities[{i}].typeProperties.variableName",
                                        f"sets variable {name!r}, which is not declared"))
    return findings


def pipeline_calls(pipeline: AdfObject) -> list[str]:
    return [node["referenceName"] for _, node in walk(pipeline.document)
            if isinstance(node, dict) and node.get("type") == "PipelineReference" and "referenceName" in node]


def check_adf(repo: Path, adf_dir: Path) -> list[Finding]:
    if not adf_dir.is_dir():
        return []
    objects, factory, findings = load_adf(repo, adf_dir)
    global_parameters = None
    if factory is not None:
        global_parameters = set(((factory.get("properties") or {}).get("globalParameters") or {}))
    for kind in KINDS:
        for obj in objects[kind].values():
            findings += _check_references(obj, objects)
    for obj in objects["pipeline"].values():
        findings += _check_activities(obj.file, obj.properties.get("activities") or [], "$.properties.activities")
        findings += _check_declared_names(obj, global_parameters)
    cycle = _cycle({name: pipeline_calls(p) for name, p in objects["pipeline"].items()})
    if cycle:
        first = objects["pipeline"][cycle[0]]
        findings.append(Finding(first.file, "$.properties.activities", "pipelines call each other in a cycle: "
                                + " -> ".join(cycle)))
    return findings
