"""The notebooks a bundle carries must compile: a SyntaxError would otherwise be found by the cluster, in QA, after
a publish. Databricks' source format is Python with its cell markers and magics in comments (``# COMMAND ----------``,
``# MAGIC %md``), so a notebook compiles as the Python file it is."""
from __future__ import annotations

from pathlib import Path

from toolkit.definitions.findings import Finding, relative


def check_notebooks(repo: Path, folder: Path) -> list[Finding]:
    findings = []
    for notebook in sorted(folder.glob("*.py")):
        try:
            compile(notebook.read_bytes(), str(notebook), "exec", dont_inherit=True)
        except SyntaxError as exc:
            where = f"line {exc.lineno}" + (f" column {exc.offset}" if exc.offset else "")
            findings.append(Finding(relative(repo, notebook), where, f"SyntaxError: {exc.msg}"))
        except ValueError as exc:  # a null byte in the source
            findings.append(Finding(relative(repo, notebook), "(file)", f"cannot be compiled: {exc}"))
    return findings
