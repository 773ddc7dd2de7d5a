"""This clone. The repository's own tasks, tests and benchmarks find it through this file; the toolkit they
call is always handed it explicitly (an installed toolkit has no clone)."""
from pathlib import Path

from toolkit.project import Project

PROJECT = Project(Path(__file__).resolve().parent.parent)
REPO_ROOT = PROJECT.root
DIST = PROJECT.dist
REPORTS = PROJECT.reports
NOTEBOOKS = PROJECT.notebooks
SAMPLE_DATA = PROJECT.sample_data
ENVIRONMENTS = PROJECT.environments
ARTIFACTS_CONFIG = PROJECT.artifacts_config
