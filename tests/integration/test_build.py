"""inv build for real, on a clean clone of this repository."""
import hashlib
import json
import subprocess
import sys

import pytest

from toolkit.build.application import BUILD_INFO, build_application
from toolkit.build.version import compute_version
from toolkit.paths import REPO_ROOT


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    target = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(target)], check=True)
    return target


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_makes_a_wheel_at_the_git_version_that_imports_on_its_own(clone, tmp_path):
    result = build_application(clone, clone / "dist")
    version = compute_version(clone)
    assert result.version == version and "dirty" not in version
    assert result.wheel.name == f"parking_sensors-{version}-py3-none-any.whl"
    info = json.loads((clone / "dist" / BUILD_INFO).read_text())
    assert info == {"version": version, "commit": result.commit, "wheel": result.wheel.name, "wheelhouse": []}
    # Only the wheel on the path, run from elsewhere: the installed-metadata version is the built one.
    code = f"import sys; sys.path.insert(0, {str(result.wheel)!r}); import parking_sensors as p; " \
           "print(p.__version__, p.__file__)"
    out = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    printed_version, module_file = out.stdout.split()
    assert printed_version == version and module_file.startswith(str(result.wheel))


def test_rebuilding_the_same_commit_gives_the_same_bytes(clone, tmp_path):
    first = build_application(clone, tmp_path / "a")
    second = build_application(clone, tmp_path / "b")
    assert first.version == second.version and _sha256(first.wheel) == _sha256(second.wheel)


def test_a_change_makes_a_new_dirty_version(clone):
    clean = compute_version(clone)
    (clone / "src" / "parking_sensors" / "schema.py").open("a").write("# local change\n")
    try:
        result = build_application(clone, clone / "dist")
        assert result.version != clean and ".dirty" in result.version
    finally:
        subprocess.run(["git", "checkout", "--", "src"], cwd=clone, check=True)
