"""Signed releases through the tasks on the sandbox: deploy-qa refuses a bundle whose signature does not hold,
with no write (the sandbox's request log), and names why; a key rotation is refused until the job trusts the
new key, and then both keys are accepted."""
import json
import shutil

import pytest
from invoke import Config, Context, Exit

from parking_release import artifacts as artifact_tasks, release
from tests.integration.release_helpers import requests_made, reset_requests, signer
from toolkit.artifacts.publish import publish
from toolkit.artifacts.stores import LocalStore
from toolkit.bundle.manifest import MANIFEST, SIGNATURE


@pytest.fixture
def sandbox_tasks(release_sandbox, monkeypatch, tmp_path):
    """The tasks as an installed toolkit runs them (no clone), on the test sandbox."""
    monkeypatch.setenv("PARKING_SANDBOX_HOME", str(release_sandbox))
    monkeypatch.chdir(tmp_path)
    return Context(Config(overrides={"run": {"in_stream": False}}))


@pytest.fixture
def own_store(published_bundle, tmp_path):
    """A copy of the published store that this test may damage: (store, its configuration, version)."""
    manifest, _, config = published_bundle
    from toolkit.artifacts.config import load_store_config

    shutil.copytree(load_store_config(config).path, tmp_path / "store")
    own = tmp_path / "store.toml"
    own.write_text(f'kind = "local"\npath = "{tmp_path / "store"}"\n')
    return LocalStore(tmp_path / "store"), own, manifest.version


def _deploy_qa(context, store_config, version, **options):
    release.deploy_qa(context, version=version, deployment_id="sig", store_config=str(store_config), json_=False,
                      **options)


def _refused(context, home, store_config, version) -> str:
    reset_requests(home)
    with pytest.raises(Exit) as refused:
        _deploy_qa(context, store_config, version)
    assert requests_made(home)["writes"] == 0
    assert refused.value.code == 1
    return str(refused.value.message)


def test_deploy_qa_refuses_an_edited_unsigned_or_untrusted_bundle_with_no_write(sandbox_tasks, release_sandbox,
                                                                                own_store):
    import hashlib

    store, config, version = own_store
    folder = store.root / version
    original = {name: (folder / name).read_bytes() for name in (MANIFEST, SIGNATURE)}
    manifest = json.loads(original[MANIFEST])
    entry = next(f for f in manifest["files"] if f["role"] == "notebook")
    original[entry["path"]] = (folder / entry["path"]).read_bytes()
    # A file and its digest in the manifest, edited together.
    evil = b"# Databricks notebook source\nprint('not what was built')\n"
    (folder / entry["path"]).write_bytes(evil)
    entry.update(sha256=hashlib.sha256(evil).hexdigest(), size=len(evil))
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    message = _refused(sandbox_tasks, release_sandbox, config, version)
    assert message.startswith("deploy-qa failed: ") and "manifest.json has a bad signature: it does not verify with " \
        "release-signer" in message
    for name in (MANIFEST, entry["path"]):
        (folder / name).write_bytes(original[name])
    # Its signature removed.
    (folder / SIGNATURE).unlink()
    assert "manifest.json is unsigned" in _refused(sandbox_tasks, release_sandbox, config, version)
    # Signed by a key the job knows, but qa does not trust for bundles (QA's own stage key).
    from toolkit.bundle.signature import sign_manifest
    from toolkit.bundle.verify import read_manifest

    (folder / SIGNATURE).write_bytes(sign_manifest(read_manifest(folder), signer(release_sandbox, "qa")).to_json())
    message = _refused(sandbox_tasks, release_sandbox, config, version)
    assert "is signed by qa-signer (" in message and "a key qa (for bundles) does not trust (it trusts " \
        "release-signer)" in message


