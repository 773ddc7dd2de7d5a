"""The release against what the strict sandbox now refuses, as Azure does: the QA environment of a 12-character
deployment id torn down and deployed again under the same names (its soft-deleted vault purged, even after a
teardown killed half way), and a name another resource group holds refused at plan time, before any write."""
import pytest

from tests.integration.release_helpers import deployment, requests_made, reset_requests
from toolkit.azure import arm, names
from toolkit.azure.rest import ArmRest
from toolkit.environments.model import load_environment
from toolkit.environments.target import sandbox_target
from tasks.repository import ENVIRONMENTS
from toolkit.release.plan import StageReport, StepFailed, run_steps
from toolkit.release.stages import qa_down
from toolkit.release.steps.infrastructure import Infrastructure

LONGEST_ID = "a1b2c3d4e5f6"  # 12 characters: the longest deployment id an environment file accepts


def _qa(home, published, deployment_id):
    return deployment(home, published, load_environment(ENVIRONMENTS, "qa", "sandbox"), deployment_id, {})


def _infrastructure(home, published, deployment_id, lines):
    d = _qa(home, published, deployment_id)
    report = StageReport("deploy-qa", "qa", "sandbox", published[0].version, False)
    run_steps(report, [Infrastructure()], d, False, lines.append)
    return report, d


def test_a_torn_down_qa_environment_is_deployed_again_under_the_same_id(release_sandbox, published_bundle):
    home = release_sandbox
    target = sandbox_target(home)
    client, rest = arm.resource_client(target), ArmRest(target)
    group = f"rg-parking-qa-{LONGEST_ID}"
    lines = []
    first, d = _infrastructure(home, published_bundle, LONGEST_ID, lines)
    assert first.outcome == "succeeded", first.error
    vault = d.outputs["keyVaultName"]
    assert len(d.outputs["storageAccountName"]) <= 24 and len(vault) <= 24

    # What a deployment dropped is put back after it: global parameters and access policies, read back first.
    from toolkit.azure.datafactory import Factory
    from toolkit.release.steps.infrastructure import live_state, restore_live_state

    factory = Factory(d.rest, group, d.outputs["dataFactoryName"])
    parameters = {**d.resource_names, "keyVaultAdminObjectId": "00000000-0000-0000-0000-000000000000"}
    kept = live_state(d, parameters)
    assert [p["permissions"]["secrets"] for p in kept["keyVaultAccessPolicies"]] == [["get", "list"]]  # ADF's
    wanted = {**parameters, **kept, "factoryGlobalParameters": {"notebookRoot": {"type": "String", "value": "/x"}}}
    vault_path = f"{d.rest.group_path(group)}/providers/Microsoft.KeyVault/vaults/{vault}"
    d.rest.call("PUT", f"{vault_path}/accessPolicies/remove", "2023-07-01",
                {"properties": {"accessPolicies": kept["keyVaultAccessPolicies"]}})
    assert live_state(d, parameters)["keyVaultAccessPolicies"] == []
    assert restore_live_state(d, wanted) == [f"global parameters of factory {factory.name}",
                                             f"1 access policies of vault {vault}"]
    assert live_state(d, parameters) == {"factoryGlobalParameters": wanted["factoryGlobalParameters"],
                                         "keyVaultAccessPolicies": kept["keyVaultAccessPolicies"]}
    assert restore_live_state(d, wanted) == []  # nothing lost: nothing written

    # A teardown killed after the resource group went, before its vault was purged: the name stays taken.
    arm.delete_group(client, group, lines.append)
    assert [v["name"] for v in names.deleted_vaults_of_group(rest, group)] == [vault]
    plan = Infrastructure().plan(_qa(home, published_bundle, LONGEST_ID))
    assert [(c.action, c.target) for c in plan.changes][0] == ("purge", f"soft-deleted vault {vault}")
    again, d_again = _infrastructure(home, published_bundle, LONGEST_ID, lines)
    assert again.outcome == "succeeded", again.error
    assert d_again.outputs == d.outputs  # the same names, deployed again

    # The teardown itself: the group, then its soft-deleted vault; nothing blocks the same id afterwards.
    assert qa_down(load_environment(ENVIRONMENTS, "qa", "sandbox"), target, LONGEST_ID, False, lines.append)
    assert lines[-1] == f"purging soft-deleted vault {vault} (australiaeast)"
    assert names.deleted_vaults_of_group(rest, group) == []
    third, _ = _infrastructure(home, published_bundle, LONGEST_ID, lines)
    assert third.outcome == "succeeded", third.error
    assert qa_down(load_environment(ENVIRONMENTS, "qa", "sandbox"), target, LONGEST_ID, False, lines.append)


def test_a_name_held_by_another_resource_group_is_refused_at_plan_time(release_sandbox, published_bundle):
    home = release_sandbox
    target = sandbox_target(home)
    taken = _qa(home, published_bundle, "taken1").resource_names["storageAccountName"]
    client = arm.resource_client(target)
    client.resource_groups.create_or_update("rg-someone-else", {"location": "australiaeast"})
    squatter = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [{
                    "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": taken,
                    "location": "australiaeast", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
                    "properties": {}}]}
    arm.deploy(client, "rg-someone-else", squatter, {}, "squatter", print)

    reset_requests(home)
    with pytest.raises(StepFailed) as refused:
        Infrastructure().plan(_qa(home, published_bundle, "taken1"))
    assert str(refused.value) == (f"Microsoft.Storage/storageAccounts name {taken} cannot be had: AlreadyExists: "
                                  f"The storage account named {taken} is already taken.")
    assert requests_made(home)["writes"] == 0
    assert not arm.group_exists(client, "rg-parking-qa-taken1")
