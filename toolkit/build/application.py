"""``inv build``: the data application's wheel and wheelhouse, described by dist/build-info.json."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from toolkit.build.version import read_git_state, pep440_version
from toolkit.build.wheel import WheelBuild, build_wheel, build_wheelhouse, runtime_requirements

BUILD_INFO = "build-info.json"


def build_application(repo: Path, dist: Path) -> WheelBuild:
    """Build the wheel at the git-derived version, then the wheelhouse of its runtime dependencies."""
    state = read_git_state(repo)
    wheel = build_wheel(repo, dist, state)
    wheelhouse_dir = dist / "wheelhouse"
    shutil.rmtree(wheelhouse_dir, ignore_errors=True)  # only this build's dependencies
    wheelhouse = build_wheelhouse(runtime_requirements(wheel), wheelhouse_dir)
    result = WheelBuild(pep440_version(state), state.commit, wheel, tuple(wheelhouse))
    (dist / BUILD_INFO).write_text(json.dumps(describe(result, dist), indent=2) + "\n")
    return result


def read_build_info(dist: Path) -> dict:
    """What the last ``inv build`` made (see :func:`describe`)."""
    path = dist / BUILD_INFO
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `inv build` first")
    return json.loads(path.read_text())


def describe(result: WheelBuild, dist: Path) -> dict:
    return {
        "version": result.version,
        "commit": result.commit,
        "wheel": result.wheel.relative_to(dist).as_posix(),
        "wheelhouse": [w.relative_to(dist).as_posix() for w in result.wheelhouse],
    }
