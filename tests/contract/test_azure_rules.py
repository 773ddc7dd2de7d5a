"""The sandbox refuses what Azure refuses and replaces what Azure replaces, shown with the official SDKs
(azure-mgmt-resource, -storage, -keyvault, -datafactory, databricks-sdk). Each test names the rule of
sandbox/RULES.md it shows."""
import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.datafactory import DataFactoryManagementClient
from azure.mgmt.datafactory.models import Factory, GlobalParameterSpecification, PipelineResource
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.resource import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidParameterValue
from databricks.sdk.service.workspace import AzureKeyVaultSecretScopeMetadata, ScopeBackendType

from sandbox.http import ApiError
from tests.conftest import requests_trusting
from tests.template_parameters import template_parameters
from tasks.repository import REPO_ROOT

SUBSCRIPTION = "00000000-0000-0000-0000-0000000b0001"
OTHER_SUBSCRIPTION = "00000000-0000-0000-0000-0000000b0002"
ADMIN = "00000000-0000-0000-0000-000000000000"


def _clients(sandbox, credential, subscription=SUBSCRIPTION):
    options = {"base_url": sandbox.arm_url, "connection_verify": str(sandbox.tls.trust_bundle),
               "polling_interval": 0.1}
    return (ResourceManagementClient(credential, subscription, **options),
            StorageManagementClient(credential, subscription, **options),
            KeyVaultManagementClient(credential, subscription, **options),
            DataFactoryManagementClient(credential, subscription, **options))


@pytest.fixture(scope="module")
def clients(sandbox, credential):
    return _clients(sandbox, credential)


def _template():
    import json

    return json.loads((REPO_ROOT / "arm" / "azuredeploy.json").read_text())


def _deploy(arm, group, parameters, name="infra", template=None):
    arm.resource_groups.create_or_update(group, {"location": "australiaeast"})
    body = {"properties": {"mode": "Incremental", "template": template or _template(), "parameters": parameters}}
    return arm.deployments.begin_create_or_update(group, name, body)


def _inner_codes(error: HttpResponseError) -> list[str]:
    return [d.code for d in (error.error.details or [])] if error.error else []


def test_storage_account_name_of_25_characters_is_refused(clients):
    """storage.account-name (and the template's own maxLength, checked first as ARM does)"""
    arm, storage, _, _ = clients
    group = "rg-rules-names"
    arm.resource_groups.create_or_update(group, {"location": "australiaeast"})

    def body(name, template=None):
        parameters = {**template_parameters("qa", SUBSCRIPTION, group, "n1"), "storageAccountName": {"value": name}}
        return {"properties": {"mode": "Incremental", "template": template or _template(), "parameters": parameters}}

    with pytest.raises(HttpResponseError) as too_long:
        arm.deployments.begin_validate(group, "too-long", body("st" + "a" * 23)).result()
    assert too_long.value.error.code == "InvalidTemplate" and "maxLength 24" in too_long.value.error.message
    with pytest.raises(HttpResponseError) as upper:  # 24 characters, but not lowercase: the provider refuses
        arm.deployments.begin_validate(group, "upper", body("ST" + "a" * 22)).result()
    assert upper.value.error.code == "InvalidTemplateDeployment" and _inner_codes(upper.value) == ["AccountNameInvalid"]

    unbounded = _template()  # a template with no maxLength: the provider still refuses 25 characters
    del unbounded["parameters"]["storageAccountName"]["maxLength"]
    poller = arm.deployments.begin_create_or_update(group, "too-long", body("st" + "a" * 23, unbounded))
    with pytest.raises(HttpResponseError):
        poller.result()
    error = arm.deployments.get(group, "too-long").properties.error
    assert error.code == "DeploymentFailed" and [d.code for d in error.details] == ["AccountNameInvalid"]

    for name, reason in (("st" + "a" * 23, "AccountNameInvalid"), ("StUpper1", "AccountNameInvalid"),
                         ("ok" + "a" * 22, None)):
        answer = storage.storage_accounts.check_name_availability(
            {"name": name, "type": "Microsoft.Storage/storageAccounts"})
        assert answer.name_available == (reason is None) and answer.reason == reason


@pytest.mark.parametrize("name, valid", [("kv-ok-1", True), ("1kv", False), ("kv--double", False),
                                         ("kv-ends-", False), ("k" * 25, False), ("kv", False)])
def test_vault_names_follow_their_rule(clients, name, valid):
    """keyvault.vault-name"""
    _, _, keyvault, _ = clients
    answer = keyvault.vaults.check_name_availability({"name": name, "type": "Microsoft.KeyVault/vaults"})
    assert answer.name_available is valid and (valid or answer.reason == "AccountNameInvalid")


