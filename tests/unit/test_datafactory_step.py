"""The Data Factory step's plan against a factory held in memory: only differences are written, in
dependency order; touched triggers are stopped and restored; a killed run's stopped triggers are
restarted by the next; extra objects are deleted only when asked, triggers first."""
import json
from types import SimpleNamespace

import pytest

from toolkit.environments.model import load_environment
from tasks.repository import ENVIRONMENTS, REPO_ROOT
from toolkit.release.deployment import Options
from toolkit.release.steps import datafactory as step
from toolkit.release.steps.datafactory import DataFactory, desired_definitions

OUTPUTS = {"keyVaultUri": "https://kv.example/", "storageAccountName": "stexample", "dataFactoryName": "adf-x",
           "databricksWorkspaceUrl": "https://adb.example"}


class FakeFactory:
    def __init__(self, objects, global_parameters, trigger_state="Stopped"):
        self.name, self.calls = "adf-x", []
        self._objects, self._globals = objects, global_parameters
        for trigger in objects.get("trigger", {}).values():
            trigger["runtimeState"] = trigger_state

    def objects(self, kind):
        return self._objects.get(kind, {})

    def global_parameters(self):
        return self._globals

    def __getattr__(self, name):  # put, delete, start_trigger, stop_trigger, set_global_parameters
        return lambda *args: self.calls.append((name, *args))


def _deployment(environment="staging", prune=False):
    env = load_environment(ENVIRONMENTS, environment, "sandbox", environ={})
    manifest = SimpleNamespace(version="1.2.3", digest="d" * 64)
    d = SimpleNamespace(environment=env, bundle=REPO_ROOT, manifest=manifest, version="1.2.3",
                        release_root="/parking-sensors/releases/1.2.3", outputs=dict(OUTPUTS),
                        options=Options(prune=prune), rest=None, resource_group="rg", lake=lambda: "lake",
                        baseline=({}, {}, set()))  # no drift record yet
    d.value = lambda name: {"cluster_id": "0101-abc"}[name]
    d.output = lambda name: OUTPUTS[name]
    d.record = lambda event, outcome, **details: step.ledger.append_record(
        "lake", {"event": event, "outcome": outcome, **details})  # as Deployment.record does, through the ledger
    return d


@pytest.fixture
def records(monkeypatch):
    kept = []
    monkeypatch.setattr(step.ledger, "read_ledger", lambda lake: ({"records": list(kept)}, None))
    monkeypatch.setattr(step.ledger, "append_record", lambda lake, record, lock=None: kept.append(record))
    return kept


def _factory_as_desired(d, monkeypatch, trigger_state="Stopped", change=None):
    documents, factory_document = desired_definitions(d)
    objects = {kind: {name: dict(doc["properties"]) for name, doc in by_name.items()}
               for kind, by_name in documents.items()}
    if change:
        change(objects)
    factory = FakeFactory(objects, factory_document["properties"]["globalParameters"], trigger_state)
    monkeypatch.setattr(step, "Factory", lambda *args: factory)
    return factory


def test_a_factory_that_matches_gets_no_write(monkeypatch, records):
    d = _deployment()
    _factory_as_desired(d, monkeypatch, "Started")
    plan = DataFactory().plan(d)
    assert plan.changes == [] and plan.apply is None


def test_a_changed_pipeline_stops_its_trigger_around_the_change(monkeypatch, records):
    d = _deployment("prod")  # triggers = keep: a Started trigger is restored, not activated anew
    factory = _factory_as_desired(d, monkeypatch, "Started", lambda o: o["pipeline"]["P_Ingest_MelbParkingData"]
                                  .update(description="older"))
    plan = DataFactory().plan(d)
    assert [str(c) for c in plan.changes] == ["record the triggers it stops, in the ledger (T_Daily)",
                                              "stop trigger T_Daily (touched by this change)",
                                              "update pipeline P_Ingest_MelbParkingData",
                                              "start trigger T_Daily (restored)",
                                              "record the triggers it restored, in the ledger"]
    update = plan.changes[2]
    assert update.writes == {"arm": 1} and [r.to_dict() for r in update.reasons] == [
        {"field": "description", "current": "older",
         "desired": json.loads((REPO_ROOT / "adf" / "pipeline" / "P_Ingest_MelbParkingData.json").read_text())[
             "properties"]["description"]}]
    assert plan.reads["pipeline P_Ingest_MelbParkingData"].startswith("sha256:")
    plan.apply()
    assert [c[0] for c in factory.calls] == ["stop_trigger", "put", "start_trigger"]
    assert [r["event"] for r in records] == ["triggers-stopped", "triggers-restored"]


