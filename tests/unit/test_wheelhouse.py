import zipfile

import pytest

from toolkit.build.wheel import BuildError, build_wheelhouse, runtime_requirements


def _wheel(path, name, version, requires=()):
    """A minimal pure-Python wheel, as a dependency of the application could be."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    wheel = path / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"{name}/__init__.py", "")
        z.writestr(f"{dist_info}/METADATA", metadata)
        z.writestr(f"{dist_info}/WHEEL",
                   "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{dist_info}/RECORD", "")
    return wheel


def test_runtime_requirements_leave_out_extras(tmp_path):
    wheel = _wheel(tmp_path, "app", "1.0", ["alpha>=1", 'pyspark<4.1,>=4.0; extra == "local"'])
    assert runtime_requirements(wheel) == ["alpha>=1"]


def test_wheelhouse_holds_the_requirements_and_what_they_need_for_the_target(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    _wheel(index, "alpha", "1.0", ["beta"])
    _wheel(index, "beta", "2.0")
    got = build_wheelhouse(["alpha"], tmp_path / "house", find_links=index, index=False)
    assert [w.name for w in got] == ["alpha-1.0-py3-none-any.whl", "beta-2.0-py3-none-any.whl"]


def test_an_empty_requirement_list_makes_an_empty_wheelhouse(tmp_path):
    assert build_wheelhouse([], tmp_path / "house") == [] and (tmp_path / "house").is_dir()


def test_an_unresolvable_requirement_fails_with_pips_reason(tmp_path):
    with pytest.raises(BuildError, match="No matching distribution found for nothing-here"):
        build_wheelhouse(["nothing-here"], tmp_path / "house", find_links=tmp_path, index=False)