def test_global_names_are_refused_in_a_second_resource_group_and_subscription(sandbox, credential, clients):
    """storage.global-name, keyvault.global-name, datafactory.global-name"""
    arm, storage, keyvault, adf = clients
    parameters = template_parameters("staging", SUBSCRIPTION, "rg-rules-first")
    assert _deploy(arm, "rg-rules-first", parameters).result().properties.provisioning_state == "Succeeded"
    account, vault = parameters["storageAccountName"]["value"], parameters["keyVaultName"]["value"]
    factory = parameters["dataFactoryName"]["value"]
    assert storage.storage_accounts.check_name_availability(
        {"name": account, "type": "Microsoft.Storage/storageAccounts"}).reason == "AlreadyExists"
    assert keyvault.vaults.check_name_availability(
        {"name": vault, "type": "Microsoft.KeyVault/vaults"}).reason == "AlreadyExists"

    # The same names in a second resource group of the same subscription: the first resource fails.
    with pytest.raises(HttpResponseError):
        _deploy(arm, "rg-rules-second", parameters).result()
    error = arm.deployments.get("rg-rules-second", "infra").properties.error
    assert [d.code for d in error.details] == ["StorageAccountInAnotherResourceGroup"]

    # A factory of the same name, in another resource group and in another subscription.
    with pytest.raises(HttpResponseError) as taken:
        adf.factories.create_or_update("rg-rules-second", factory, Factory(location="australiaeast"))
    assert taken.value.status_code == 409 and taken.value.error.code == "DataFactoryNameInUse"
    other_arm, _, _, other_adf = _clients(sandbox, credential, OTHER_SUBSCRIPTION)
    other_arm.resource_groups.create_or_update("rg-rules-other", {"location": "australiaeast"})
    with pytest.raises(HttpResponseError) as elsewhere:
        other_adf.factories.create_or_update("rg-rules-other", factory, Factory(location="australiaeast"))
    assert elsewhere.value.error.code == "DataFactoryNameInUse"

    # The vault's name in another subscription.
    only_vault = _template()
    only_vault["resources"] = [r for r in only_vault["resources"] if r["type"] == "Microsoft.KeyVault/vaults"]
    only_vault["outputs"] = {}
    with pytest.raises(HttpResponseError):
        _deploy(other_arm, "rg-rules-other", parameters, "vault-only", only_vault).result()
    error = other_arm.deployments.get("rg-rules-other", "vault-only").properties.error
    assert [d.code for d in error.details] == ["VaultAlreadyExists"]


def test_a_deleted_vault_keeps_its_name_until_purged_or_recovered(sandbox, credential, clients):
    """keyvault.soft-delete, keyvault.recover, keyvault.purge"""
    arm, _, keyvault, _ = clients
    group = "rg-rules-deleted"
    parameters = template_parameters("qa", SUBSCRIPTION, group, "del1")
    vault = parameters["keyVaultName"]["value"]
    outputs = _deploy(arm, group, parameters).result().properties.outputs
    secrets = SecretClient(outputs["keyVaultUri"]["value"], credential, verify_challenge_resource=False,
                           connection_verify=str(sandbox.tls.trust_bundle))
    secrets.set_secret("kept", "value-1")
    arm.resource_groups.begin_delete(group).result()

    deleted = [v for v in keyvault.vaults.list_deleted() if v.name == vault]
    assert len(deleted) == 1
    assert deleted[0].properties.vault_id.lower().endswith(f"/{group}/providers/microsoft.keyvault/vaults/{vault}")
    assert keyvault.vaults.get_deleted(vault, "australiaeast").properties.scheduled_purge_date
    assert not keyvault.vaults.check_name_availability({"name": vault, "type": "Microsoft.KeyVault/vaults"}
                                                       ).name_available
    with pytest.raises(HttpResponseError):  # created again in the same group, neither purged nor recovered
        _deploy(arm, group, parameters, "again").result()
    error = arm.deployments.get(group, "again").properties.error
    assert [(d.code, d.message.strip()) for d in error.details] == [
        ("ConflictError", "Exist soft deleted vault with the same name.")]

    recovering = _template()
    for resource in recovering["resources"]:
        if resource["type"] == "Microsoft.KeyVault/vaults":
            resource["properties"]["createMode"] = "recover"
    assert _deploy(arm, group, parameters, "recover", recovering).result().properties.provisioning_state == \
        "Succeeded"
    assert secrets.get_secret("kept").value == "value-1"  # recovered with its secrets

    arm.resource_groups.begin_delete(group).result()
    keyvault.vaults.begin_purge_deleted(vault, "australiaeast").result()
    assert keyvault.vaults.check_name_availability({"name": vault, "type": "Microsoft.KeyVault/vaults"}
                                                   ).name_available
    assert _deploy(arm, group, parameters, "fresh").result().properties.provisioning_state == "Succeeded"
    assert [s.name for s in secrets.list_properties_of_secrets()] == []  # a purged vault's secrets are gone


