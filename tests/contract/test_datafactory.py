"""azure-mgmt-resource and azure-mgmt-datafactory, unmodified (endpoint, credential and CA aside), against
the sandbox's ARM and Data Factory; a pipeline whose two notebook activities depend on each other runs
for real on the sandbox's Databricks, its token read from the sandbox's Key Vault."""
import time
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.datafactory import DataFactoryManagementClient
from azure.mgmt.datafactory import models as m
from azure.mgmt.resource import ResourceManagementClient
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.workspace import ImportFormat

from tests.conftest import requests_trusting

SUBSCRIPTION = "00000000-0000-0000-0000-00000000abcd"
GROUP, FACTORY = "rg-contract", "adf-contract"
FIRST = b"""# Databricks notebook source
import json
dbutils.widgets.text("greeting", "")
dbutils.notebook.exit(json.dumps({"message": dbutils.widgets.get("greeting") + ", world", "rows": 3}))
"""
SECOND = b"""# Databricks notebook source
dbutils.widgets.text("previous", "")
dbutils.widgets.text("run_id", "")
if not dbutils.widgets.get("previous"):
    raise ValueError("no input from the first notebook")
dbutils.notebook.exit(dbutils.widgets.get("previous").upper() + " " + dbutils.widgets.get("run_id"))
"""


@pytest.fixture(scope="module")
def platform(sandbox, credential):
    trust = str(sandbox.tls.trust_bundle)
    with requests_trusting(trust):
        yield _platform(sandbox, credential, trust)


def _platform(sandbox, credential, trust):
    host = sandbox.ensure_workspace("dbw-adf")
    token = sandbox.authority.issue("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default")[0]
    databricks = WorkspaceClient(host=host, token=token)
    databricks.workspace.mkdirs("/adf")
    databricks.workspace.upload("/adf/first.py", FIRST, format=ImportFormat.AUTO, overwrite=True)
    databricks.workspace.upload("/adf/second.py", SECOND, format=ImportFormat.AUTO, overwrite=True)
    databricks.workspace.upload("/adf/slow.py", b"# Databricks notebook source\nimport time\ntime.sleep(3)\n",
                                format=ImportFormat.AUTO, overwrite=True)
    cluster = databricks.clusters.create_and_wait(cluster_name="adf", spark_version="17.3.x-scala2.13",
                                                  num_workers=1)
    vault = sandbox.ensure_vault("kv-adf")
    SecretClient(vault, credential, verify_challenge_resource=False, connection_verify=trust).set_secret(
        "databricksToken", token)
    resources = ResourceManagementClient(credential, SUBSCRIPTION, base_url=sandbox.arm_url, connection_verify=trust)
    adf = DataFactoryManagementClient(credential, SUBSCRIPTION, base_url=sandbox.arm_url, connection_verify=trust)
    return {"resources": resources, "adf": adf, "host": host, "vault": vault, "cluster": cluster.cluster_id}


@pytest.fixture(scope="module")
def factory(platform):
    platform["resources"].resource_groups.create_or_update(GROUP, {"location": "australiaeast"})
    adf = platform["adf"]
    adf.factories.create_or_update(GROUP, FACTORY, m.Factory(location="australiaeast", global_parameters={
        "notebookRoot": m.GlobalParameterSpecification(type="String", value="/adf"),
        "clusterId": m.GlobalParameterSpecification(type="String", value=platform["cluster"])}))
    adf.linked_services.create_or_update(GROUP, FACTORY, "Ls_KeyVault", m.LinkedServiceResource(
        properties=m.AzureKeyVaultLinkedService(base_url=platform["vault"])))
    vault_ref = m.LinkedServiceReference(type="LinkedServiceReference", reference_name="Ls_KeyVault")
    adf.linked_services.create_or_update(GROUP, FACTORY, "Ls_Databricks", m.LinkedServiceResource(
        properties=m.AzureDatabricksLinkedService(
            domain=platform["host"], existing_cluster_id="@linkedService().clusterId",
            parameters={"clusterId": m.ParameterSpecification(type="String")},
            access_token=m.AzureKeyVaultSecretReference(store=vault_ref, secret_name="databricksToken"))))
    databricks_ref = m.LinkedServiceReference(type="LinkedServiceReference", reference_name="Ls_Databricks",
                                              parameters={"clusterId": {"value": "@pipeline().globalParameters."
                                                                                 "clusterId", "type": "Expression"}})
    first = m.DatabricksNotebookActivity(
        name="First", linked_service_name=databricks_ref,
        notebook_path={"value": "@concat(pipeline().globalParameters.notebookRoot, '/first')", "type": "Expression"},
        base_parameters={"greeting": {"value": "@pipeline().parameters.greeting", "type": "Expression"}})
    second = m.DatabricksNotebookActivity(
        name="Second", linked_service_name=databricks_ref, notebook_path="/adf/second",
        depends_on=[m.ActivityDependency(activity="First", dependency_conditions=["Succeeded"])],
        base_parameters={"previous": {"value": "@activity('First').output.runOutput.message", "type": "Expression"},
                         "run_id": {"value": "@pipeline().RunId", "type": "Expression"}})
    greeting = m.ParameterSpecification(type="String", default_value="hello")
    adf.pipelines.create_or_update(GROUP, FACTORY, "P_Two", m.PipelineResource(
        activities=[first, second], parameters={"greeting": greeting}))
    return adf


