"""Signatures and who is trusted, without a vault: the signature file, RS256/PS256/ES256 verification, the
trusted keys file and the signing configuration (each error naming the file and the key)."""
import base64
import hashlib
import uuid
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from tests.signing_helpers import LocalSigner, known, trusting
from toolkit.configuration import ConfigError
from toolkit.signing.signatures import Signature, SignatureRefused, verify
from toolkit.signing.signers import load_signing_config
from toolkit.signing.trusted_keys import (EnvironmentTrust, TrustedKey, load_trusted_keys, render, same_key_id,
                                          trusted_keys_file)

DOCUMENT = b'{"version": "1.0.0"}\n'


def test_a_signature_verifies_only_over_the_same_bytes_with_the_same_key():
    signer = LocalSigner()
    signature = signer.sign(DOCUMENT, "manifest.json of 1.0.0").to_json()
    assert verify(DOCUMENT, signature, trusting(signer), "manifest.json").name == "release-signer"
    with pytest.raises(SignatureRefused, match=r"manifest.json has a bad signature: it does not verify with "
                                               r"release-signer .*: the document's sha256 is"):
        verify(DOCUMENT + b" ", signature, trusting(signer), "manifest.json")
    forged = Signature.from_json(signature, "x")
    swapped = Signature(forged.algorithm, forged.key_id, forged.sha256,
                        base64.b64encode(bytes(reversed(forged.raw()))).decode(), forged.signed)
    with pytest.raises(SignatureRefused, match=r"has a bad signature: it does not verify with release-signer "
                                               r"\(https://[^)]*\) \(changed after it was signed\)"):
        verify(DOCUMENT, swapped.to_json(), trusting(signer), "manifest.json")


def test_the_signature_file_is_one_field_per_line_and_malformed_ones_are_refused():
    lines = LocalSigner().sign(DOCUMENT, "d").to_json().decode().splitlines()
    assert lines[0] == "{" and any(line.startswith('  "signature": "') and line.endswith('",') for line in lines)
    with pytest.raises(SignatureRefused, match=r"manifest.json.sig: not a valid signature file"):
        verify(DOCUMENT, b"{not json", trusting(LocalSigner()), "manifest.json")
    bad = LocalSigner().sign(DOCUMENT, "d")
    with pytest.raises(SignatureRefused, match=r"algorithm 'HS256' is not accepted"):
        verify(DOCUMENT, Signature("HS256", *list(bad.__dict__.values())[1:]).to_json(), trusting(LocalSigner()),
               "manifest.json")


def test_es256_and_ps256_signatures_as_key_vault_makes_them_verify():
    private = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(DOCUMENT).digest()
    r, s = utils.decode_dss_signature(private.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))))
    key_id = f"https://kv-test.vault.azure.net/keys/ec-signer/{uuid.uuid4().hex}"
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    ec_key = TrustedKey(name="ec-signer", key_id=key_id, public_key=pem)
    trust = SimpleNamespace(keys=(ec_key,), accepted=("ec-signer",), purpose="the test", keys_source="t")
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS: r||s
    signature = Signature("ES256", key_id, hashlib.sha256(DOCUMENT).hexdigest(), base64.b64encode(raw).decode(), "d")
    assert verify(DOCUMENT, signature.to_json(), trust, "d").name == "ec-signer"
    rsa_signer = LocalSigner()
    pss = rsa_signer.private.sign(digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                                  utils.Prehashed(hashes.SHA256()))
    signature = Signature("PS256", rsa_signer.key_id, hashlib.sha256(DOCUMENT).hexdigest(),
                          base64.b64encode(pss).decode(), "d")
    assert verify(DOCUMENT, signature.to_json(), trusting(rsa_signer), "d").name == "release-signer"
    wrong = Signature("RS256", *list(signature.__dict__.values())[1:])  # PSS bytes claimed as PKCS#1 v1.5
    with pytest.raises(SignatureRefused, match="bad signature"):
        verify(DOCUMENT, wrong.to_json(), trusting(rsa_signer), "d")


