"""azure-mgmt-resource deployments, unmodified (endpoint, credential and CA aside), against the sandbox's
ARM: the project's own template validated, previewed with what-if, deployed through the long-running
operation, and its outputs used; invalid templates refused with the reason."""
import json

import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.datafactory import DataFactoryManagementClient
from azure.mgmt.resource import ResourceManagementClient

from tests.template_parameters import template_parameters
from tasks.repository import REPO_ROOT

SUBSCRIPTION = "00000000-0000-0000-0000-0000000a0001"
GROUP = "rg-parking-qa"


@pytest.fixture(scope="module")
def arm(sandbox, credential):
    client = ResourceManagementClient(credential, SUBSCRIPTION, base_url=sandbox.arm_url,
                                      connection_verify=str(sandbox.tls.trust_bundle), polling_interval=0.2)
    client.resource_groups.create_or_update(GROUP, {"location": "australiaeast"})
    return client


def _deployment(parameters=None, template=None):
    template = template or json.loads((REPO_ROOT / "arm" / "azuredeploy.json").read_text())
    if parameters is None:
        parameters = template_parameters("qa", SUBSCRIPTION, GROUP, "b42")
    return {"properties": {"mode": "Incremental", "template": template, "parameters": parameters}}


def test_validate_what_if_deploy_and_outputs(arm, sandbox, credential):
    validated = arm.deployments.begin_validate(GROUP, "infra-1", _deployment()).result()
    assert len(validated.properties.validated_resources) == 8  # with the access connector and its role assignment
    preview = arm.deployments.begin_what_if(GROUP, "infra-1", _deployment()).result()
    assert {c.change_type for c in preview.changes} == {"Create"} and len(preview.changes) == 8

    deployed = arm.deployments.begin_create_or_update(GROUP, "infra-1", _deployment()).result()
    assert deployed.properties.provisioning_state == "Succeeded"
    outputs = {k: v["value"] for k, v in deployed.properties.outputs.items()}
    names = template_parameters("qa", SUBSCRIPTION, GROUP, "b42")
    assert outputs["dataFactoryName"] == names["dataFactoryName"]["value"]
    assert outputs["keyVaultUri"].startswith("https://127.0.0.1:")
    assert outputs["databricksWorkspaceUrl"].startswith("https://127.0.0.1:")
    assert outputs["storageAccountName"].startswith("stqab42")

    # The resources it declared exist and work.
    vault = SecretClient(outputs["keyVaultUri"], credential, verify_challenge_resource=False,
                         connection_verify=str(sandbox.tls.trust_bundle))
    vault.set_secret("probe", "value")
    adf = DataFactoryManagementClient(credential, SUBSCRIPTION, base_url=sandbox.arm_url,
                                      connection_verify=str(sandbox.tls.trust_bundle))
    assert adf.factories.get(GROUP, outputs["dataFactoryName"]).identity.principal_id

    # An ARM PUT replaces the vault's access policies: the template alone would drop the one its accessPolicies/add
    # child gave Data Factory, so what-if shows a change; with the live policies declared there is none.
    again = arm.deployments.begin_what_if(GROUP, "infra-2", _deployment()).result()
    assert {c.resource_id.split("/providers/")[1] for c in again.changes if c.change_type == "Modify"} == {
        f"Microsoft.KeyVault/vaults/{outputs['keyVaultName']}"}
    vault = arm.resources.get_by_id(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/"
                                    f"Microsoft.KeyVault/vaults/{outputs['keyVaultName']}", "2023-07-01")
    kept = _deployment()
    kept["properties"]["parameters"]["keyVaultAccessPolicies"] = {"value": [
        p for p in vault.properties["accessPolicies"] if p["objectId"] != "00000000-0000-0000-0000-000000000000"]}
    again = arm.deployments.begin_what_if(GROUP, "infra-2", kept).result()
    assert {c.change_type for c in again.changes} == {"NoChange"}
    assert arm.deployments.get(GROUP, "infra-1").properties.outputs["dataFactoryName"]["value"] == \
        outputs["dataFactoryName"]


def test_a_changed_parameter_shows_as_modify(arm):
    arm.deployments.begin_create_or_update(GROUP, "infra-3", _deployment()).result()
    changed = _deployment()
    changed["properties"]["parameters"]["databricksSku"] = {"value": "standard"}
    preview = arm.deployments.begin_what_if(GROUP, "infra-4", changed).result()
    modified = [c.resource_id for c in preview.changes if c.change_type == "Modify"]
    assert [m for m in modified if "Microsoft.KeyVault/vaults" not in m] == [
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Databricks/workspaces/"
        "dbw-parking-qab42"]


def test_an_unsupported_function_is_refused_naming_it_and_where(arm):
    template = json.loads((REPO_ROOT / "arm" / "azuredeploy.json").read_text())
    template["variables"]["tags"] = "[base64(resourceGroup().id)]"
    with pytest.raises(HttpResponseError) as refused:
        arm.deployments.begin_validate(GROUP, "bad", _deployment(template=template)).result()
    assert "InvalidTemplate" in str(refused.value)
    assert "$.variables.tags: the sandbox does not support the template function base64()" in str(refused.value)


def test_a_missing_required_parameter_fails_the_deployment_with_the_reason(arm):
    parameters = {"environment": {"value": "qa"}}
    poller = arm.deployments.begin_create_or_update(GROUP, "missing", _deployment(parameters=parameters))
    with pytest.raises(HttpResponseError) as failed:
        poller.result()
    assert "required parameter 'storageAccountName'" in str(failed.value)
    assert arm.deployments.get(GROUP, "missing").properties.provisioning_state == "Failed"
