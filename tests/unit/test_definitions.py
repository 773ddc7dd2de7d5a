"""The ADF and ARM checks: each defect is found and named by file and JSON path."""
import json
import shutil

import pytest

from toolkit.definitions import check_definitions
from tasks.repository import REPO_ROOT


@pytest.fixture
def repo(tmp_path):
    for folder in ("adf", "arm", "cluster"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    return tmp_path


def _edit(path, change):
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def _messages(repo):
    return [str(f) for f in check_definitions(repo)]


def test_the_project_definitions_are_clean():
    assert check_definitions(REPO_ROOT) == []


def test_invalid_json_names_file_line_and_column(repo):
    (repo / "adf" / "trigger" / "T_Daily.json").write_text('{\n  "name": "T_Daily",\n  oops\n}')
    assert _messages(repo) == ["adf/trigger/T_Daily.json: $: invalid JSON: Expecting property name enclosed in "
                               "double quotes at line 3 column 3"]


def test_dangling_references_of_every_kind(repo):
    adf = repo / "adf"
    _edit(adf / "dataset" / "Ds_AdlsGen2_MelbParkingData.json",
          lambda d: d["properties"]["linkedServiceName"].update(referenceName="Ls_Missing"))
    _edit(adf / "trigger" / "T_Daily.json",
          lambda d: d["properties"]["pipelines"][0]["pipelineReference"].update(referenceName="P_Gone"))
    _edit(adf / "pipeline" / "P_Ingest_MelbParkingData.json",
          lambda d: d["properties"]["activities"][2]["inputs"][0].update(referenceName="Ds_Gone"))
    messages = _messages(repo)
    assert "adf/dataset/Ds_AdlsGen2_MelbParkingData.json: $.properties.linkedServiceName.referenceName: " \
           "LinkedServiceReference to 'Ls_Missing', which is not in adf/linkedService/" in messages
    assert "adf/trigger/T_Daily.json: $.properties.pipelines[0].pipelineReference.referenceName: " \
           "PipelineReference to 'P_Gone', which is not in adf/pipeline/" in messages
    assert "adf/pipeline/P_Ingest_MelbParkingData.json: $.properties.activities[2].inputs[0].referenceName: " \
           "DatasetReference to 'Ds_Gone', which is not in adf/dataset/" in messages


def test_key_vault_secrets_must_come_from_a_key_vault_linked_service(repo):
    _edit(repo / "adf" / "linkedService" / "Ls_AzureDatabricks.json",
          lambda d: d["properties"]["typeProperties"]["accessToken"]["store"].update(referenceName="Ls_AdlsGen2_01"))
    assert _messages(repo) == [
        "adf/linkedService/Ls_AzureDatabricks.json: $.properties.typeProperties.accessToken.store.referenceName: "
        "Key Vault secret store 'Ls_AdlsGen2_01' is not an AzureKeyVault linked service"]


def test_activity_dependencies_must_exist_and_not_cycle(repo):
    def change(d):
        activities = d["properties"]["activities"]
        activities[4]["dependsOn"].append({"activity": "TransformData", "dependencyConditions": ["Succeeded"]})
        activities[5]["dependsOn"].append({"activity": "Nowhere", "dependencyConditions": ["Succeeded"]})
    _edit(repo / "adf" / "pipeline" / "P_Ingest_MelbParkingData.json", change)
    messages = _messages(repo)
    assert any("$.properties.activities[5].dependsOn[1].activity: activity 'TransformData' depends on 'Nowhere'"
               in m for m in messages)
    assert any("activity dependencies form a cycle: StandardizeData -> TransformData -> StandardizeData" in m
               for m in messages)


def test_pipelines_calling_each_other_in_a_cycle(repo):
    pipeline = repo / "adf" / "pipeline" / "P_Ingest_MelbParkingData.json"
    call = {"name": "CallSelf", "type": "ExecutePipeline", "dependsOn": [],
            "typeProperties": {"pipeline": {"referenceName": "P_Ingest_MelbParkingData", "type": "PipelineReference"}}}
    _edit(pipeline, lambda d: d["properties"]["activities"].append(call))
    assert any("pipelines call each other in a cycle: P_Ingest_MelbParkingData -> P_Ingest_MelbParkingData" in m
               for m in _messages(repo))


def test_undeclared_variables_and_global_parameters(repo):
    def change(d):
        d["properties"]["variables"].pop("loadedon")
    _edit(repo / "adf" / "pipeline" / "P_Ingest_MelbParkingData.json", change)
    _edit(repo / "adf" / "factory" / "adf-parking-dev.json",
          lambda d: d["properties"]["globalParameters"].pop("clusterId"))
    messages = _messages(repo)
    assert any("$.properties.activities[1].typeProperties.variableName: sets variable 'loadedon', which is not "
               "declared" in m for m in messages)
    assert any("expression uses global parameter 'clusterId', which the factory does not declare" in m
               for m in messages)


def test_arm_parameters_declared_used_and_provided(repo):
    _edit(repo / "arm" / "azuredeploy.json", lambda d: d["parameters"].update(unused={"type": "string"}))
    _edit(repo / "arm" / "azuredeploy.json", lambda d: d["parameters"].pop("databricksSku"))
    _edit(repo / "arm" / "parameters" / "azuredeploy.parameters.qa.json",
          lambda d: d["parameters"].pop("keyVaultAdminObjectId"))
    messages = _messages(repo)
    assert "arm/azuredeploy.json: $.parameters.unused: parameter 'unused' is declared but never used" in messages
    assert "arm/azuredeploy.json: $.resources[5].sku.name: uses parameter 'databricksSku', which is not " \
           "declared" in messages
    assert "arm/parameters/azuredeploy.parameters.qa.json: $.parameters.databricksSku: sets 'databricksSku', " \
           "which arm/azuredeploy.json does not declare" in messages
    assert "arm/parameters/azuredeploy.parameters.qa.json: $.parameters: does not set 'unused', which " \
           "arm/azuredeploy.json requires" in messages
    assert "arm/parameters/azuredeploy.parameters.qa.json: $.parameters: does not set 'keyVaultAdminObjectId', " \
           "which arm/azuredeploy.json requires" in messages


def test_secure_parameters_take_key_vault_references_not_values(repo):
    _edit(repo / "arm" / "azuredeploy.json", lambda d: d["parameters"]["keyVaultAdminObjectId"].update(
        type="securestring"))
    assert _messages(repo) == [
        "arm/parameters/azuredeploy.parameters.prod.json: $.parameters.keyVaultAdminObjectId.value: secure "
        "parameter 'keyVaultAdminObjectId' has a literal value: use a Key Vault reference",
        "arm/parameters/azuredeploy.parameters.qa.json: $.parameters.keyVaultAdminObjectId.value: secure "
        "parameter 'keyVaultAdminObjectId' has a literal value: use a Key Vault reference",
        "arm/parameters/azuredeploy.parameters.staging.json: $.parameters.keyVaultAdminObjectId.value: secure "
        "parameter 'keyVaultAdminObjectId' has a literal value: use a Key Vault reference"]


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["properties"]["typeProperties"].update(accessToken="dapi" + "0123456789abcdef" * 2),
     "$.properties.typeProperties.accessToken: 'accessToken' holds a literal value"),
    (lambda d: d["properties"]["typeProperties"].update(
        connectionString="DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + "A" * 86 + "=="),
     "$.properties.typeProperties.connectionString: looks like a storage account key"),
    (lambda d: d["properties"]["typeProperties"].update(password={"type": "SecureString", "value": "hunter2"}),
     "$.properties.typeProperties.password.value: SecureString with a literal value"),
])
def test_no_secret_values_in_definitions(repo, change, expected):
    _edit(repo / "adf" / "linkedService" / "Ls_AzureDatabricks.json", change)
    assert any(expected in m and m.startswith("adf/linkedService/Ls_AzureDatabricks.json: ")
               for m in _messages(repo)), _messages(repo)


def test_secret_values_never_appear_in_the_findings(repo):
    token = "dapi" + "fedcba9876543210" * 2
    _edit(repo / "adf" / "linkedService" / "Ls_AzureDatabricks.json",
          lambda d: d["properties"]["typeProperties"].update(note=f"token {token}"))
    messages = _messages(repo)
    assert messages and not any(token in m for m in messages)
