"""The README's bootstrap commands (openssl + sha256sum, before anything from a bundle is installed), run as
documented: they let a signed bundle's toolkit through, and stop a tampered wheel or lock, a manifest edited with
it, a bundle signed by another key, and a wheel the manifest does not list, before `pip install`."""
import hashlib
import json
import re
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization

from tests.signing_helpers import LocalSigner
from tests.unit.test_bundle import make_bundle
from toolkit.bundle.manifest import MANIFEST, SIGNATURE
from toolkit.bundle.signature import sign_manifest
from tasks.repository import REPO_ROOT

WHEEL = "toolkit/parking_release-1.0.0-py3-none-any.whl"
REQUIREMENTS = "toolkit/requirements.txt"


def _commands() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"<!-- bootstrap-verify:begin -->\n```bash\n(.*?)```\n<!-- bootstrap-verify:end -->", readme,
                      re.S)
    assert block, "README.md has no bootstrap-verify block"
    return block.group(1)


def _pem(signer: LocalSigner, path):
    path.write_bytes(signer.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


@pytest.fixture
def signed(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    manifest = make_bundle(bundle, {WHEEL: ("toolkit", b"PK" + b"toolkit" * 100),
                                    REQUIREMENTS: ("toolkit-requirements", b"invoke==3.0.3\n"),
                                    "toolkit/parking_release-1.0.0-py3-none-any.whl.metadata": ("toolkit", b"m"),
                                    "notebooks/01_standardize.py": ("notebook", b"# Databricks notebook source\n")})
    signer = LocalSigner()
    (bundle / SIGNATURE).write_bytes(sign_manifest(manifest, signer).to_json())
    return bundle, _pem(signer, tmp_path / "release-signer.pem")


def _run(bundle, key, wheel=WHEEL, version="1.0.0"):
    # pip stands in for the real one: what matters is whether the commands get that far.
    script = "pip() { echo \"INSTALLED $*\"; }\n" + _commands()
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "BUNDLE": str(bundle), "TRUSTED_KEY": str(key), "WHEEL": wheel,
                               "VERSION": version})


def test_a_signed_bundles_wheel_is_verified_then_installed(signed):
    bundle, key = signed
    done = _run(bundle, key)
    assert done.returncode == 0, done.stderr
    assert "Verified OK" in done.stdout and f"{bundle}/{WHEEL}: OK" in done.stdout
    assert f"{bundle}/{REQUIREMENTS}: OK" in done.stdout
    assert done.stdout.strip().splitlines()[-2:] == [
        f"INSTALLED install --require-virtualenv -r {bundle}/{REQUIREMENTS}",
        f"INSTALLED install --require-virtualenv --no-deps {bundle}/{WHEEL}"]


def test_an_edited_lock_of_the_toolkits_dependencies_is_refused_before_pip(signed):
    bundle, key = signed
    (bundle / REQUIREMENTS).write_bytes(b"invoke==3.0.3\nevil==1.0\n")
    done = _run(bundle, key)
    assert done.returncode != 0 and "INSTALLED" not in done.stdout
    assert f"{bundle}/{REQUIREMENTS}: FAILED" in done.stdout


def test_a_tampered_wheel_is_refused_before_pip(signed):
    bundle, key = signed
    (bundle / WHEEL).write_bytes(b"PK" + b"evil" * 100)
    done = _run(bundle, key)
    assert done.returncode != 0 and "INSTALLED" not in done.stdout
    assert "Verified OK" in done.stdout and "FAILED" in done.stdout + done.stderr


def test_a_wheel_edited_with_its_digest_in_the_manifest_is_refused_by_the_signature(signed):
    bundle, key = signed
    evil = b"PK" + b"evil" * 100
    (bundle / WHEEL).write_bytes(evil)
    document = json.loads((bundle / MANIFEST).read_text())
    entry = next(f for f in document["files"] if f["path"] == WHEEL)
    entry.update(sha256=hashlib.sha256(evil).hexdigest(), size=len(evil))
    (bundle / MANIFEST).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    done = _run(bundle, key)
    assert done.returncode != 0 and "INSTALLED" not in done.stdout
    assert "Verification failure" in done.stdout + done.stderr


def test_a_bundle_signed_by_another_key_is_refused(signed, tmp_path):
    bundle, _ = signed
    done = _run(bundle, _pem(LocalSigner(), tmp_path / "other.pem"))
    assert done.returncode != 0 and "INSTALLED" not in done.stdout
    assert "Verification failure" in done.stdout + done.stderr


def test_a_validly_signed_bundle_of_another_version_is_refused(signed):
    """An older signed release (say, a toolkit from before a fix) put where this release's bundle should be."""
    bundle, key = signed
    done = _run(bundle, key, version="1.0.1")
    assert done.returncode != 0 and "INSTALLED" not in done.stdout
    assert "Verified OK" in done.stdout and "not version 1.0.1" in done.stderr


def test_an_unsigned_bundle_or_a_wheel_not_in_the_manifest_is_refused(signed):
    bundle, key = signed
    done = _run(bundle, key, wheel="toolkit/other-1.0.0-py3-none-any.whl")
    assert done.returncode != 0 and "is not in the signed manifest" in done.stderr
    done = _run(bundle, key, wheel="toolkit/parking_release-1.0.0-py3-none-any.whl.*")  # no pattern matching
    assert done.returncode != 0 and "INSTALLED" not in done.stdout
    (bundle / SIGNATURE).unlink()
    done = _run(bundle, key)
    assert done.returncode != 0 and "INSTALLED" not in done.stdout
