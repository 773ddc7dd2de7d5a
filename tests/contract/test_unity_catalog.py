"""Unity Catalog and the Azure RBAC it rests on, shown with the official SDKs (azure-mgmt-resource, databricks-sdk)
against the sandbox: the project's ARM template deploys the access connector and its role assignment (named with
guid()), and Unity Catalog refuses what Databricks refuses. Each test names its rule in sandbox/RULES.md."""
import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.resource import ResourceManagementClient
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidParameterValue, InvalidState, PermissionDenied
from databricks.sdk.service.catalog import AzureManagedIdentityRequest
from databricks.sdk.service.compute import DataSecurityMode

from sandbox.arm_template import guid
from tests.conftest import requests_trusting
from tests.template_parameters import template_parameters
from tasks.repository import REPO_ROOT

SUBSCRIPTION = "00000000-0000-0000-0000-0000000c0001"
GROUP = "rg-uc-contract"


@pytest.fixture(scope="module")
def arm(sandbox, credential):
    return ResourceManagementClient(credential, SUBSCRIPTION, base_url=sandbox.arm_url, polling_interval=0.1,
                                    connection_verify=str(sandbox.tls.trust_bundle))


def _deploy(arm, group: str, parameters: dict, name: str = "uc"):
    import json

    template = json.loads((REPO_ROOT / "arm" / "azuredeploy.json").read_text())
    arm.resource_groups.create_or_update(group, {"location": "australiaeast"})
    body = {"properties": {"mode": "Incremental", "template": template, "parameters": parameters}}
    return arm.deployments.begin_create_or_update(group, name, body).result()


@pytest.fixture(scope="module")
def deployed(arm, sandbox):
    sandbox.set_rbac(propagation_s=0.5)
    parameters = template_parameters("qa", SUBSCRIPTION, GROUP, "uc")
    parameters["keyVaultAdminObjectId"] = {"value": sandbox.identity.client_id}
    outputs = _deploy(arm, GROUP, parameters).properties.outputs
    return {k: v["value"] for k, v in outputs.items()}


@pytest.fixture(scope="module")
def w(sandbox, deployed):
    with requests_trusting(sandbox.tls.trust_bundle):
        host = sandbox.workspace_urls()[deployed["databricksWorkspaceName"]]
        yield WorkspaceClient(host=host, token=sandbox.authority.issue("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/"
                                                                       ".default")[0])


def _lake(deployed, path: str = "") -> str:
    return f"abfss://datalake@{deployed['storageAccountName']}.dfs.core.windows.net{path}"


def _credential(w, deployed, name: str):
    return w.storage_credentials.create(name, azure_managed_identity=AzureManagedIdentityRequest(
        access_connector_id=deployed["accessConnectorId"]))


def test_the_role_assignment_is_named_by_arms_guid_and_a_second_one_for_the_same_triple_is_refused(
        arm, deployed, sandbox):
    """rbac.guid, rbac.assignment-exists"""
    assert guid("test") == "d6a5baf1-8b9b-542a-8525-2982f1f98a0c"  # ARM's guid('test')
    assignments = [r for r in sandbox.arm_state.read()["resources"].values()
                   if r["type"] == "Microsoft.Authorization/roleAssignments" and GROUP.lower() in r["id"].lower()]
    assert len(assignments) == 1
    storage = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Storage/storageAccounts/" \
              f"{deployed['storageAccountName']}"
    role = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/" \
           "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    assert assignments[0]["name"] == guid(storage, deployed["accessConnectorId"], role)
    again = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
             "contentVersion": "1.0.0.0", "resources": [{
                 "type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
                 "name": str(uuid.uuid4()), "scope": storage,
                 "properties": {"roleDefinitionId": role, "principalType": "ServicePrincipal",
                                "principalId": assignments[0]["properties"]["principalId"]}}]}
    arm.resource_groups.create_or_update(GROUP, {"location": "australiaeast"})
    with pytest.raises(HttpResponseError) as refused:
        body = {"properties": {"mode": "Incremental", "template": again}}
        arm.deployments.begin_create_or_update(GROUP, "again", body).result()
    assert "RoleAssignmentExists" in str(refused.value)


def test_a_deployer_without_the_right_to_assign_roles_is_refused_and_can_read_so(arm, sandbox):
    """rbac.assign-permission"""
    sandbox.set_rbac(deployer_roles=["Contributor"])
    try:
        parameters = template_parameters("qa", SUBSCRIPTION, "rg-uc-contributor", "ucc")
        parameters["keyVaultAdminObjectId"] = {"value": sandbox.identity.client_id}
        with pytest.raises(HttpResponseError) as refused:
            _deploy(arm, "rg-uc-contributor", parameters)
        assert "AuthorizationFailed" in str(refused.value)
        permissions = arm._client.send_request(HttpRequest(  # Permissions - List For Resource Group
            "GET", f"{sandbox.arm_url}/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-uc-contributor/providers/"
            "Microsoft.Authorization/permissions?api-version=2022-04-01")).json()["value"]
        from toolkit.azure.permissions import can_assign_roles

        assert not can_assign_roles(permissions)
    finally:
        sandbox.set_rbac(deployer_roles=["Owner"])


