"""azure-keyvault-secrets, unmodified (endpoint, credential, CA and the challenge-resource check aside),
against the sandbox's Key Vault: every call the release uses, and the error cases."""
import uuid

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from toolkit.environments.sandbox_client import SandboxCredential


@pytest.fixture(scope="module")
def vault_url(sandbox):
    return sandbox.ensure_vault("kv-contract")


@pytest.fixture(scope="module")
def client(sandbox, vault_url, credential):
    # The challenge names resource https://vault.azure.net, which a loopback address cannot end with.
    return SecretClient(vault_url, credential, verify_challenge_resource=False,
                        connection_verify=str(sandbox.tls.trust_bundle))


def _name():
    return f"s-{uuid.uuid4().hex[:12]}"


def test_set_get_and_versions(client):
    name = _name()
    first = client.set_secret(name, "one", content_type="text/plain", tags={"env": "qa"})
    second = client.set_secret(name, "two")
    assert first.properties.version != second.properties.version  # every PUT is a new version
    assert client.get_secret(name).value == "two"
    assert client.get_secret(name, first.properties.version).value == "one"
    assert client.get_secret(name, first.properties.version).properties.content_type == "text/plain"
    versions = {p.version for p in client.list_properties_of_secret_versions(name)}
    assert versions == {first.properties.version, second.properties.version}
    listed = [p for p in client.list_properties_of_secrets() if p.name == name]
    assert len(listed) == 1 and listed[0].version is None  # the list carries no value and no version


def test_update_properties(client):
    name = _name()
    client.set_secret(name, "v")
    updated = client.update_secret_properties(name, content_type="application/json", tags={"owner": "data"},
                                              enabled=False)
    assert (updated.content_type, updated.tags, updated.enabled) == ("application/json", {"owner": "data"}, False)


def test_missing_secret_is_404_with_key_vaults_message(client):
    with pytest.raises(ResourceNotFoundError) as raised:
        client.get_secret("never-set")
    assert raised.value.error.code == "SecretNotFound"
    assert "A secret with (name/id) never-set was not found in this key vault" in str(raised.value)


def test_soft_delete_conflict_recover_and_purge(client):
    name = _name()
    client.set_secret(name, "keep-me")
    deleted = client.begin_delete_secret(name).result()
    assert deleted.name == name and deleted.recovery_id.endswith(f"/deletedsecrets/{name}")
    assert deleted.scheduled_purge_date > deleted.deleted_date
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)
    assert name in {d.name for d in client.list_deleted_secrets()}
    with pytest.raises(HttpResponseError) as conflict:
        client.set_secret(name, "again")
    assert conflict.value.status_code == 409
    assert conflict.value.response.json()["error"]["innererror"]["code"] == "ObjectIsDeletedButRecoverable"
    client.begin_recover_deleted_secret(name).result()
    assert client.get_secret(name).value == "keep-me"
    client.begin_delete_secret(name).result()
    client.purge_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret(name)
    assert client.set_secret(name, "fresh").value == "fresh"


def test_a_request_without_a_token_gets_the_challenge(sandbox, vault_url):
    response = requests.get(f"{vault_url}/secrets?api-version=7.5", verify=str(sandbox.tls.trust_bundle))
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert f"login.microsoftonline.com/{sandbox.identity.tenant_id}" in challenge
    assert 'resource="https://vault.azure.net"' in challenge
    forged = requests.get(f"{vault_url}/secrets?api-version=7.5", headers={"Authorization": "Bearer sbx.e30.x"},
                          verify=str(sandbox.tls.trust_bundle))
    assert forged.status_code == 401


def test_a_wrong_client_secret_is_refused(sandbox, vault_url):
    identity = sandbox.identity
    wrong = SandboxCredential(f"{sandbox.url}/{identity.tenant_id}/oauth2/v2.0/token", identity.client_id,
                              "not-the-secret", verify=str(sandbox.tls.trust_bundle))
    client = SecretClient(vault_url, wrong, verify_challenge_resource=False,
                          connection_verify=str(sandbox.tls.trust_bundle))
    with pytest.raises(ClientAuthenticationError, match="Invalid client secret"):
        client.get_secret("x")


def test_missing_api_version_is_a_bad_parameter(sandbox, vault_url, credential):
    token = credential.get_token("https://vault.azure.net/.default").token
    response = requests.get(f"{vault_url}/secrets", headers={"Authorization": f"Bearer {token}"},
                            verify=str(sandbox.tls.trust_bundle))
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadParameter"


def test_throttling_is_retried_by_the_client(sandbox, client):
    requests.put(f"{sandbox.url}/admin/faults/keyvault", json={"rate_429": 0.2, "retry_after_s": 0, "seed": 7},
                 headers={"Authorization": f"Bearer {_admin_token(sandbox)}"},
                 verify=str(sandbox.tls.trust_bundle)).raise_for_status()
    try:
        name = _name()
        for i in range(6):
            client.set_secret(name, f"v{i}")
        assert client.get_secret(name).value == "v5"
        assert sandbox.faults_for("keyvault").injected > 0
    finally:
        requests.put(f"{sandbox.url}/admin/faults/keyvault", json={},
                     headers={"Authorization": f"Bearer {_admin_token(sandbox)}"},
                     verify=str(sandbox.tls.trust_bundle)).raise_for_status()


def test_state_survives_a_restart_at_the_same_address(tmp_path, credential):
    from sandbox.server import Sandbox

    first = Sandbox(tmp_path)
    url = first.ensure_vault("kv-restart")
    identity = first.identity
    cred = SandboxCredential(f"{first.url}/{identity.tenant_id}/oauth2/v2.0/token", identity.client_id,
                             identity.client_secret, verify=str(first.tls.trust_bundle))
    SecretClient(url, cred, verify_challenge_resource=False,
                 connection_verify=str(first.tls.trust_bundle)).set_secret("kept", "value")
    first.shutdown()
    second = Sandbox(tmp_path)
    try:
        assert second.vault_urls()["kv-restart"] == url
        cred = SandboxCredential(f"{second.url}/{identity.tenant_id}/oauth2/v2.0/token", identity.client_id,
                                 identity.client_secret, verify=str(second.tls.trust_bundle))
        client = SecretClient(url, cred, verify_challenge_resource=False,
                              connection_verify=str(second.tls.trust_bundle))
        assert client.get_secret("kept").value == "value"
    finally:
        second.shutdown()


def _admin_token(sandbox):
    return sandbox.authority.issue("https://sandbox/.default")[0]
