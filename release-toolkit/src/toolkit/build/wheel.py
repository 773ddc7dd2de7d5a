"""The data application's wheel and the wheelhouse of its runtime dependencies."""
from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from toolkit import DISTRIBUTION as TOOLKIT
from toolkit.build.version import GitState, pep440_version

DISTRIBUTION = "parking-sensors"
TOOLKIT_PROJECT = "release-toolkit"  # in the repository: the release toolkit's own project
# Databricks Runtime 17.3 LTS: Python 3.12 on Linux x86_64. Dependencies are fetched for it,
# not for the machine that builds.
TARGET_PYTHON = "3.12"
TARGET_PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64")


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class WheelBuild:
    version: str
    commit: str
    wheel: Path
    wheelhouse: tuple[Path, ...]
    toolkit: Path | None = None  # the release toolkit's wheel, which deploys this build


def _run(command: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    result = subprocess.run(list(command), env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise BuildError(f"{' '.join(command[:4])} ... failed (exit {result.returncode}):\n{tail}")


def build_wheel(project: Path, out_dir: Path, state: GitState, distribution: str = DISTRIBUTION) -> Path:
    """Build ``project``'s wheel at the version ``state`` gives, reproducibly (zip times from the commit)."""
    version = pep440_version(state)
    out_dir.mkdir(parents=True, exist_ok=True)
    pretend = f"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{distribution.upper().replace('-', '_')}"
    env = {**os.environ, pretend: version, "SOURCE_DATE_EPOCH": str(state.commit_time)}
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out_dir), str(project)],
         env=env, cwd=project)
    name = distribution.replace("-", "_")
    wheels = sorted(out_dir.glob(f"{name}-{version}-*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"expected one wheel {name}-{version}-*.whl in {out_dir}, found {[w.name for w in wheels]}")
    return wheels[0]


def build_toolkit_wheel(repo: Path, out_dir: Path, state: GitState) -> Path:
    """The release toolkit's wheel at the application's version, built from a clean copy of its project (what an
    earlier in-place build left in build/ never gets into it)."""
    import shutil
    import tempfile

    source = repo / TOOLKIT_PROJECT
    with tempfile.TemporaryDirectory(prefix="toolkit-build-") as scratch:
        project = Path(scratch) / TOOLKIT_PROJECT
        litter = shutil.ignore_patterns("*.egg-info", "__pycache__", "*.pyc")

        def ignored(folder: str, names: list[str]) -> set[str]:  # the project's own build/, not toolkit/build/
            return set(litter(folder, names)) | ({"build", "dist"} if Path(folder) == source else set())
        shutil.copytree(source, project, ignore=ignored)
        return build_wheel(project, out_dir, state, TOOLKIT)


def runtime_requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist entries that apply without extras."""
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode("utf-8"))
    requirements = metadata.get_all("Requires-Dist") or []
    return [r for r in requirements if "extra ==" not in r.replace("extra==", "extra ==")]


def build_wheelhouse(requirements: Sequence[str], dest: Path, *, python_version: str = TARGET_PYTHON,
                     platforms: Sequence[str] = TARGET_PLATFORMS, find_links: Path | None = None,
                     index: bool = True) -> list[Path]:
    """Download wheels for ``requirements`` and everything they need, for the target runtime."""
    dest.mkdir(parents=True, exist_ok=True)
    if not requirements:
        return []
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(dest), "--only-binary=:all:",
               "--python-version", python_version, "--implementation", "cp"]
    for platform in platforms:
        command += ["--platform", platform]
    if find_links:
        command += ["--find-links", str(find_links)]
    if not index:
        command.append("--no-index")
    _run([*command, *requirements])
    return sorted(dest.glob("*.whl"))
