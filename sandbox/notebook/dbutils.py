"""A stand-in for Databricks' dbutils: widgets, secrets, fs (with mounts) and notebook.exit/run.

Behaviour follows Databricks where tests depend on it: reading an undefined widget fails,
a dropdown refuses a value outside its choices, a missing secret fails naming scope and key
(never a value), and notebook.exit ends the notebook with its string value.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence


class NotebookExit(Exception):
    """Raised by dbutils.notebook.exit to end a notebook run; carries the exit value."""

    def __init__(self, value: str):
        super().__init__(value)
        self.value = value


class WidgetError(ValueError):
    pass


class SecretNotFound(KeyError):
    pass


class Widgets:
    def __init__(self, parameters: Mapping[str, str]):
        self._parameters = {k: str(v) for k, v in parameters.items()}
        self._values: dict[str, str] = {}

    def _define(self, name: str, default: str, choices: Sequence[str] | None = None) -> None:
        value = self._parameters.get(name, default)
        if choices is not None and value not in choices:
            raise WidgetError(f"widget {name!r}: value {value!r} is not one of {list(choices)}")
        self._values[name] = value

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._define(name, defaultValue)

    def dropdown(self, name: str, defaultValue: str, choices: Sequence[str], label: str | None = None) -> None:
        self._define(name, defaultValue, choices)

    def combobox(self, name: str, defaultValue: str, choices: Sequence[str], label: str | None = None) -> None:
        self._define(name, defaultValue)

    def get(self, name: str) -> str:
        if name not in self._values:
            raise WidgetError(f"InputWidgetNotDefined: no widget named {name!r} is defined")
        return self._values[name]

    def getAll(self) -> dict[str, str]:
        return dict(self._values)

    def remove(self, name: str) -> None:
        self._values.pop(name, None)

    def removeAll(self) -> None:
        self._values.clear()


class MountsUnavailable(RuntimeError):
    """dbutils.fs.mount on a workspace whose account has no DBFS mounts (every account opened since they were
    withdrawn): sandbox/RULES.md uc.no-mounts."""


MOUNTS_UNAVAILABLE = ("INVALID_DBFS_MOUNT: DBFS mounts are not available in this workspace: new accounts are "
                      "provisioned without access to DBFS root and mounts. Use Unity Catalog external locations "
                      "instead.")


class SecretAccessDenied(PermissionError):
    """A Key Vault-backed scope whose vault does not let AzureDatabricks read it."""


class Secrets:
    def __init__(self, scopes: Mapping[str, Mapping[str, str] | str]):
        """``scopes``: name -> key -> value, or name -> why the scope cannot be read (a denied Key Vault)."""
        self._scopes = {s: kv if isinstance(kv, str) else dict(kv) for s, kv in scopes.items()}

    def _readable(self, scope: str) -> None:
        if isinstance(self._scopes.get(scope), str):
            raise SecretAccessDenied(self._scopes[scope])

    def get(self, scope: str, key: str) -> str:
        self._readable(scope)
        if scope not in self._scopes or key not in self._scopes[scope]:
            raise SecretNotFound(f"Secret does not exist with scope: {scope} and key: {key}")
        return self._scopes[scope][key]

    def getBytes(self, scope: str, key: str) -> bytes:
        return self.get(scope, key).encode("utf-8")

    def list(self, scope: str) -> list[dict[str, str]]:
        self._readable(scope)
        if scope not in self._scopes:
            raise SecretNotFound(f"Scope {scope} does not exist")
        return [{"key": k} for k in sorted(self._scopes[scope])]

    def listScopes(self) -> list[dict[str, str]]:
        return [{"name": s} for s in sorted(self._scopes)]


@dataclass(frozen=True)
class MountInfo:
    """What dbutils.fs.mounts() lists on Databricks: attributes, not keys."""
    mountPoint: str
    source: str
    encryptionType: str = ""


@dataclass(frozen=True)
class FileInfo:
    path: str
    name: str
    size: int
    modificationTime: int


class Fs:
    """dbutils.fs over local folders: ``dbfs:/x`` and ``/x`` live under ``dbfs_root``; a mount maps
    ``/mnt/name`` to a folder of its own."""

    def __init__(self, dbfs_root: Path, mounts: Mapping[str, Path], mount_root: Path | None = None,
                 sources: Mapping[str, str] | None = None):
        self._root = Path(dbfs_root)
        self._mounts = {m.rstrip("/"): Path(p) for m, p in mounts.items()}
        self._sources = {m.rstrip("/"): s for m, s in (sources or {}).items()}  # what each mount points at
        self._mount_root = mount_root  # where new mounts get their local folder; None: mounting is refused
        self.created_mounts: dict[str, dict] = {}  # mounts made by this run, for the runtime to keep
        self.removed_mounts: list[str] = []

    def local_path(self, path: str) -> Path:
        path = path.removeprefix("dbfs:")
        if path.startswith("file:"):
            return Path(path.removeprefix("file:"))
        for mount, folder in self._mounts.items():
            if path == mount or path.startswith(mount + "/"):
                return folder / path[len(mount):].lstrip("/")
        return self._root / path.lstrip("/")

    def ls(self, path: str) -> list[FileInfo]:
        folder = self.local_path(path)
        if not folder.exists():
            raise FileNotFoundError(f"java.io.FileNotFoundException: File {path} does not exist.")
        entries = [folder] if folder.is_file() else sorted(folder.iterdir())
        return [FileInfo(f"{path.rstrip('/')}/{e.name}" + ("/" if e.is_dir() else ""),
                         e.name + ("/" if e.is_dir() else ""), e.stat().st_size if e.is_file() else 0,
                         int(e.stat().st_mtime * 1000)) for e in entries]

    def mkdirs(self, path: str) -> bool:
        self.local_path(path).mkdir(parents=True, exist_ok=True)
        return True

    def put(self, path: str, contents: str, overwrite: bool = False) -> bool:
        target = self.local_path(path)
        if target.exists() and not overwrite:
            raise FileExistsError(f"File {path} already exists (pass overwrite=True)")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(contents, encoding="utf-8")
        return True

    def head(self, path: str, maxBytes: int = 65536) -> str:
        with self.local_path(path).open("rb") as f:
            return f.read(maxBytes).decode("utf-8", errors="replace")

    def rm(self, path: str, recurse: bool = False) -> bool:
        target = self.local_path(path)
        if not target.exists():
            return False
        if target.is_dir():
            if not recurse and any(target.iterdir()):
                raise OSError(f"{path} is a non-empty directory: pass recurse=True")
            shutil.rmtree(target)
        else:
            target.unlink()
        return True

    def cp(self, source: str, destination: str, recurse: bool = False) -> bool:
        src, dst = self.local_path(source), self.local_path(destination)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            if not recurse:
                raise OSError(f"{source} is a directory: pass recurse=True")
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
        return True

    def mv(self, source: str, destination: str, recurse: bool = False) -> bool:
        self.cp(source, destination, recurse)
        return self.rm(source, recurse=True)

    def mounts(self) -> list[MountInfo]:
        return [MountInfo(m, self._sources.get(m, str(p))) for m, p in sorted(self._mounts.items())]

    def mount(self, source: str, mount_point: str, extra_configs: Mapping[str, str] | None = None) -> bool:
        """Mount a storage container (the runtime syncs it with a local folder around each run)."""
        mount_point = mount_point.rstrip("/")
        if not mount_point.startswith("/mnt/"):
            raise ValueError(f"mount point {mount_point!r} must be under /mnt/")
        if mount_point in self._mounts:
            raise ValueError(f"Directory already mounted: {mount_point}")
        if self._mount_root is None:
            raise MountsUnavailable(MOUNTS_UNAVAILABLE)
        folder = mount_local_folder(self._mount_root, mount_point)
        folder.mkdir(parents=True, exist_ok=True)
        self._mounts[mount_point] = folder
        self._sources[mount_point] = source
        self.created_mounts[mount_point] = {"source": source, "extra_configs": dict(extra_configs or {})}
        return True

    def unmount(self, mount_point: str) -> bool:
        mount_point = mount_point.rstrip("/")
        if self._mounts.pop(mount_point, None) is None:
            raise ValueError(f"Directory not mounted: {mount_point}")
        self._sources.pop(mount_point, None)
        self.created_mounts.pop(mount_point, None)
        self.removed_mounts.append(mount_point)
        return True

    def refreshMounts(self) -> bool:
        return True


def mount_local_folder(mount_root: Path, mount_point: str) -> Path:
    return Path(mount_root) / mount_point.strip("/").replace("/", "_")


class NotebookUtils:
    def __init__(self, run: Callable[[str, int, Mapping[str, str]], str | None]):
        self._run = run

    def exit(self, value: str) -> None:
        raise NotebookExit(str(value))

    def run(self, path: str, timeout_seconds: int = 0, arguments: Mapping[str, str] | None = None) -> str | None:
        return self._run(path, timeout_seconds, arguments or {})


class LocalDbutils:
    def __init__(self, parameters: Mapping[str, str], secrets: Mapping[str, Mapping[str, str]], fs: Fs,
                 run_notebook: Callable[[str, int, Mapping[str, str]], str | None]):
        self.widgets = Widgets(parameters)
        self.secrets = Secrets(secrets)
        self.fs = fs
        self.notebook = NotebookUtils(run_notebook)