def test_a_plan_lists_the_drift_it_is_about_to_overwrite(monkeypatch, records):
    """The pipeline was edited in the portal since the last release recorded it: the update overwrites that edit."""
    from toolkit.release.drift import baseline, definition_print

    d = _deployment("prod")
    factory = _factory_as_desired(d, monkeypatch, "Stopped", lambda o: o["pipeline"]["P_Ingest_MelbParkingData"]
                                  .update(description="edited in the portal"))
    released = dict(factory.objects("pipeline")["P_Ingest_MelbParkingData"], description="released")
    d.baseline = baseline([{"event": "swap", "version": "1.0", "when": "t1", "fingerprints": {
        "covers": ["factory"], "items": {"factory/pipeline/P_Ingest_MelbParkingData": definition_print(released)}}}])
    plan = DataFactory().plan(d)
    overwrite = next(c for c in plan.changes if c.action == "overwrite")
    assert overwrite.target == "drift factory/pipeline/P_Ingest_MelbParkingData" and overwrite.writes == {}
    assert "outside a release (since the swap of 1.0 at t1)" in overwrite.detail


def test_triggers_a_killed_deploy_stopped_are_started_by_the_next(monkeypatch, records):
    records.append({"event": "triggers-stopped", "triggers": ["T_Daily"]})
    d = _deployment("prod")
    factory = _factory_as_desired(d, monkeypatch, "Stopped")
    plan = DataFactory().plan(d)
    assert [str(c) for c in plan.changes] == ["start trigger T_Daily (activated)",
                                              "record the triggers it restored, in the ledger"]
    assert "stopped by an interrupted deploy" in plan.notes[0]
    plan.apply()
    assert factory.calls == [("start_trigger", "T_Daily")] and records[-1]["event"] == "triggers-restored"


def test_staging_activates_its_triggers(monkeypatch, records):
    d = _deployment("staging")
    _factory_as_desired(d, monkeypatch, "Stopped")
    assert [str(c) for c in DataFactory().plan(d).changes] == ["start trigger T_Daily (activated)"]


def test_extra_objects_are_kept_unless_pruning_then_deleted_triggers_first(monkeypatch, records):
    def add_extras(objects):
        objects["trigger"]["T_Old"] = {"type": "ScheduleTrigger"}
        objects["dataset"]["Ds_Old"] = {"type": "Binary"}
        objects["pipeline"]["P_Old"] = {"activities": []}
    d = _deployment("prod")
    _factory_as_desired(d, monkeypatch, "Stopped", add_extras)
    kept = DataFactory().plan(d)
    assert kept.changes == [] and "3 objects in the factory are not in the bundle" in kept.notes[0]
    d = _deployment("prod", prune=True)
    factory = _factory_as_desired(d, monkeypatch, "Stopped", add_extras)
    pruned = DataFactory().plan(d)
    assert [str(c) for c in pruned.changes] == ["delete trigger T_Old (no longer in the bundle)",
                                                "delete pipeline P_Old (no longer in the bundle)",
                                                "delete dataset Ds_Old (no longer in the bundle)"]
    pruned.apply()
    assert [c[1:] for c in factory.calls] == [("trigger", "T_Old"), ("pipeline", "P_Old"), ("dataset", "Ds_Old")]


def test_global_parameters_that_differ_are_rewritten_and_touch_every_trigger(monkeypatch, records):
    d = _deployment("prod")
    factory = _factory_as_desired(d, monkeypatch, "Started")
    factory._globals = {**factory._globals, "clusterId": {"type": "String", "value": "old-cluster"}}
    plan = DataFactory().plan(d)
    assert [str(c) for c in plan.changes] == ["record the triggers it stops, in the ledger (T_Daily)",
                                              "stop trigger T_Daily (touched by this change)",
                                              "update factory adf-x global parameters (clusterId)",
                                              "start trigger T_Daily (restored)",
                                              "record the triggers it restored, in the ledger"]
