"""Publish, fetch and list against real storage: Azurite (Blob API) and a local folder."""
import json

import pytest

from tests.unit.test_bundle import make_bundle
from toolkit.artifacts.fetch import FetchError, fetch
from toolkit.artifacts.listing import list_versions
from toolkit.artifacts.publish import PublishError, publish
from toolkit.artifacts.stores import BlobStore, LocalStore
from toolkit.bundle.manifest import MANIFEST

from tests.signing_helpers import LocalSigner, trusting

SIGNER = LocalSigner()
TRUST = trusting(SIGNER)


@pytest.fixture(params=["blob", "local"])
def store(request, tmp_path):
    if request.param == "blob":
        return BlobStore(request.getfixturevalue("blob_container"))
    return LocalStore(tmp_path / "store")


def _bundle(tmp_path, name="bundle", **kw):
    folder = tmp_path / name
    folder.mkdir()
    files = {f"notebooks/nb{i:03}.py": ("notebook", f"# Databricks notebook source\nprint({i})\n".encode())
             for i in range(12)}
    files["wheel/app-1.0.0-py3-none-any.whl"] = ("wheel", b"PK" + b"w" * 3000)
    make_bundle(folder, files, **kw)
    return folder


def _stored_keys(store):
    if isinstance(store, BlobStore):
        return sorted(b.name for b in store.container.list_blobs())
    return sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file())


def test_round_trip_and_same_content_republish_is_a_no_op(store, tmp_path):
    bundle = _bundle(tmp_path)
    first = publish(bundle, store, SIGNER, show_progress=False)
    assert (first.outcome, first.uploaded_files, first.skipped_files) == ("published", 13, 0)
    again = publish(bundle, store, SIGNER, show_progress=False)
    assert (again.outcome, again.uploaded_files, again.uploaded_bytes) == ("already-published", 0, 0)
    manifest = fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False)
    assert manifest.digest == first.bundle_digest
    for entry in manifest.files:
        assert (tmp_path / "fetched" / entry.path).read_bytes() == (bundle / entry.path).read_bytes()
    [listed] = list_versions(store)
    assert (listed.version, listed.complete, listed.commit, listed.files) == ("1.0.0", True, "c" * 40, 13)


def test_different_content_under_a_published_version_is_refused_and_changes_nothing(store, tmp_path):
    publish(_bundle(tmp_path), store, SIGNER, show_progress=False)
    before = {k: store.read(k) for k in _stored_keys(store)}
    changed = _bundle(tmp_path, "changed")
    (changed / "notebooks/nb003.py").write_bytes(b"# Databricks notebook source\nprint('other')\n")
    make_bundle(changed, {p.relative_to(changed).as_posix(): ("notebook", p.read_bytes())
                          for p in (changed / "notebooks").glob("*.py")} | {
        "wheel/app-1.0.0-py3-none-any.whl": ("wheel", b"PK" + b"w" * 3000)})
    with pytest.raises(PublishError, match=r"version 1.0.0 is already published .* with different content "
                                           r"\(notebooks/nb003.py\); versions are immutable"):
        publish(changed, store, SIGNER, show_progress=False)
    assert {k: store.read(k) for k in _stored_keys(store)} == before


class FailingAfter:
    """A store that dies after a number of uploads, as a publish killed midway would."""

    def __init__(self, store, uploads):
        self.store, self.left = store, uploads

    def upload(self, *args, **kwargs):
        if self.left <= 0:
            raise ConnectionError("connection reset by peer")
        self.left -= 1
        return self.store.upload(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_an_interrupted_publish_looks_unpublished_and_a_rerun_completes_it(store, tmp_path):
    bundle = _bundle(tmp_path)
    with pytest.raises(ConnectionError):
        publish(bundle, FailingAfter(store, 5), SIGNER, concurrency=1, show_progress=False)
    assert MANIFEST not in {k.split("/", 1)[1] for k in _stored_keys(store)}
    assert [(v.version, v.complete) for v in list_versions(store)] == [("1.0.0", False)]
    with pytest.raises(FetchError, match="version 1.0.0 is incomplete"):
        fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False)
    resumed = publish(bundle, store, SIGNER, show_progress=False)
    assert (resumed.outcome, resumed.uploaded_files, resumed.skipped_files) == ("completed", 8, 5)
    assert fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False).version == "1.0.0"


