"""Where a task's inputs come from.

The job gives what locates and verifies a bundle: the artifact store's configuration (``--store-config`` or
``$PARKING_ARTIFACT_STORE``), the trusted public keys (``$PARKING_TRUSTED_KEYS``) and, on the sandbox target,
the sandbox's home (``$PARKING_SANDBOX_HOME``). What a release deploys, environment files included, comes from
its bundle. A clone of the repository is used only when it is given explicitly: ``--root DIR`` on the
command line, or the invoke configuration key ``parking.root`` (the repository's own ``inv`` tasks set it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # listing the tasks imports this module, and loads none of the library
    from toolkit.project import Project

STORE_VARIABLE = "PARKING_ARTIFACT_STORE"
WORK_FOLDER = ".parking-release"  # in the current directory, without a clone: fetched bundles


@dataclass(frozen=True)
class Workplace:
    project: Project | None  # the clone given explicitly, if any

    @property
    def work(self) -> Path:
        """Where fetched bundles are kept: the clone's dist/, else .parking-release/ in the current directory."""
        return self.project.dist if self.project else Path.cwd() / WORK_FOLDER

    @property
    def reports(self) -> Path:
        """JUnit reports for CI: the clone's reports/, else reports/ in the current directory."""
        return self.project.reports if self.project else Path.cwd() / "reports"

    def known_sandbox_home(self) -> Path | None:
        from toolkit.project import sandbox_home

        return sandbox_home() or (self.project.sandbox_home if self.project else None)

    def sandbox_home(self) -> Path:
        from toolkit.configuration import ConfigError

        found = self.known_sandbox_home()
        if found is None:
            raise ConfigError("which sandbox? set PARKING_SANDBOX_HOME to the home of a running one (in a clone, "
                              "`./dev inv sandbox.up` starts it in .sandbox), or pass --root with a clone")
        return found

    def store_config(self, given: str | None) -> Path:
        """The artifact store's configuration: --store-config, else $PARKING_ARTIFACT_STORE, else the clone's."""
        from toolkit.configuration import ConfigError

        if given:
            return Path(given)
        if os.environ.get(STORE_VARIABLE):
            return Path(os.environ[STORE_VARIABLE])
        if self.project:
            return self.project.artifacts_config
        raise ConfigError(f"which artifact store? pass --store-config FILE or set {STORE_VARIABLE} to its "
                          "configuration file (the job's, never a bundle's), or pass --root with a clone")

    def environments(self, what: str) -> Path:
        """The clone's environment files, for work that is not a release of a bundle (which brings its own)."""
        from toolkit.configuration import ConfigError

        if self.project is None:
            raise ConfigError(f"{what} reads the environment files of a clone: pass --root with one")
        return self.project.environments


def workplace(c) -> Workplace:
    """The invoke context's workplace: a clone if ``parking.root`` is set (``--root``), else none."""
    from toolkit.configuration import ConfigError
    from toolkit.project import Project

    root = (c.config.get("parking") or {}).get("root") if c is not None else None
    if not root:
        return Workplace(None)
    path = Path(root).expanduser().resolve()
    if not (path / "environments").is_dir():
        raise ConfigError(f"--root {root}: not a clone of the repository (it has no environments/ folder)")
    return Workplace(Project(path))