def test_a_factory_redeployed_through_arm_loses_its_global_parameters(clients):
    """datafactory.put-replaces"""
    arm, _, _, adf = clients
    group = "rg-rules-globals"
    parameters = template_parameters("qa", SUBSCRIPTION, group, "gp1")
    factory = parameters["dataFactoryName"]["value"]
    _deploy(arm, group, parameters).result()
    current = adf.factories.get(group, factory)
    current.global_parameters = {"notebookRoot": GlobalParameterSpecification(type="String", value="/slots/blue")}
    adf.factories.create_or_update(group, factory, current)
    assert adf.factories.get(group, factory).global_parameters["notebookRoot"].value == "/slots/blue"

    _deploy(arm, group, parameters, "redeploy").result()  # the template's factory: "globalParameters": {}
    assert not adf.factories.get(group, factory).global_parameters

    adf.factories.create_or_update(group, factory, current)
    kept = {**parameters, "factoryGlobalParameters": {"value": {"notebookRoot": {"type": "String",
                                                                                 "value": "/slots/blue"}}}}
    _deploy(arm, group, kept, "redeploy-kept").result()
    assert adf.factories.get(group, factory).global_parameters["notebookRoot"].value == "/slots/blue"


def test_data_factory_lists_come_in_pages(sandbox, credential, clients):
    """datafactory.paging"""
    arm, _, _, adf = clients
    group = "rg-rules-paging"
    arm.resource_groups.create_or_update(group, {"location": "australiaeast"})
    adf.factories.create_or_update(group, "adf-rules-paging-1", Factory(location="australiaeast"))
    names = [f"P_{i:02d}" for i in range(8)]
    for name in names:
        adf.pipelines.create_or_update(group, "adf-rules-paging-1", name, PipelineResource(activities=[]))
    assert sorted(p.name for p in adf.pipelines.list_by_factory(group, "adf-rules-paging-1")) == names
    import requests

    token = credential.get_token("https://management.azure.com/.default").token
    first = requests.get(f"{sandbox.arm_url}/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
                         "Microsoft.DataFactory/factories/adf-rules-paging-1/pipelines?api-version=2018-06-01",
                         headers={"Authorization": f"Bearer {token}"}, verify=str(sandbox.tls.trust_bundle)).json()
    assert len(first["value"]) < len(names) and "$skiptoken=" in first["nextLink"]


def test_a_key_vault_backed_scope_needs_an_entra_token_and_gives_azure_databricks_access(sandbox, credential,
                                                                                         clients):
    """databricks.kv-scope-entra-token, databricks.kv-scope-access-policy, keyvault.put-replaces"""
    arm, _, keyvault, _ = clients
    group = "rg-rules-scope"
    parameters = template_parameters("qa", SUBSCRIPTION, group, "sc1")
    outputs = {k: v["value"] for k, v in _deploy(arm, group, parameters).result().properties.outputs.items()}
    vault_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/" \
               f"{outputs['keyVaultName']}"
    metadata = AzureKeyVaultSecretScopeMetadata(resource_id=vault_id, dns_name=outputs["keyVaultUri"])
    with requests_trusting(sandbox.tls.trust_bundle):
        host = outputs["databricksWorkspaceUrl"]
        entra = WorkspaceClient(host=host, token=sandbox.authority.issue("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/"
                                                                         ".default")[0])
        pat = WorkspaceClient(host=host, token=entra.tokens.create(comment="rules", lifetime_seconds=600).token_value)
        with pytest.raises(InvalidParameterValue, match="Scope with Azure KeyVault must have userAADToken defined"):
            pat.secrets.create_scope("kv", scope_backend_type=ScopeBackendType.AZURE_KEYVAULT,
                                     backend_azure_keyvault=metadata)
        assert "kv" not in [s.name for s in entra.secrets.list_scopes()]
        entra.secrets.create_scope("kv", scope_backend_type=ScopeBackendType.AZURE_KEYVAULT,
                                   backend_azure_keyvault=metadata)

    databricks = sandbox.identity.azure_databricks_object_id
    policies = keyvault.vaults.get(group, outputs["keyVaultName"]).properties.access_policies
    assert {p.object_id: sorted(p.permissions.secrets) for p in policies}[databricks] == ["get", "list"]
    assert sandbox.vault_secrets(vault_id, databricks) == {}  # AzureDatabricks may read the vault

    # A redeploy of the template alone replaces the access policies: AzureDatabricks can no longer read.
    _deploy(arm, group, parameters, "redeploy").result()
    assert databricks not in {p.object_id for p in keyvault.vaults.get(group, outputs["keyVaultName"]).properties
                              .access_policies}
    with pytest.raises(ApiError) as denied:
        sandbox.vault_secrets(vault_id, databricks)
    assert denied.value.code == "PERMISSION_DENIED"

    # Vaults_UpdateAccessPolicy puts it back without a PUT of the whole vault (what the release restores with).
    from azure.mgmt.keyvault.models import (AccessPolicyEntry, Permissions, VaultAccessPolicyParameters,
                                            VaultAccessPolicyProperties)

    policy = AccessPolicyEntry(tenant_id=sandbox.authority.tenant_id, object_id=databricks,
                               permissions=Permissions(secrets=["get", "list"]))
    keyvault.vaults.update_access_policy(group, outputs["keyVaultName"], "add", VaultAccessPolicyParameters(
        properties=VaultAccessPolicyProperties(access_policies=[policy])))
    assert sandbox.vault_secrets(vault_id, databricks) == {}
