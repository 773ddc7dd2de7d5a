"""Run Databricks source notebooks locally: cells in order, in one namespace holding ``spark``,
``dbutils`` and ``display``, as a Databricks notebook task runs them."""
from __future__ import annotations

import sys
import tempfile
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from sandbox.notebook.dbutils import Fs, LocalDbutils, NotebookExit
from sandbox.notebook.source import read_notebook


@dataclass(frozen=True)
class NotebookResult:
    notebook: str
    exit_value: str | None
    duration_s: float


class NotebookFailed(Exception):
    """A cell raised: names the notebook and the cell, and keeps the original exception as the cause."""

    def __init__(self, notebook: str, cell: int, error: BaseException):
        self.notebook, self.cell, self.error = notebook, cell, error
        super().__init__(f"{notebook}, cell {cell}: {type(error).__name__}: {error}")


def _display(obj: Any, *args: Any, **kwargs: Any) -> None:
    show = getattr(obj, "show", None)
    print(show(truncate=False) if callable(show) else obj)


@dataclass
class LocalRuntime:
    """What a cluster gives a notebook: a SparkSession, secret scopes, DBFS and mounts, libraries.

    ``libraries`` are wheels or folders put first on sys.path while a notebook runs, as a
    cluster library would be.
    """

    spark: Any
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    mounts: Mapping[str, Path] = field(default_factory=dict)
    dbfs_root: Path | None = None
    libraries: Sequence[Path] = ()
    mount_root: Path | None = None
    mount_sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dbfs_root is None:
            self.dbfs_root = Path(tempfile.mkdtemp(prefix="local-dbfs-"))
        self.fs = Fs(self.dbfs_root, self.mounts, self.mount_root, self.mount_sources)

    def run(self, notebook: str | Path, parameters: Mapping[str, str] | None = None) -> NotebookResult:
        """Run a notebook to its end or to dbutils.notebook.exit; raises NotebookFailed if a cell fails."""
        path = _resolve(Path(notebook))
        started = time.monotonic()
        with _libraries_first(self.libraries):
            exit_value = self._execute(path, parameters or {})
        return NotebookResult(str(path), exit_value, time.monotonic() - started)

    def _execute(self, path: Path, parameters: Mapping[str, str]) -> str | None:
        def run_child(child: str, timeout_seconds: int, arguments: Mapping[str, str]) -> str | None:
            return self._execute(_resolve(path.parent / child), arguments)

        dbutils = LocalDbutils(parameters, self.secrets, self.fs, run_child)
        namespace: dict[str, Any] = {"__name__": "__main__", "spark": self.spark, "dbutils": dbutils,
                                     "display": _display}
        try:
            self._run_cells(path, namespace)
        except NotebookExit as done:
            return done.value
        return None

    def _run_cells(self, path: Path, namespace: dict[str, Any]) -> None:
        for cell in read_notebook(path):
            if cell.kind == "markdown":
                continue
            if cell.kind == "run":  # %run shares the caller's namespace, as on Databricks
                self._run_cells(_resolve(path.parent / cell.source), namespace)
                continue
            try:
                exec(compile(cell.source, f"{path}#cell{cell.index}", "exec"), namespace)
            except NotebookExit:
                raise
            except Exception as exc:
                raise NotebookFailed(str(path), cell.index, exc) from exc


def _top_level_packages(library: Path) -> set[str]:
    if library.suffix == ".whl":
        with zipfile.ZipFile(library) as archive:
            return {n.split("/")[0].removesuffix(".py") for n in archive.namelist()
                    if not n.split("/")[0].endswith((".dist-info", ".data"))}
    return {p.name.removesuffix(".py") for p in library.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


@contextmanager
def _libraries_first(libraries: Sequence[Path]) -> Iterator[None]:
    """Put the libraries first on sys.path and hide already-imported modules of the same packages,
    so the notebook imports the library's code (a cluster's wheel), never another copy; restore after."""
    packages = set().union(*(_top_level_packages(Path(lib)) for lib in libraries)) if libraries else set()

    def owned(module: str) -> bool:
        return module.split(".")[0] in packages

    hidden = {name: module for name, module in sys.modules.items() if owned(name)}
    for name in hidden:
        del sys.modules[name]
    saved_path = list(sys.path)
    sys.path[:0] = [str(lib) for lib in libraries]
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name in [n for n in sys.modules if owned(n)]:
            del sys.modules[name]
        sys.modules.update(hidden)


def _resolve(path: Path) -> Path:
    """Workspace paths carry no extension; local source notebooks are .py files."""
    for candidate in (path, path.with_name(path.name + ".py")):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"notebook {path} not found (looked for {path} and {path}.py)")