def _tamper(store, key, data):
    if isinstance(store, BlobStore):
        store.container.upload_blob(key, data, overwrite=True)  # as an attacker would: no sha256 metadata
    else:
        (store.root / key).write_bytes(data)


def test_a_tampered_or_partial_published_bundle_is_refused_naming_the_file(store, tmp_path):
    publish(_bundle(tmp_path), store, SIGNER, show_progress=False)
    _tamper(store, "1.0.0/notebooks/nb007.py", b"# Databricks notebook source\nsteal()\n")
    with pytest.raises(FetchError, match=r"notebooks/nb007.py: does not match the manifest of version 1.0.0"):
        fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False)
    assert not (tmp_path / "fetched").exists() and not list(tmp_path.glob(".fetched*"))  # no download folder left
    if isinstance(store, BlobStore):
        store.container.delete_blob("1.0.0/notebooks/nb002.py")
    else:
        (store.root / "1.0.0/notebooks/nb002.py").unlink()
    with pytest.raises(FetchError, match=r"notebooks/nb00[27].py"):
        fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False)


def test_fetch_never_deletes_what_it_did_not_create(store, tmp_path):
    publish(_bundle(tmp_path), store, SIGNER, show_progress=False)
    kept = tmp_path / "mine"
    kept.mkdir()
    (kept / "keep.txt").write_text("keep")
    with pytest.raises(FetchError, match=r"mine: not empty, and not an intact copy of version 1.0.0: nothing was "
                                         r"written"):
        fetch(store, "1.0.0", kept, TRUST, show_progress=False)
    assert [p.name for p in kept.iterdir()] == ["keep.txt"] and (kept / "keep.txt").read_text() == "keep"
    a_file = tmp_path / "a-file"
    a_file.write_text("mine too")
    with pytest.raises(FetchError, match="a-file: exists and is not a folder"):
        fetch(store, "1.0.0", a_file, TRUST, show_progress=False)
    assert a_file.read_text() == "mine too"
    assert not list(tmp_path.glob(".*"))  # no download folder left
    empty = tmp_path / "empty"
    empty.mkdir()
    assert fetch(store, "1.0.0", empty, TRUST, show_progress=False).version == "1.0.0" and (empty / MANIFEST).is_file()
    assert fetch(store, "1.0.0", empty, TRUST, show_progress=False).version == "1.0.0"  # an intact copy is reused


def test_the_toolkit_cache_replaces_a_copy_that_is_not_intact(store, tmp_path):
    publish(_bundle(tmp_path), store, SIGNER, show_progress=False)
    cache = tmp_path / "cache" / "1.0.0"
    fetch(store, "1.0.0", cache, TRUST, show_progress=False, refresh=True)
    (cache / "notebooks/nb001.py").write_bytes(b"changed in the cache")
    fetch(store, "1.0.0", cache, TRUST, show_progress=False, refresh=True)
    assert (cache / "notebooks/nb001.py").read_bytes() == b"# Databricks notebook source\nprint(1)\n"
    assert [p.name for p in cache.parent.iterdir()] == ["1.0.0"]


