"""``inv build``: the wheel, its wheelhouse, the release toolkit's wheel and the release bundle, described by
dist/build-info.json."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from toolkit.build.version import pep440_version, read_git_state
from toolkit.build.wheel import WheelBuild, build_toolkit_wheel, build_wheel, build_wheelhouse, runtime_requirements
from toolkit.local_files import write_atomically
from toolkit.bundle.assemble import assemble_bundle
from toolkit.bundle.manifest import Manifest

BUILD_INFO = "build-info.json"
BUNDLES = "bundle"


@dataclass(frozen=True)
class ApplicationBuild:
    wheel: WheelBuild
    bundle: Path
    manifest: Manifest

    @property
    def version(self) -> str:
        return self.wheel.version


def build_application(repo: Path, dist: Path) -> ApplicationBuild:
    """Build the wheel at the git-derived version, the wheelhouse of its runtime dependencies, and the bundle.
    The definitions and notebooks are checked first: a build with findings makes nothing."""
    from toolkit.definitions import check_definitions
    from toolkit.definitions.findings import DefinitionError

    findings = check_definitions(repo)
    if findings:
        raise DefinitionError(findings)
    state = read_git_state(repo)
    wheel = build_wheel(repo, dist, state)
    wheelhouse_dir = dist / "wheelhouse"
    shutil.rmtree(wheelhouse_dir, ignore_errors=True)  # only this build's dependencies
    wheelhouse = build_wheelhouse(runtime_requirements(wheel), wheelhouse_dir)
    toolkit_dir = dist / "toolkit"
    shutil.rmtree(toolkit_dir, ignore_errors=True)
    toolkit = build_toolkit_wheel(repo, toolkit_dir, state)
    wheel_build = WheelBuild(pep440_version(state), state.commit, wheel, tuple(wheelhouse), toolkit)
    bundle, manifest = assemble_bundle(repo, dist / BUNDLES, wheel_build, state)
    result = ApplicationBuild(wheel_build, bundle, manifest)
    write_atomically(dist / BUILD_INFO, json.dumps(describe(result, dist), indent=2) + "\n")
    return result


def read_build_info(dist: Path) -> dict:
    """What the last ``inv build`` made (see :func:`describe`)."""
    path = dist / BUILD_INFO
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `inv build` first")
    return json.loads(path.read_text())


def describe(result: ApplicationBuild, dist: Path) -> dict:
    return {
        "version": result.version,
        "commit": result.wheel.commit,
        "wheel": result.wheel.wheel.relative_to(dist).as_posix(),
        "wheelhouse": [w.relative_to(dist).as_posix() for w in result.wheel.wheelhouse],
        "toolkit": result.wheel.toolkit.relative_to(dist).as_posix() if result.wheel.toolkit else None,
        "bundle": result.bundle.relative_to(dist).as_posix(),
        "bundle_digest": result.manifest.digest,
        "bundle_files": len(result.manifest.files),
    }
