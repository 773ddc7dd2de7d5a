"""Deploying ADF definitions: property replacement, dependency order, what a change touches, and what
counts as a difference from the factory's copy."""
import json

import pytest

from toolkit.definitions.adf_deployment import (ReplacementError, contains, deploy_order, dependents,
                                                replace_properties)
from tasks.repository import REPO_ROOT

ADF = REPO_ROOT / "adf"


def _objects():
    folders = {"linkedService": "linkedService", "dataset": "dataset", "pipeline": "pipeline", "trigger": "trigger"}
    return {kind: {p.stem: json.loads(p.read_text()) for p in (ADF / folder).glob("*.json")}
            for kind, folder in folders.items()}


def _factory():
    return json.loads((ADF / "factory" / "adf-parking-dev.json").read_text())


def test_replacement_sets_each_path_and_leaves_the_sources_alone():
    objects, factory = _objects(), _factory()
    replaced, new_factory = replace_properties(objects, factory, {
        "linkedService.Ls_KeyVault.typeProperties.baseUrl": "{outputs.keyVaultUri}",
        "factory.globalParameters.clusterId.value": "{cluster_id}",
    }, {"outputs.keyVaultUri": "https://kv-x.vault.azure.net/", "cluster_id": "0101-abc"})
    assert replaced["linkedService"]["Ls_KeyVault"]["properties"]["typeProperties"]["baseUrl"] == \
        "https://kv-x.vault.azure.net/"
    assert new_factory["properties"]["globalParameters"]["clusterId"]["value"] == "0101-abc"
    assert objects["linkedService"]["Ls_KeyVault"]["properties"]["typeProperties"]["baseUrl"].endswith(
        "kv-parking-dev.vault.azure.net/")


@pytest.mark.parametrize("key, template, message", [
    ("linkedService.Ls_Nope.typeProperties.url", "x", "no linkedService named 'Ls_Nope'"),
    ("linkedService.Ls_KeyVault.typeProperties.nope", "x", "typeProperties.nope does not exist"),
    ("widget.x.y", "x", "expected '<kind>.<name>.<path>'"),
    ("linkedService.Ls_KeyVault.typeProperties.baseUrl", "{unknown}", "unknown placeholder {unknown}"),
])
def test_a_wrong_replacement_names_the_key(key, template, message):
    with pytest.raises(ReplacementError, match=message):
        replace_properties(_objects(), _factory(), {key: template}, {"cluster_id": "c"})


def test_deploy_order_puts_every_reference_first():
    order = deploy_order(_objects())
    position = {key: i for i, key in enumerate(order)}
    assert position[("linkedService", "Ls_KeyVault")] < position[("linkedService", "Ls_AdlsGen2_01")]
    assert position[("linkedService", "Ls_AdlsGen2_01")] < position[("dataset", "Ds_AdlsGen2_MelbParkingData")]
    assert position[("dataset", "Ds_AdlsGen2_MelbParkingData")] < position[("pipeline", "P_Ingest_MelbParkingData")]
    assert order[-1] == ("trigger", "T_Daily")


def test_pipelines_that_call_pipelines_come_after_them():
    called = {"properties": {"activities": []}}
    caller = {"properties": {"activities": [{"type": "ExecutePipeline", "typeProperties": {
        "pipeline": {"referenceName": "A_Called", "type": "PipelineReference"}}}]}}
    order = deploy_order({"pipeline": {"Z_Caller": caller, "A_Called": called}})
    assert order == [("pipeline", "A_Called"), ("pipeline", "Z_Caller")]


def test_a_changed_dataset_touches_its_pipeline_and_trigger():
    touched = dependents(_objects(), {("dataset", "Ds_AdlsGen2_MelbParkingData")})
    assert ("pipeline", "P_Ingest_MelbParkingData") in touched and ("trigger", "T_Daily") in touched
    assert ("linkedService", "Ls_KeyVault") not in touched


def test_contains_ignores_what_the_service_adds_but_not_what_differs():
    desired = {"type": "AzureKeyVault", "typeProperties": {"baseUrl": "u"}, "annotations": []}
    assert contains({**desired, "runtimeState": "Started", "extra": 1}, desired)
    assert not contains({**desired, "typeProperties": {"baseUrl": "v"}}, desired)
    assert not contains({"type": "AzureKeyVault", "typeProperties": {"baseUrl": "u"}}, desired)
    assert not contains({**desired, "annotations": ["a"]}, desired)
