"""Where things are in the repository."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DIST = REPO_ROOT / "dist"
REPORTS = REPO_ROOT / "reports"
NOTEBOOKS = REPO_ROOT / "notebooks"
SAMPLE_DATA = REPO_ROOT / "data" / "melbourne"
ENVIRONMENTS = REPO_ROOT / "environments"
ARTIFACTS_CONFIG = ENVIRONMENTS / "artifacts.toml"
SANDBOX_HOME = REPO_ROOT / ".sandbox"