def test_an_external_location_whose_identity_has_no_role_on_the_account_is_refused(w, deployed, sandbox):
    """uc.location-validation (the role assignment not made, or not yet reached storage)"""
    _credential(w, deployed, "c_norole")
    sandbox.set_rbac(propagation_s=3600)  # as if the role assignment had not reached storage yet
    try:
        results = w.storage_credentials.validate(storage_credential_name="c_norole", url=_lake(deployed)).results
        assert {r.result.value for r in results if r.operation.value in ("READ", "WRITE")} == {"FAIL"}
        with pytest.raises(PermissionDenied, match="Failed to access cloud storage"):
            w.external_locations.create("l_norole", _lake(deployed), "c_norole")
    finally:
        sandbox.set_rbac(propagation_s=0.5)
    time.sleep(0.6)
    assert {r.result.value for r in w.storage_credentials.validate(
        storage_credential_name="c_norole", url=_lake(deployed)).results} == {"PASS"}


def test_overlapping_external_locations_are_refused(w, deployed):
    """uc.location-overlap"""
    _credential(w, deployed, "c_overlap")
    w.external_locations.create("l_parent", _lake(deployed, "/area"), "c_overlap")
    with pytest.raises(InvalidParameterValue, match="overlaps with an existing external location") as refused:
        w.external_locations.create("l_child", _lake(deployed, "/area/inner"), "c_overlap")
    assert "l_parent" in str(refused.value)
    w.external_locations.delete("l_parent")


def test_a_catalog_needs_a_managed_location_inside_an_external_location(w, deployed):
    """uc.catalog-managed-location, uc.no-root-storage"""
    with pytest.raises(InvalidState, match="Metastore storage root URL does not exist"):
        w.catalogs.create("cat_noroot")
    with pytest.raises(InvalidParameterValue, match="is not contained in any external location"):
        w.catalogs.create("cat_outside", storage_root=_lake(deployed, "/nowhere"))


def test_a_missing_privilege_is_refused_with_databricks_words(w, deployed, sandbox):
    """uc.privileges"""
    sandbox.set_metastore_privileges(["CREATE_EXTERNAL_LOCATION"])
    try:
        with pytest.raises(PermissionDenied, match=r"User does not have CREATE CATALOG on Metastore '"):
            w.catalogs.create("cat_denied", storage_root=_lake(deployed, "/x"))
        with pytest.raises(PermissionDenied, match="User does not have CREATE STORAGE CREDENTIAL on Metastore"):
            _credential(w, deployed, "c_denied")
        from toolkit.databricks.unity_catalog import missing_privileges

        assert missing_privileges(w, {"CREATE_CATALOG", "CREATE_EXTERNAL_LOCATION"}) == ["CREATE_CATALOG"]
    finally:
        from sandbox.databricks.unity_catalog import DEPLOYER_METASTORE_PRIVILEGES

        sandbox.set_metastore_privileges(DEPLOYER_METASTORE_PRIVILEGES)


def _run(w, cluster_id: str, path: str):
    """A notebook run given ``path`` as a widget, as Data Factory passes the lake root: its task's error, if any."""
    from databricks.sdk.service import jobs
    from databricks.sdk.service.workspace import ImportFormat

    w.workspace.mkdirs("/uc")
    w.workspace.upload("/uc/read.py", b"# Databricks notebook source\ndbutils.widgets.text('p', '')\n",
                       format=ImportFormat.AUTO, overwrite=True)
    run = w.jobs.submit(run_name="uc", tasks=[jobs.SubmitTask(
        task_key="read", existing_cluster_id=cluster_id,
        notebook_task=jobs.NotebookTask(notebook_path="/uc/read", base_parameters={"p": path}))]).result()
    return w.jobs.get_run_output(run.tasks[0].run_id).error


def test_a_notebook_path_outside_every_external_location_or_without_a_grant_is_refused(w, deployed):
    """uc.path-access: the run fails before the notebook reads anything (so no storage is needed here)"""
    me = w.current_user.me().user_name
    dedicated = w.clusters.create_and_wait(cluster_name="uc-dedicated", spark_version="17.3.x-scala2.13",
                                           node_type_id="Standard_DS3_v2", num_workers=1,
                                           data_security_mode=DataSecurityMode.SINGLE_USER, single_user_name=me)
    assert "no external location covers" in _run(w, dedicated.cluster_id, _lake(deployed, "/elsewhere/a.json"))
    _credential(w, deployed, "c_grants")
    w.external_locations.create("l_grants", _lake(deployed, "/granted"), "c_grants")
    w.api_client.do("PATCH", "/api/2.1/unity-catalog/external-locations/l_grants", body={"owner": "someone-else"})
    assert "User does not have READ FILES on External Location 'l_grants'" in _run(
        w, dedicated.cluster_id, _lake(deployed, "/granted/a"))
    for name, mode, user in (("uc-other-user", DataSecurityMode.SINGLE_USER, "someone-else"),
                             ("uc-no-isolation", DataSecurityMode.NONE, None)):
        cluster = w.clusters.create_and_wait(cluster_name=name, spark_version="17.3.x-scala2.13",
                                             node_type_id="Standard_DS3_v2", num_workers=1,
                                             data_security_mode=mode, single_user_name=user)
        refusal = _run(w, cluster.cluster_id, _lake(deployed, "/granted/a"))
        assert ("Single-user check failed" if user else "Unity Catalog is not enabled on this cluster") in refusal
        w.clusters.permanent_delete(cluster.cluster_id)
    w.clusters.permanent_delete(dedicated.cluster_id)