def test_a_manifest_whose_version_or_name_is_not_where_it_was_found_is_refused(store, tmp_path):
    publish(_bundle(tmp_path), store, SIGNER, show_progress=False)
    published = json.loads(store.read(f"1.0.0/{MANIFEST}"))
    _tamper(store, f"1.0.0/{MANIFEST}", json.dumps({**published, "version": "9.9.9"}).encode())
    with pytest.raises(FetchError, match=r"the manifest says version '9.9.9' but was published as '1.0.0'"):
        fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False)
    _tamper(store, f"1.0.0/{MANIFEST}", json.dumps({**published, "name": "other-app"}).encode())
    with pytest.raises(FetchError, match=r"the manifest is of bundle 'other-app', not 'parking-sensors'"):
        fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False)
    _tamper(store, f"1.0.0/{MANIFEST}", json.dumps(published).encode())
    with pytest.raises(FetchError, match="bundle digest .* is not the expected 0000"):
        fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False, expected_digest="0000")
    assert not (tmp_path / "fetched").exists()


def test_unknown_version_is_named(store, tmp_path):
    with pytest.raises(FetchError, match="version 9.9.9 is not published in"):
        fetch(store, "9.9.9", tmp_path / "x", TRUST, show_progress=False)


def test_publish_refuses_a_bundle_that_does_not_match_its_own_manifest(store, tmp_path):
    from toolkit.bundle.verify import BundleError

    bundle = _bundle(tmp_path)
    (bundle / "notebooks/nb001.py").write_bytes(b"changed after the build")
    with pytest.raises(BundleError, match="notebooks/nb001.py"):
        publish(bundle, store, SIGNER, show_progress=False)
    assert _stored_keys(store) == []


def test_manifest_listing_is_json_ready(store, tmp_path):
    publish(_bundle(tmp_path, version="2.0.0"), store, SIGNER, show_progress=False)
    from dataclasses import asdict
    assert json.loads(json.dumps([asdict(v) for v in list_versions(store)]))[0]["version"] == "2.0.0"


def test_publish_signs_the_manifest_and_fetch_refuses_what_the_signature_does_not_cover(store, tmp_path):
    """Each refusal happens before anything is downloaded, and names what failed."""
    from hashlib import sha256

    from toolkit.bundle.manifest import SIGNATURE
    from toolkit.signing.signatures import SignatureRefused

    bundle = _bundle(tmp_path)
    report = publish(bundle, store, SIGNER, show_progress=False)
    assert (report.signature, report.signed_by) == ("written", SIGNER.key_id)
    assert SIGNATURE in " ".join(_stored_keys(store)) and not (bundle / SIGNATURE).exists()  # the build stays as built
    signed = store.read(f"1.0.0/{SIGNATURE}")
    destination = tmp_path / "fetched"

    def refused(pattern):
        with pytest.raises(SignatureRefused, match=pattern):
            fetch(store, "1.0.0", destination, TRUST, show_progress=False)
        assert not destination.exists() and not list(tmp_path.glob(".fetched*"))

    # A file and its digest in the manifest, edited together.
    manifest = json.loads(store.read(f"1.0.0/{MANIFEST}"))
    evil = b"# Databricks notebook source\nsteal()\n"
    entry = next(f for f in manifest["files"] if f["path"] == "notebooks/nb007.py")
    entry.update(sha256=sha256(evil).hexdigest(), size=len(evil))
    original = store.read(f"1.0.0/{MANIFEST}")
    _tamper(store, "1.0.0/notebooks/nb007.py", evil)
    _tamper(store, f"1.0.0/{MANIFEST}", json.dumps(manifest).encode())
    refused(r"manifest.json has a bad signature: it does not verify with release-signer .*changed after it was signed")
    _tamper(store, f"1.0.0/{MANIFEST}", original)
    _tamper(store, "1.0.0/notebooks/nb007.py", (bundle / "notebooks/nb007.py").read_bytes())
    # Its signature removed.
    if isinstance(store, BlobStore):
        store.container.delete_blob(f"1.0.0/{SIGNATURE}")
    else:
        (store.root / "1.0.0" / SIGNATURE).unlink()
    refused(r"manifest.json is unsigned: there is no signature next to it, and the test accepts only signed ones")
    # Signed by a key the job knows but does not accept for bundles, then by one it does not know.
    other = LocalSigner("qa-signer")
    publish(bundle, store, other, show_progress=False)  # a published version without a signature gets one
    with pytest.raises(SignatureRefused, match=r"is signed by qa-signer \(.*\), a key the test does not trust "
                                               r"\(it trusts release-signer\)"):
        fetch(store, "1.0.0", destination, TRUST.__class__(TRUST.keys + (other.trusted_key(),), TRUST.accepted,
                                                           "the test", "keys"), show_progress=False)
    refused(r"is signed by an unknown key https://kv-test.vault.azure.net/keys/qa-signer/[0-9a-f]{32}: it is not "
            r"among the 1 trusted keys of the test's trusted keys")
    # A rotation: re-signed by the new key, accepted once it is trusted, next to the old one.
    rotated = LocalSigner("release-signer")
    assert publish(bundle, store, rotated, show_progress=False, resign=True).signature == "replaced"
    refused(r"signed by an unknown key https://kv-test.vault.azure.net/keys/release-signer/")
    both = trusting(SIGNER, rotated)
    assert fetch(store, "1.0.0", destination, both, show_progress=False).version == "1.0.0"
    assert (destination / SIGNATURE).read_bytes() == store.read(f"1.0.0/{SIGNATURE}")
    _tamper(store, f"1.0.0/{SIGNATURE}", signed)  # the old key's signature: still accepted during the rotation
    assert fetch(store, "1.0.0", destination, both, show_progress=False).version == "1.0.0"
    assert (destination / SIGNATURE).read_bytes() == signed  # the copy follows the store's signature


