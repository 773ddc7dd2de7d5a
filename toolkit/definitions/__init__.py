"""Checks of the Data Factory and ARM definitions: run by ``inv lint`` and before a bundle is assembled."""
from __future__ import annotations

from pathlib import Path

from toolkit.definitions.adf import check_adf
from toolkit.definitions.arm import check_arm
from toolkit.definitions.findings import Finding
from toolkit.definitions.secrets import check_no_secret_values

__all__ = ["Finding", "check_definitions"]


def check_definitions(repo: Path) -> list[Finding]:
    """Every finding in adf/ and arm/ (and cluster/), each naming its file and JSON path."""
    findings = check_adf(repo, repo / "adf") + check_arm(repo, repo / "arm")
    findings += check_no_secret_values(repo, [repo / "adf", repo / "arm", repo / "cluster"])
    return sorted(findings, key=lambda f: (f.file, f.path, f.message))
