"""Where things are in the repository."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DIST = REPO_ROOT / "dist"
REPORTS = REPO_ROOT / "reports"
NOTEBOOKS = REPO_ROOT / "notebooks"
SAMPLE_DATA = REPO_ROOT / "data" / "melbourne"
ENVIRONMENTS = REPO_ROOT / "environments"
ARTIFACTS_CONFIG = ENVIRONMENTS / "artifacts.toml"
# PARKING_SANDBOX_HOME points the tasks at another sandbox (tests run their own).
SANDBOX_HOME = Path(os.environ.get("PARKING_SANDBOX_HOME") or REPO_ROOT / ".sandbox")