def _wait(adf, run_id, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = adf.pipeline_runs.get(GROUP, FACTORY, run_id)
        if run.status in ("Succeeded", "Failed", "Cancelled"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"pipeline run {run_id} still {run.status}")


def _activities(adf, run_id):
    now = datetime.now(timezone.utc)
    window = m.RunFilterParameters(last_updated_after=now - timedelta(hours=1), last_updated_before=now + timedelta(
        hours=1))
    found = {}
    while True:  # the query answers in pages, each naming the next by its continuation token
        page = adf.activity_runs.query_by_pipeline_run(GROUP, FACTORY, run_id, window)
        found.update({a.activity_name: a for a in page.value})
        if not page.continuation_token:
            return found
        window.continuation_token = page.continuation_token


def test_resource_group_round_trip(platform):
    group = platform["resources"].resource_groups.create_or_update("rg-other", {"location": "australiaeast"})
    assert group.name == "rg-other" and group.properties.provisioning_state == "Succeeded"
    assert platform["resources"].resource_groups.get("RG-OTHER").location == "australiaeast"
    with pytest.raises(ResourceNotFoundError):
        platform["resources"].resource_groups.get("rg-missing")


def test_a_pipeline_of_two_dependent_notebooks_runs_and_passes_outputs(factory):
    run_id = factory.pipelines.create_run(GROUP, FACTORY, "P_Two", parameters={"greeting": "hi"}).run_id
    run = _wait(factory, run_id)
    assert run.status == "Succeeded", run.message
    activities = _activities(factory, run_id)
    assert {n: a.status for n, a in activities.items()} == {"First": "Succeeded", "Second": "Succeeded"}
    assert activities["First"].output["runOutput"] == {"message": "hi, world", "rows": 3}
    assert activities["Second"].output["runOutput"] == f"HI, WORLD {run_id}"
    assert activities["First"].activity_run_end <= activities["Second"].activity_run_start
    assert activities["Second"].input["notebookPath"] == "/adf/second"


def test_a_failing_notebook_fails_the_run_and_skips_its_dependents(factory):
    factory.pipelines.create_or_update(GROUP, FACTORY, "P_Fails", m.PipelineResource(activities=[
        m.DatabricksNotebookActivity(
            name="Broken", notebook_path="/adf/second", linked_service_name=m.LinkedServiceReference(
                type="LinkedServiceReference", reference_name="Ls_Databricks",
                parameters={"clusterId": "@pipeline().globalParameters.clusterId"})),
        m.SetVariableActivity(name="After", variable_name="v", value="x",
                              depends_on=[m.ActivityDependency(activity="Broken",
                                                               dependency_conditions=["Succeeded"])]),
    ], variables={"v": m.VariableSpecification(type="String")}))
    run = _wait(factory, factory.pipelines.create_run(GROUP, FACTORY, "P_Fails").run_id)
    assert run.status == "Failed" and "Operation on target Broken failed" in run.message
    assert "no input from the first notebook" in run.message
    activities = _activities(factory, run.run_id)
    assert activities["Broken"].status == "Failed" and activities["After"].status == "Skipped"


def test_triggers_start_stop_and_cannot_be_updated_while_started(factory):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    pipeline = m.PipelineReference(type="PipelineReference", reference_name="P_Two")
    trigger = m.TriggerResource(properties=m.ScheduleTrigger(
        recurrence=m.ScheduleTriggerRecurrence(frequency="Day", interval=1, start_time=start),
        pipelines=[m.TriggerPipelineReference(pipeline_reference=pipeline)]))
    factory.triggers.create_or_update(GROUP, FACTORY, "T_Daily", trigger)
    factory.triggers.begin_start(GROUP, FACTORY, "T_Daily").result()
    assert factory.triggers.get(GROUP, FACTORY, "T_Daily").properties.runtime_state == "Started"
    with pytest.raises(HttpResponseError) as refused:
        factory.triggers.create_or_update(GROUP, FACTORY, "T_Daily", trigger)
    assert refused.value.status_code == 400 and "needs to be stopped first" in str(refused.value)
    factory.triggers.begin_stop(GROUP, FACTORY, "T_Daily").result()
    assert factory.triggers.get(GROUP, FACTORY, "T_Daily").properties.runtime_state == "Stopped"
    factory.triggers.create_or_update(GROUP, FACTORY, "T_Daily", trigger)
    factory.triggers.delete(GROUP, FACTORY, "T_Daily")


def test_references_are_enforced_on_write_and_delete(factory):
    with pytest.raises(HttpResponseError) as referenced:
        factory.linked_services.delete(GROUP, FACTORY, "Ls_KeyVault")
    assert referenced.value.status_code == 400 and "referenced by Ls_Databricks" in str(referenced.value)
    with pytest.raises(HttpResponseError) as dangling:
        missing = m.PipelineReference(type="PipelineReference", reference_name="P_Missing")
        factory.pipelines.create_or_update(GROUP, FACTORY, "P_Bad", m.PipelineResource(activities=[
            m.ExecutePipelineActivity(name="Call", pipeline=missing)]))
    assert "invalid reference 'P_Missing'" in str(dangling.value)
    assert {p.name for p in factory.pipelines.list_by_factory(GROUP, FACTORY)} >= {"P_Two"}
    assert factory.factories.get(GROUP, FACTORY).global_parameters["notebookRoot"].value == "/adf"


def test_cancel_stops_the_run_before_its_next_activity_and_unknown_runs_are_404(factory):
    with pytest.raises(ResourceNotFoundError):
        factory.pipeline_runs.get(GROUP, FACTORY, "00000000-0000-0000-0000-000000000000")
    databricks = m.LinkedServiceReference(type="LinkedServiceReference", reference_name="Ls_Databricks",
                                          parameters={"clusterId": "@pipeline().globalParameters.clusterId"})
    factory.pipelines.create_or_update(GROUP, FACTORY, "P_Slow", m.PipelineResource(activities=[
        m.DatabricksNotebookActivity(name="Slow", notebook_path="/adf/slow", linked_service_name=databricks),
        m.SetVariableActivity(name="After", variable_name="v", value="x",
                              depends_on=[m.ActivityDependency(activity="Slow", dependency_conditions=["Succeeded"])]),
    ], variables={"v": m.VariableSpecification(type="String")}))
    run_id = factory.pipelines.create_run(GROUP, FACTORY, "P_Slow").run_id
    factory.pipeline_runs.cancel(GROUP, FACTORY, run_id)  # while Slow sleeps its 3 seconds
    assert _wait(factory, run_id).status == "Cancelled"
    assert "After" not in _activities(factory, run_id)


def test_copy_lands_an_extract_with_the_projects_own_definitions(factory, platform, credential, sandbox, azurite):
    from azure.storage.blob import BlobServiceClient

    from sandbox.azurite import DEV_ACCOUNT, DEV_KEY
    from tests.conftest import SAMPLE
    from tasks.repository import REPO_ROOT

    trust = str(sandbox.tls.trust_bundle)
    SecretClient(platform["vault"], credential, verify_challenge_resource=False, connection_verify=trust).set_secret(
        "datalakeKey", DEV_KEY)
    lake = BlobServiceClient.from_connection_string(azurite.connection_string()).get_container_client("datalake")
    if not lake.exists():
        lake.create_container()
    extract = (SAMPLE / "MelbParkingSensorData.json").read_bytes()
    lake.upload_blob("src/melbourne/MelbParkingSensorData.json", extract, overwrite=True)

    service = __import__("json").loads((REPO_ROOT / "adf/linkedService/Ls_AdlsGen2_01.json").read_text())
    service["properties"]["typeProperties"]["url"] = f"https://{DEV_ACCOUNT}.dfs.core.windows.net/"
    factory.linked_services.create_or_update(GROUP, FACTORY, "Ls_AdlsGen2_01",
                                             m.LinkedServiceResource.deserialize(service))
    dataset = __import__("json").loads((REPO_ROOT / "adf/dataset/Ds_AdlsGen2_MelbParkingData.json").read_text())
    factory.datasets.create_or_update(GROUP, FACTORY, dataset["name"], m.DatasetResource.deserialize(dataset))

    def reference(folder):
        return m.DatasetReference(type="DatasetReference", reference_name=dataset["name"], parameters={
            "folderPath": folder, "fileName": "MelbParkingSensorData.json"})
    copy = m.CopyActivity(name="Land", source=m.BinarySource(), sink=m.BinarySink(),
                          inputs=[reference("src/melbourne")],
                          outputs=[reference({"value": "@concat('lnd/', pipeline().RunId)", "type": "Expression"})])
    factory.pipelines.create_or_update(GROUP, FACTORY, "P_Land", m.PipelineResource(activities=[copy]))
    run = _wait(factory, factory.pipelines.create_run(GROUP, FACTORY, "P_Land").run_id)
    assert run.status == "Succeeded", run.message
    landed = _activities(factory, run.run_id)["Land"].output
    assert (landed["filesWritten"], landed["dataWritten"]) == (1, len(extract))
    assert lake.download_blob(f"lnd/{run.run_id}/MelbParkingSensorData.json").readall() == extract

    SecretClient(platform["vault"], credential, verify_challenge_resource=False, connection_verify=trust).set_secret(
        "datalakeKey", "d3Jvbmcta2V5")  # a wrong account key: the copy must fail, not land anything
    failed = _wait(factory, factory.pipelines.create_run(GROUP, FACTORY, "P_Land").run_id)
    assert failed.status == "Failed"
    assert _activities(factory, failed.run_id)["Land"].error["errorCode"] == "UserErrorFailedBlobOperation"
