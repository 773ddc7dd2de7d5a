import json

import pytest

from toolkit.bundle.manifest import MANIFEST, FileEntry, Manifest, ManifestError
from toolkit.bundle.verify import BundleError, verify_bundle


def make_bundle(folder, files=None, version="1.0.0"):
    """A bundle folder with a correct manifest; ``files`` maps bundle path to (role, bytes)."""
    import hashlib

    files = files or {"wheel/app-1.0.0-py3-none-any.whl": ("wheel", b"wheel-bytes"),
                      "notebooks/01_standardize.py": ("notebook", b"# Databricks notebook source\n")}
    entries = []
    for path, (role, data) in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
        entries.append(FileEntry(path, role, len(data), hashlib.sha256(data).hexdigest()))
    manifest = Manifest("parking-sensors", version, "c" * 40, "2026-11-26T00:00:00Z", {"python": "3.11.7"},
                        tuple(entries))
    (folder / MANIFEST).write_bytes(manifest.to_json())
    return manifest


def test_manifest_is_canonical_and_round_trips(tmp_path):
    manifest = make_bundle(tmp_path)
    again = Manifest.from_json(manifest.to_json())
    assert again == Manifest(**{**again.__dict__, "files": tuple(sorted(manifest.files, key=lambda f: f.path))})
    assert again.to_json() == manifest.to_json()
    document = json.loads(manifest.to_json())
    assert [f["path"] for f in document["files"]] == sorted(f["path"] for f in document["files"])
    assert set(document["files"][0]) == {"path", "role", "size", "sha256"}
    assert len(manifest.digest) == 64


@pytest.mark.parametrize("data, message", [
    (b"not json", "not a valid bundle manifest"),
    (b'{"name": "x"}', "not a valid bundle manifest"),
])
def test_a_broken_manifest_is_refused(data, message):
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(data, "somewhere/manifest.json")


def test_paths_escaping_the_bundle_are_refused(tmp_path):
    manifest = make_bundle(tmp_path)
    evil = Manifest(**{**manifest.__dict__, "files": (FileEntry("../etc/passwd", "script", 1, "0" * 64),)})
    with pytest.raises(ManifestError, match="bad file entry '../etc/passwd'"):
        Manifest.from_json(evil.to_json())


def test_verify_accepts_an_intact_bundle(tmp_path):
    manifest = make_bundle(tmp_path)
    assert verify_bundle(tmp_path).to_json() == manifest.to_json()


@pytest.mark.parametrize("damage, message", [
    (lambda b: (b / "notebooks/01_standardize.py").write_bytes(b"# Databricks notebook source\nevil()\n"),
     "notebooks/01_standardize.py: size"),
    (lambda b: (b / "wheel/app-1.0.0-py3-none-any.whl").write_bytes(b"wheel-bytez"),
     "wheel/app-1.0.0-py3-none-any.whl: sha256 does not match the manifest"),
    (lambda b: (b / "notebooks/01_standardize.py").unlink(), "notebooks/01_standardize.py: missing"),
    (lambda b: (b / "notebooks/extra.py").write_text("x"), "notebooks/extra.py: in the bundle but not in its manifest"),
    (lambda b: (b / MANIFEST).unlink(), "no manifest.json"),
])
def test_verify_names_the_offending_file(tmp_path, damage, message):
    make_bundle(tmp_path)
    damage(tmp_path)
    with pytest.raises(BundleError, match=message):
        verify_bundle(tmp_path)
