"""inv build for real, on a clean clone of this repository."""
import json
import subprocess
import sys

from toolkit.build.application import BUILD_INFO, build_application
from toolkit.build.version import compute_version


def test_build_makes_a_wheel_at_the_git_version_that_imports_on_its_own(clone, tmp_path):
    result = build_application(clone, clone / "dist")
    version = compute_version(clone)
    assert result.version == version and "dirty" not in version
    assert result.wheel.wheel.name == f"parking_sensors-{version}-py3-none-any.whl"
    info = json.loads((clone / "dist" / BUILD_INFO).read_text())
    toolkit = f"parking_release-{version}-py3-none-any.whl"
    assert info == {"version": version, "commit": result.wheel.commit, "wheel": result.wheel.wheel.name,
                    "wheelhouse": [], "toolkit": f"toolkit/{toolkit}", "bundle": f"bundle/{version}",
                    "bundle_digest": result.manifest.digest, "bundle_files": len(result.manifest.files)}
    # The bundle carries the toolkit that deploys it, its lock, and the environment files as they are now.
    roles = {f.path: f.role for f in result.manifest.files}
    assert roles[f"toolkit/{toolkit}"] == "toolkit" and roles["toolkit/requirements.txt"] == "toolkit-requirements"
    assert {p for p, r in roles.items() if r in ("environment", "signing-config")} == {
        "environments/qa.toml", "environments/staging.toml", "environments/prod.toml", "environments/signing.toml"}
    assert (result.bundle / "environments" / "prod.toml").read_bytes() == (clone / "environments" / "prod.toml") \
        .read_bytes()
    # Only the wheel on the path, run from elsewhere: the installed-metadata version is the built one.
    code = f"import sys; sys.path.insert(0, {str(result.wheel.wheel)!r}); import parking_sensors as p; " \
           "print(p.__version__, p.__file__)"
    out = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    printed_version, module_file = out.stdout.split()
    assert printed_version == version and module_file.startswith(str(result.wheel.wheel))


def test_a_notebook_that_does_not_compile_fails_the_build_and_makes_no_bundle(clone):
    import pytest

    from toolkit.definitions.findings import DefinitionError

    notebook = clone / "notebooks" / "01_standardize.py"
    original = notebook.read_text()
    notebook.write_text(original + "\n# COMMAND ----------\n\ndef broken(:\n    pass\n")
    try:
        with pytest.raises(DefinitionError, match=r"notebooks/01_standardize.py: line \d+ column \d+: SyntaxError"):
            build_application(clone, clone / "dist-broken")
        assert not (clone / "dist-broken").exists()
    finally:
        notebook.write_text(original)


def test_a_change_makes_a_new_dirty_version(clone):
    clean = compute_version(clone)
    (clone / "src" / "parking_sensors" / "schema.py").open("a").write("# local change\n")
    try:
        result = build_application(clone, clone / "dist")
        assert result.version != clean and ".dirty" in result.version
    finally:
        subprocess.run(["git", "checkout", "--", "src"], cwd=clone, check=True)
