"""azure-keyvault-keys, unmodified (endpoint, credential, CA and the challenge-resource check aside), against the
sandbox's Key Vault keys API: create, get, versions, sign and verify, and Key Vault's refusals."""
import hashlib
import uuid

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.keys import KeyClient, KeyCurveName
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils


@pytest.fixture(scope="module")
def vault_url(sandbox):
    return sandbox.ensure_vault("kv-keys-contract")


@pytest.fixture(scope="module")
def options(sandbox):
    # The challenge names resource https://vault.azure.net, which a loopback address cannot end with.
    return {"verify_challenge_resource": False, "connection_verify": str(sandbox.tls.trust_bundle)}


@pytest.fixture(scope="module")
def keys(vault_url, credential, options):
    return KeyClient(vault_url, credential, **options)


def _name():
    return f"k-{uuid.uuid4().hex[:12]}"


def _crypto(key, credential, options):
    return CryptographyClient(key.id, credential, **options)


DIGEST = hashlib.sha256(b"manifest.json bytes").digest()


def test_an_rsa_key_signs_a_digest_the_public_key_verifies_and_its_versions_are_listed(keys, credential, options):
    name = _name()
    first = keys.create_rsa_key(name, size=2048)
    second = keys.create_rsa_key(name, size=3072)  # a rotation: a new version under the same name
    assert first.key_type == "RSA" and len(first.key.n) == 256 and first.key.e == b"\x01\x00\x01"
    assert first.id.endswith(f"/keys/{name}/{first.properties.version}") and len(first.properties.version) == 32
    assert keys.get_key(name).properties.version == second.properties.version  # latest
    assert keys.get_key(name, first.properties.version).key.n == first.key.n
    assert {p.version for p in keys.list_properties_of_key_versions(name)} == {
        first.properties.version, second.properties.version}
    signed = _crypto(first, credential, options).sign(SignatureAlgorithm.rs256, DIGEST)
    assert signed.key_id == first.id
    _rsa_public(first).verify(signed.signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    crypto = _crypto(first, credential, options)
    assert crypto.verify(SignatureAlgorithm.rs256, DIGEST, signed.signature).is_valid
    assert not crypto.verify(SignatureAlgorithm.rs256, hashlib.sha256(b"other").digest(), signed.signature).is_valid


def _rsa_public(key):
    """The public key from the JWK Key Vault returned: what a verifier outside the vault holds."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    return RSAPublicNumbers(int.from_bytes(key.key.e, "big"), int.from_bytes(key.key.n, "big")).public_key()


def test_an_ec_key_signs_raw_r_and_s_that_verify_once_der_encoded(keys, credential, options):
    key = keys.create_ec_key(_name(), curve=KeyCurveName.p_256)
    assert key.key.crv == "P-256" and key.key.key_ops == ["sign", "verify"]
    signed = _crypto(key, credential, options).sign(SignatureAlgorithm.es256, DIGEST)
    assert len(signed.signature) == 64  # RFC 7518 r||s, as Key Vault returns it, not DER
    public = ec.EllipticCurvePublicNumbers(int.from_bytes(key.key.x, "big"), int.from_bytes(key.key.y, "big"),
                                           ec.SECP256R1()).public_key()
    der = utils.encode_dss_signature(int.from_bytes(signed.signature[:32], "big"),
                                     int.from_bytes(signed.signature[32:], "big"))
    public.verify(der, DIGEST, ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def _raw(vault_url, credential, options, method, path, body=None):
    """A call as Key Vault's REST API takes it, for what the SDK checks on the client before sending."""
    token = credential.get_token("https://vault.azure.net/.default").token
    return requests.request(method, f"{vault_url}{path}?api-version=7.4", json=body,
                            verify=options["connection_verify"], headers={"Authorization": f"Bearer {token}"})


def _b64(data):
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_refusals_use_key_vaults_codes(keys, vault_url, credential, options):
    rsa_key = keys.create_rsa_key(_name())
    ec_key = keys.create_ec_key(_name(), curve=KeyCurveName.p_256_k)
    missing = _name()
    with pytest.raises(ResourceNotFoundError) as not_found:
        keys.get_key(missing)
    assert not_found.value.error.code == "KeyNotFound" and f"A key with (name/id) {missing} was not found" in \
        not_found.value.message
    assert list(keys.list_properties_of_key_versions(missing)) == []  # 200 and no versions, not 404
    with pytest.raises(HttpResponseError) as bad_name:
        keys.create_rsa_key("not_valid")
    assert bad_name.value.status_code == 400 and bad_name.value.error.code == "BadParameter"
    assert "The request URI contains an invalid name: not_valid" in bad_name.value.message
    # What the SDK would refuse itself, sent as raw REST calls: Key Vault refuses them the same way.
    short = _raw(vault_url, credential, options, "POST", f"/keys/{rsa_key.name}/{rsa_key.properties.version}/sign",
                 {"alg": "RS256", "value": _b64(b"x" * 10)})
    assert short.status_code == 400 and short.json()["error"] == {
        "code": "BadParameter", "message": "Invalid length of 'value': 10 bytes. RS256 requires 32 bytes, encoded "
                                           "with base64url."}
    wrong_type = _raw(vault_url, credential, options, "POST", f"/keys/{rsa_key.name}/{rsa_key.properties.version}/sign",
                      {"alg": "ES256", "value": _b64(DIGEST)})
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["code"] == "BadParameter"
    assert "Key and signing algorithm are incompatible" in wrong_type.json()["error"]["message"]
    wrong_curve = _raw(vault_url, credential, options, "POST", f"/keys/{ec_key.name}/{ec_key.properties.version}/sign",
                       {"alg": "ES256", "value": _b64(DIGEST)})
    assert wrong_curve.status_code == 400 and wrong_curve.json()["error"]["message"] == (
        f"Key and signing algorithm are incompatible. Key {ec_key.id} uses curve 'SECP256K1', and algorithm "
        "'ES256' can only be used with curve 'P-256'.")
    verify_only = keys.create_rsa_key(_name(), key_operations=["verify"])
    refused = _raw(vault_url, credential, options, "POST",
                   f"/keys/{verify_only.name}/{verify_only.properties.version}/sign",
                   {"alg": "RS256", "value": _b64(DIGEST)})
    assert refused.status_code == 403 and refused.json()["error"] == {
        "code": "Forbidden", "message": "Operation sign is not permitted on this key.",
        "innererror": {"code": "KeyOperationForbidden"}}
    unsigned = _raw(vault_url, credential, options, "POST", f"/keys/{rsa_key.name}/{rsa_key.properties.version}/verify",
                    {"alg": "RS256", "digest": _b64(DIGEST), "value": _b64(b"\x00" * 256)})
    assert unsigned.status_code == 200 and unsigned.json() == {"value": False}
    anonymous = requests.post(f"{vault_url}/keys/{rsa_key.name}/{rsa_key.properties.version}/sign?api-version=7.4",
                              verify=options["connection_verify"])
    assert anonymous.status_code == 401 and "resource=\"https://vault.azure.net\"" in \
        anonymous.headers["WWW-Authenticate"]


def test_the_verify_endpoint_accepts_the_signatures_the_sign_endpoint_makes(keys, vault_url, credential, options):
    """azure-keyvault-keys verifies on the client when it has the public key: the service's own verify, as a REST
    call, for an RSA key and for an EC key's raw r||s."""
    for key, alg in ((keys.create_rsa_key(_name()), "PS256"), (keys.create_ec_key(_name()), "ES256")):
        path = f"/keys/{key.name}/{key.properties.version}"
        signed = _raw(vault_url, credential, options, "POST", f"{path}/sign", {"alg": alg, "value": _b64(DIGEST)})
        assert signed.status_code == 200 and signed.json()["kid"] == key.id
        check = {"alg": alg, "digest": _b64(DIGEST), "value": signed.json()["value"]}
        assert _raw(vault_url, credential, options, "POST", f"{path}/verify", check).json() == {"value": True}
        other = {**check, "digest": _b64(hashlib.sha256(b"another manifest").digest())}
        assert _raw(vault_url, credential, options, "POST", f"{path}/verify", other).json() == {"value": False}
