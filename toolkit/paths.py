"""Where things are in the repository."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DIST = REPO_ROOT / "dist"
REPORTS = REPO_ROOT / "reports"
NOTEBOOKS = REPO_ROOT / "notebooks"
SAMPLE_DATA = REPO_ROOT / "data" / "melbourne"
ARTIFACTS_CONFIG = REPO_ROOT / "environments" / "artifacts.toml"
SANDBOX_HOME = REPO_ROOT / ".sandbox"