def test_a_rotated_key_is_refused_until_trusted_then_both_keys_are_accepted(
        sandbox_tasks, release_sandbox, own_store, tmp_path, monkeypatch, capsys):
    """The build pipeline's key gets a new version in Key Vault (a rotation). A bundle re-signed with it is
    refused until the job's trusted keys list that version; then it is accepted, and so is a bundle still
    signed by the old version."""
    from azure.keyvault.keys import KeyClient

    from sandbox.connection import SandboxConnection
    from tasks.repository import ENVIRONMENTS
    from toolkit.signing.trusted_keys import load_trusted_keys, public_key_pem, render, TrustedKey

    store, config, version = own_store
    # A key of this test's own, so that the sandbox's release key stays as the other tests expect it.
    connection = SandboxConnection.from_home(release_sandbox)
    keys = KeyClient(connection.ensure_vault("kv-parking-releases"), connection.credential(),
                     verify_challenge_resource=False, connection_verify=connection.trust_bundle)
    old = keys.create_rsa_key("rotation-test-signer", size=2048, key_operations=["sign", "verify"])
    signing = tmp_path / "signing.toml"
    signing.write_text((ENVIRONMENTS / "signing.toml").read_text().replace(
        'bundles = "release-signer"', 'bundles = "rotation-test-signer"'))
    sandbox_keys = load_trusted_keys(release_sandbox / "trusted-keys.toml")
    trusted = list(sandbox_keys.keys)

    def trust(*versions):
        path = tmp_path / "trusted-keys.toml"
        listed = [TrustedKey(name="release-signer", key_id=k.id, public_key=public_key_pem(k.key)) for k in versions]
        path.write_text(render(trusted + listed, sandbox_keys.trust))
        monkeypatch.setenv("PARKING_TRUSTED_KEYS", str(path))

    def resign():
        return publish(tmp_path / "bundle", store, signer(release_sandbox, "bundles", signing), show_progress=False,
                       resign=True)

    from toolkit.artifacts.fetch import fetch
    from tests.integration.release_helpers import bundle_trust

    fetch(store, version, tmp_path / "bundle", bundle_trust(release_sandbox), show_progress=False)
    (tmp_path / "bundle" / SIGNATURE).unlink()  # the bundle as built
    trust(old)
    assert resign().signed_by == old.id
    old_copy = tmp_path / "old-store"
    shutil.copytree(store.root, old_copy)
    new = keys.create_rsa_key("rotation-test-signer", size=2048, key_operations=["sign", "verify"])  # rotated
    assert resign().signed_by == new.id != old.id
    message = _refused(sandbox_tasks, release_sandbox, config, version)
    assert f"is signed by an unknown key {new.id}: it is not among the" in message
    trust(old, new)
    _deploy_qa(sandbox_tasks, config, version, dry_run=True)  # accepted: the plan runs
    old_config = tmp_path / "old-store.toml"
    old_config.write_text(f'kind = "local"\npath = "{old_copy}"\n')
    artifact_tasks.verify(sandbox_tasks, version, store_config=str(old_config), env="qa")  # the old key still is
    # With one public key file instead of the trusted keys (offline, as an auditor would).
    pem = {k.id: tmp_path / f"{n}.pem" for n, k in (("old", old), ("new", new))}
    for k in (old, new):
        pem[k.id].write_text(public_key_pem(k.key))
    capsys.readouterr()
    artifact_tasks.verify(sandbox_tasks, version, store_config=str(config), key=str(pem[new.id]), json_=True)
    checked = json.loads(capsys.readouterr().out)
    assert (checked["key_id"], checked["signed_by"], checked["algorithm"]) == (new.id, "new", "RS256")
    assert checked["files"] > 0 and "evidence" not in checked
    with pytest.raises(Exit, match=r"verify failed: .*manifest.json has a bad signature: it does not verify with old"):
        artifact_tasks.verify(sandbox_tasks, version, store_config=str(config), key=str(pem[old.id]))
    trust(new)  # the rotation ends: the old key is no longer trusted
    with pytest.raises(Exit, match=f"verify failed: .*is signed by an unknown key {old.id}"):
        artifact_tasks.verify(sandbox_tasks, version, store_config=str(old_config), env="qa")


def test_sandbox_up_makes_the_signing_keys_once_and_lists_their_public_keys(release_sandbox):
    from sandbox.lifecycle import status
    from sandbox.seed import seed_signing_keys
    from tasks.repository import REPO_ROOT
    from toolkit.signing.trusted_keys import load_trusted_keys

    listed = (release_sandbox / "trusted-keys.toml").read_text()
    assert seed_signing_keys(release_sandbox, REPO_ROOT) == 0  # a second up creates nothing
    assert (release_sandbox / "trusted-keys.toml").read_text() == listed
    vault = status(release_sandbox)["keyvaults"]["kv-parking-releases"]
    found = load_trusted_keys(release_sandbox / "trusted-keys.toml")
    keys = {k.name: k.key_id for k in found.keys}
    assert {"release-signer", "qa-signer", "staging-signer"} <= set(keys)
    # Which keys each environment accepts is the job's too: the sandbox's file says it for every environment.
    assert found.bundle_trust("qa").accepted == ("release-signer",)
    assert found.evidence_trust("prod", "staging").accepted == ("staging-signer",)
    assert all(keys[name].startswith(f"{vault}/keys/{name}/") for name in ("release-signer", "qa-signer"))
