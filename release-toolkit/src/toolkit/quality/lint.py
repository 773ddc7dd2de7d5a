"""The flake8 command lines of ``inv lint``: one configuration (.flake8) for all Python."""
from __future__ import annotations

import sys

CODE = ("src", "tasks", "release-toolkit", "sandbox", "tests", "benchmarks")
NOTEBOOKS = ("notebooks",)
# Databricks injects these into every notebook; they are undefined names anywhere else.
NOTEBOOK_GLOBALS = ("spark", "dbutils", "display")


def flake8_commands() -> list[list[str]]:
    """Two runs of the same configuration: code, then notebooks with Databricks' globals."""
    flake8 = [sys.executable, "-m", "flake8"]
    return [
        [*flake8, *CODE],
        [*flake8, f"--builtins={','.join(NOTEBOOK_GLOBALS)}", *NOTEBOOKS],
    ]
