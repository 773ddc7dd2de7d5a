"""Assemble the release bundle of a build into dist/bundle/<version>/.

The bundle holds the wheel, the wheelhouse, jars (libs/*.jar), notebooks, cluster
configuration with its per-environment overrides, the ADF definitions, the ARM templates
with their parameter files and scripts, the environment files as they are at build time
(a settings change is released like code; the artifact store's configuration is the job's,
not the bundle's), the release toolkit's wheel with the lock of its dependencies (the
deployer of this version), and manifest.json. The definitions are checked
first: a bundle is never assembled from definitions with findings. Building the same commit
twice gives byte-identical bundles: the wheel is reproducible, the build time is the
commit's time, and the manifest is canonical.
"""
from __future__ import annotations

import shutil
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from toolkit.build.version import GitState, pep440_version
from toolkit.build.wheel import TOOLKIT_PROJECT, WheelBuild
from toolkit.bundle.manifest import BUNDLE_NAME, MANIFEST, FileEntry, Manifest, sha256_file
from toolkit.definitions import check_definitions
from toolkit.definitions.findings import DefinitionError
from toolkit.environments.model import NAMES

_TOOLS = ("pip", "setuptools", "setuptools-scm", "wheel", "build", "invoke")
# The environment files a release deploys with (artifacts.toml, which locates the bundle, is the job's).
ENVIRONMENT_FILES = {**{f"{name}.toml": "environment" for name in NAMES}, "signing.toml": "signing-config"}


def _arm_role(relative: Path) -> str:
    if relative.suffix == ".sh":
        return "script"
    return "arm-parameters" if relative.parts[0] == "parameters" else "arm-template"


def bundle_sources(repo: Path, build: WheelBuild) -> list[tuple[Path, str, str]]:
    """(source file, path in the bundle, role) for every file of the bundle, sorted by bundle path."""
    sources = [(build.wheel, f"wheel/{build.wheel.name}", "wheel")]
    sources += [(w, f"wheelhouse/{w.name}", "dependency") for w in build.wheelhouse]
    sources += [(j, f"jars/{j.name}", "jar") for j in sorted((repo / "libs").glob("*.jar"))]
    sources += [(n, f"notebooks/{n.name}", "notebook") for n in sorted((repo / "notebooks").glob("*.py"))]
    intended = repo / "notebooks" / "intended_changes.toml"  # what the release means to change (the audit reads it)
    if intended.is_file():
        sources.append((intended, "notebooks/intended_changes.toml", "intended-changes"))
    sources += [(c, f"cluster/{c.relative_to(repo / 'cluster').as_posix()}", "cluster-config")
                for c in sorted((repo / "cluster").rglob("*.json"))]
    sources += [(a, a.relative_to(repo).as_posix(), "adf") for a in sorted((repo / "adf").rglob("*.json"))]
    arm = repo / "arm"
    sources += [(a, a.relative_to(repo).as_posix(), _arm_role(a.relative_to(arm)))
                for a in sorted(arm.rglob("*")) if a.is_file() and a.suffix in (".json", ".sh")]
    sources += [(e, f"environments/{e.name}", ENVIRONMENT_FILES[e.name])
                for e in sorted((repo / "environments").glob("*.toml")) if e.name in ENVIRONMENT_FILES]
    if build.toolkit is not None:
        sources += [(build.toolkit, f"toolkit/{build.toolkit.name}", "toolkit"),
                    (repo / TOOLKIT_PROJECT / "requirements.txt", "toolkit/requirements.txt", "toolkit-requirements")]
    return sorted(sources, key=lambda s: s[1])


def tool_versions() -> dict[str, str]:
    tools = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in _TOOLS:
        try:
            tools[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            tools[name] = "absent"
    return tools


def assemble_bundle(repo: Path, out_root: Path, build: WheelBuild, state: GitState) -> tuple[Path, Manifest]:
    """Write the bundle to ``out_root/<version>/`` (replacing an earlier one) and return it with its manifest."""
    findings = check_definitions(repo)
    if findings:
        raise DefinitionError(findings)
    version = pep440_version(state)
    target = out_root / version
    staging = out_root / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    entries = []
    for source, bundle_path, role in bundle_sources(repo, build):
        destination = staging / bundle_path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        entries.append(FileEntry(bundle_path, role, destination.stat().st_size, sha256_file(destination)))
    build_time = datetime.fromtimestamp(state.commit_time, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = Manifest(BUNDLE_NAME, version, state.commit, build_time, tool_versions(), tuple(entries))
    (staging / MANIFEST).write_bytes(manifest.to_json())
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target, manifest
