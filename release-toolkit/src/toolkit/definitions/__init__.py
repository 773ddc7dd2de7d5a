"""Checks of the Data Factory and ARM definitions and of the notebooks: run by ``inv lint`` and before a bundle is
assembled."""
from __future__ import annotations

from pathlib import Path

from toolkit.definitions.adf import check_adf
from toolkit.definitions.arm import check_arm
from toolkit.definitions.findings import Finding
from toolkit.definitions.notebooks import check_notebooks
from toolkit.definitions.secrets import check_no_secret_values

__all__ = ["Finding", "check_definitions"]


def check_definitions(repo: Path) -> list[Finding]:
    """Every finding in adf/, arm/, cluster/ and notebooks/, each naming its file and where in it."""
    findings = check_adf(repo, repo / "adf") + check_arm(repo, repo / "arm") + check_notebooks(repo, repo / "notebooks")
    findings += check_no_secret_values(repo, [repo / "adf", repo / "arm", repo / "cluster"])
    return sorted(findings, key=lambda f: (f.file, f.path, f.message))