def test_the_trusted_keys_file_round_trips_and_its_errors_name_the_file_and_key(tmp_path):
    first, second = LocalSigner(), LocalSigner("qa-signer")
    path = tmp_path / "trusted-keys.toml"
    policy = {"prod": EnvironmentTrust(bundles=["release-signer"], evidence={"qa": ["qa-signer"]}),
              "qa": EnvironmentTrust(bundles=["release-signer"])}
    path.write_text(render([first.trusted_key(), second.trusted_key()], policy))
    found = load_trusted_keys(path)
    assert [k.key_id for k in found.keys] == [first.key_id, second.key_id] and found.trust == policy
    assert found.bundle_trust("qa").accepted == ("release-signer",)
    assert found.evidence_trust("prod", "qa").accepted == ("qa-signer",)
    with pytest.raises(ConfigError, match=r"trusted-keys.toml: \[trust.prod\] names no key that signs staging's "
                                          r"promotion evidence"):
        found.evidence_trust("prod", "staging")
    with pytest.raises(ConfigError, match=r"trusted-keys.toml: has no \[trust.staging\] table"):
        found.bundle_trust("staging")
    path.write_text(render([first.trusted_key()], {"qa": EnvironmentTrust(bundles=["relase-signer"])}))
    with pytest.raises(ConfigError, match="trust.qa.bundles names relase-signer, which no \\[\\[key\\]\\] is called"):
        load_trusted_keys(path)
    path.write_text(render([first.trusted_key(), first.trusted_key("again")], {}))
    with pytest.raises(ConfigError, match=f"trusted-keys.toml: key id {first.key_id} is listed twice"):
        load_trusted_keys(path)
    path.write_text('[[key]]\nname = "x"\nkey_id = "https://kv/keys/x/1"\npublic_key = "nope"\n')
    with pytest.raises(ConfigError) as raised:
        load_trusted_keys(path)
    assert "key.0.key_id" in str(raised.value) and "key.0.public_key" in str(raised.value)
    with pytest.raises(ConfigError, match=r"missing.toml: trusted keys file \(\$PARKING_TRUSTED_KEYS"):
        load_trusted_keys(tmp_path / "missing.toml")
    assert same_key_id("https://KV.vault.azure.net/keys/a/0f", "https://kv.vault.azure.net/keys/a/0f/")
    assert not same_key_id("https://kv.vault.azure.net/keys/a/0f", "https://kv.vault.azure.net/keys/A/0f")


def test_trusted_keys_come_from_the_job_and_azure_needs_them_named(tmp_path, monkeypatch):
    monkeypatch.delenv("PARKING_TRUSTED_KEYS", raising=False)
    assert trusted_keys_file("sandbox", tmp_path) == tmp_path / "trusted-keys.toml"
    with pytest.raises(ConfigError, match="PARKING_TRUSTED_KEYS is not set: on the azure target it must name"):
        trusted_keys_file("azure", None)
    monkeypatch.setenv("PARKING_TRUSTED_KEYS", str(tmp_path / "job.toml"))
    assert trusted_keys_file("azure", None) == trusted_keys_file("sandbox", tmp_path) == tmp_path / "job.toml"


def test_a_key_known_but_trusted_for_something_else_is_named():
    bundles, qa = LocalSigner(), LocalSigner("qa-signer")
    signature = qa.sign(DOCUMENT, "d").to_json()
    with pytest.raises(SignatureRefused, match=r"is signed by qa-signer \(.*\), a key bundles does not trust \(it "
                                               r"trusts release-signer\)"):
        verify(DOCUMENT, signature, known(bundles, qa).accepting(["release-signer"], "bundles"), "d")


def test_the_signing_configuration_is_validated(tmp_path):
    path = tmp_path / "signing.toml"
    path.write_text('vault = "kv-parking-releases"\n[keys]\nbundles = "release signer"\n')
    with pytest.raises(ConfigError, match=r"signing.toml: keys.bundles: String should match pattern"):
        load_signing_config(path)
    path.write_text('vault = "kv-parking-releases"\nalgorithm = "HS256"\n[keys]\nbundles = "release-signer"\n')
    with pytest.raises(ConfigError, match=r"signing.toml: algorithm: "):
        load_signing_config(path)
    path.write_text('vault = "kv-parking-releases"\n[keys]\nbundles = "release-signer"\n')
    with pytest.raises(ConfigError, match=r"signing.toml: keys.qa: no key signs qa"):
        load_signing_config(path).key_for("qa")


def test_the_signing_vault_may_not_be_the_environments_own(tmp_path):
    from toolkit.environments.model import load_environment
    from tasks.repository import ENVIRONMENTS
    from toolkit.release.deployment import Deployment, Options
    from toolkit.release.stages import evidence_signer

    qa = load_environment(ENVIRONMENTS, "qa", "sandbox")
    target = SimpleNamespace(subscription_id="5a4db0c5-0000-4000-8000-00000000cafe", name="sandbox")
    d = Deployment(qa, target, tmp_path, None, Options(deployment_id="x1"))
    (tmp_path / "signing.toml").write_text(f'vault = "{d.resource_names["keyVaultName"]}"\n[keys]\nqa = "qa-signer"\n')
    with pytest.raises(ConfigError, match=r"is the qa environment's own vault, which its teardown deletes: signing "
                                          r"keys belong in a long-lived vault"):
        evidence_signer(tmp_path, d)


@pytest.mark.parametrize("change", [{"sha256": 1}, {"key_id": ["x"]}, {"key_id": "https://kv/keys/a"},
                                    {"sha256": "abc"}, {"signature": "!!"}])
def test_a_signature_file_with_wrong_fields_is_refused_naming_the_file(change):
    import json

    signer = LocalSigner()
    document = json.loads(signer.sign(DOCUMENT, "d").to_json()) | change
    with pytest.raises(SignatureRefused, match=r"^manifest.json.sig: not a valid signature file"):
        verify(DOCUMENT, json.dumps(document).encode(), trusting(signer), "manifest.json")
    with pytest.raises(SignatureRefused, match="not a valid signature file"):
        verify(DOCUMENT, b"[1, 2]", trusting(signer), "manifest.json")
