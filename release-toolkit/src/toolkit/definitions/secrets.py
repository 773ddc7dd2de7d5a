"""No secret value in any definition: only names of secrets (Key Vault references, parameters)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from toolkit.definitions.findings import Finding, load_json, relative, walk

# Keys whose literal string value would be a credential.
_SECRET_KEY = re.compile(r"(password|secret|accountkey|accesskey|token|connectionstring|sastoken|sasuri|"
                         r"clientsecret|servicePrincipalKey|apikey)$", re.IGNORECASE)
# Credential shapes, wherever they appear.
_SECRET_VALUE = [
    (re.compile(r"AccountKey=[A-Za-z0-9+/]{20,}={0,2}"), "a storage account key"),
    (re.compile(r"SharedAccessSignature=|[?&]sig=[A-Za-z0-9%+/]{20,}"), "a SAS signature"),
    (re.compile(r"\bdapi[0-9a-f]{32}\b"), "a Databricks personal access token"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
]


def _is_expression(value: str) -> bool:
    return value.startswith("@") or (value.startswith("[") and value.endswith("]"))


def secret_findings(file: str, document) -> list[Finding]:
    findings = []
    for path, node in walk(document):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and value and _SECRET_KEY.search(key) and not _is_expression(value):
                    findings.append(Finding(file, f"{path}.{key}", f"{key!r} holds a literal value: reference a "
                                            "Key Vault secret or a secure parameter instead"))
            if node.get("type") == "SecureString" and node.get("value"):
                findings.append(Finding(file, f"{path}.value", "SecureString with a literal value: use a Key Vault "
                                        "secret reference"))
        elif isinstance(node, str):
            for pattern, what in _SECRET_VALUE:
                if pattern.search(node):
                    findings.append(Finding(file, path, f"looks like {what}: definitions may name secrets, never "
                                            "hold them"))
    return findings


def check_no_secret_values(repo: Path, folders: Iterable[Path]) -> list[Finding]:
    findings = []
    for folder in folders:
        for path in sorted(folder.rglob("*.json")) if folder.is_dir() else []:
            document, _ = load_json(repo, path)  # invalid JSON is reported by the ADF/ARM checks
            if document is not None:
                findings += secret_findings(relative(repo, path), document)
    return findings