def test_publish_signs_only_its_own_build_and_repairs_a_missing_or_stale_signature(store, tmp_path):
    from toolkit.bundle.manifest import SIGNATURE
    from toolkit.signing.signatures import SignatureRefused

    class SignatureWriteFails:  # a publish killed after the manifest, before its signature
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def write(self, key, data, overwrite=False):
            if key.endswith(SIGNATURE):
                raise ConnectionError("killed")
            return self.inner.write(key, data, overwrite)

    bundle = _bundle(tmp_path)
    with pytest.raises(ConnectionError):
        publish(bundle, SignatureWriteFails(store), SIGNER, show_progress=False)
    with pytest.raises(SignatureRefused, match="is unsigned"):  # published, but refused until signed
        fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False)
    assert publish(bundle, store, SIGNER, show_progress=False).signature == "written"
    assert publish(bundle, store, SIGNER, show_progress=False).signature == "kept"
    _tamper(store, f"1.0.0/{SIGNATURE}", LocalSigner().sign(b"something else", "x").to_json())
    assert publish(bundle, store, SIGNER, show_progress=False).signature == "replaced"  # stale: signed again
    # Signed by another key (another sandbox's, an older version of the key): this signer signs it anew.
    _tamper(store, f"1.0.0/{SIGNATURE}", LocalSigner().sign(store.read(f"1.0.0/{MANIFEST}"), "x").to_json())
    report = publish(bundle, store, SIGNER, show_progress=False)
    assert (report.signature, report.signed_by) == ("replaced", SIGNER.key_id)
    assert fetch(store, "1.0.0", tmp_path / "fetched", TRUST, show_progress=False).version == "1.0.0"
    # The same files, another build's manifest (another build time): published, but not this build's to sign.
    other = tmp_path / "other"
    other.mkdir()
    published = json.loads(store.read(f"1.0.0/{MANIFEST}"))
    make_bundle(other, {e["path"]: (e["role"], (bundle / e["path"]).read_bytes()) for e in published["files"]})
    document = json.loads((other / MANIFEST).read_text()) | {"build_time": "2027-01-01T00:00:00Z"}
    (other / MANIFEST).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    before = store.read(f"1.0.0/{SIGNATURE}")
    with pytest.raises(PublishError, match=r"is not this build's manifest .*only the build that made it may sign it"):
        publish(other, store, SIGNER, show_progress=False, resign=True)
    assert store.read(f"1.0.0/{SIGNATURE}") == before
