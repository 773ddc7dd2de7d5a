"""A clone of the repository, given explicitly: where its sources are, and where builds, reports and the local
sandbox go. The toolkit never looks for it on its own (an installed toolkit has no clone at all)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SANDBOX_HOME_VARIABLE = "PARKING_SANDBOX_HOME"  # another sandbox's home (tests run their own)


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def dist(self) -> Path:
        return self.root / "dist"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def sample_data(self) -> Path:
        return self.root / "data" / "melbourne"

    @property
    def environments(self) -> Path:
        return self.root / "environments"

    @property
    def artifacts_config(self) -> Path:
        return self.environments / "artifacts.toml"

    @property
    def sandbox_home(self) -> Path:
        return sandbox_home() or self.root / ".sandbox"


def sandbox_home() -> Path | None:
    """The sandbox home the job names (``$PARKING_SANDBOX_HOME``), if it names one."""
    given = os.environ.get(SANDBOX_HOME_VARIABLE)
    return Path(given) if given else None
