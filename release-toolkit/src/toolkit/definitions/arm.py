"""ARM templates and their parameter files.

Checked: valid JSON; every parameters('x') and variables('x') a template uses is declared,
and every declared one is used; each parameter file (arm/parameters/<template>.parameters.<env>.json)
sets only declared parameters, sets every parameter that has no default (except the resource names the
release computes and sets itself: toolkit/environments/naming.TEMPLATE_PARAMETERS), and gives no secure
parameter a literal value (a Key Vault reference instead).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from toolkit.definitions.findings import Finding, load_json, relative, walk
from toolkit.environments.naming import TEMPLATE_PARAMETERS

_USES = {"parameters": re.compile(r"parameters\(\s*'([^']+)'\s*\)"),
         "variables": re.compile(r"variables\(\s*'([^']+)'\s*\)")}
_SECURE_TYPES = {"securestring", "secureobject"}


def _is_template(document: Any) -> bool:
    return isinstance(document, dict) and "deploymentTemplate.json" in str(document.get("$schema", ""))


def _expression_uses(template: dict, section: str) -> dict[str, list[str]]:
    """Names used in template expressions, with the JSON paths that use them."""
    uses: dict[str, list[str]] = {}
    for path, node in walk(template):
        if isinstance(node, str) and node.startswith("[") and node.endswith("]") and not node.startswith("[["):
            for name in _USES[section].findall(node):
                uses.setdefault(name, []).append(path)
    return uses


def check_template(file: str, template: dict) -> list[Finding]:
    findings = []
    for section in ("parameters", "variables"):
        declared = set(template.get(section) or {})
        uses = _expression_uses(template, section)
        for name, paths in sorted(uses.items()):
            if name not in declared:
                findings += [Finding(file, p, f"uses {section[:-1]} {name!r}, which is not declared") for p in paths]
        for name in sorted(declared - set(uses)):
            findings.append(Finding(file, f"$.{section}.{name}", f"{section[:-1]} {name!r} is declared but never used"))
    return findings


def check_parameter_file(file: str, parameters_doc: dict, template_file: str, template: dict) -> list[Finding]:
    declared = template.get("parameters") or {}
    given = parameters_doc.get("parameters") or {}
    findings = []
    for name, entry in sorted(given.items()):
        if name in TEMPLATE_PARAMETERS:
            findings.append(Finding(file, f"$.parameters.{name}", f"sets {name!r}, which the release computes "
                                    "(toolkit/environments/naming.py): a value here would be overwritten"))
        elif name not in declared:
            findings.append(Finding(file, f"$.parameters.{name}",
                                    f"sets {name!r}, which {template_file} does not declare"))
        elif str(declared[name].get("type", "")).lower() in _SECURE_TYPES and "value" in (entry or {}):
            findings.append(Finding(file, f"$.parameters.{name}.value",
                                    f"secure parameter {name!r} has a literal value: use a Key Vault reference"))
    for name, spec in sorted(declared.items()):
        if "defaultValue" not in spec and name not in given and name not in TEMPLATE_PARAMETERS:
            findings.append(Finding(file, "$.parameters", f"does not set {name!r}, which {template_file} requires"))
    return findings


def check_arm(repo: Path, arm_dir: Path) -> list[Finding]:
    if not arm_dir.is_dir():
        return []
    findings, templates = [], {}
    for path in sorted(arm_dir.glob("*.json")):
        document, problems = load_json(repo, path)
        findings += problems
        if _is_template(document):
            templates[path.stem] = (relative(repo, path), document)
            findings += check_template(relative(repo, path), document)
    for path in sorted((arm_dir / "parameters").glob("*.json")):
        document, problems = load_json(repo, path)
        findings += problems
        if document is None:
            continue
        stem = path.name.split(".parameters.")[0]
        if stem not in templates:
            findings.append(Finding(relative(repo, path), "$", f"no template arm/{stem}.json for this parameter file "
                                    "(expected name: <template>.parameters.<environment>.json)"))
            continue
        template_file, template = templates[stem]
        findings += check_parameter_file(relative(repo, path), document, template_file, template)
    return findings
