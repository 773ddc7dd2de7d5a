"""Step 7: the Data Factory definitions of the bundle, with the environment's property replacements,
written only where they differ from the factory, in dependency order. Triggers that a change touches
are stopped around it and restored after (or all activated, where the environment says so); objects
no longer in the bundle are deleted only when asked, in reverse dependency order."""
from __future__ import annotations

from toolkit.azure.datafactory import Factory
from toolkit.definitions.adf import load_adf
from toolkit.definitions.adf_deployment import (ORDER, ReplacementError, contains, deploy_order, dependents,
                                                replace_properties)
from toolkit.release import ledger
from toolkit.release.drift import definition_print, list_overwrites
from toolkit.release.deployment import Deployment
from toolkit.release.plan import Difference, Plan, StepFailed, differences
from toolkit.release.steps.storage_access import lake_root


TRIGGERS_STOPPED, TRIGGERS_RESTORED = "triggers-stopped", "triggers-restored"


def stopped_by_an_interrupted_run(lake) -> list[str]:
    """Triggers a deploy stopped (on record in the ledger) and never restored because it died."""
    records = [r for r in ledger.read_ledger(lake)[0]["records"] if r["event"] in (TRIGGERS_STOPPED, TRIGGERS_RESTORED)]
    return records[-1]["triggers"] if records and records[-1]["event"] == TRIGGERS_STOPPED else []


def placeholder_values(d: Deployment) -> dict[str, str]:
    settings = d.environment.databricks
    values = {"environment": d.environment.name, "version": d.version, "release_root": d.release_root,
              "lake_root": lake_root(d), "table_format": settings.table_format,
              "cluster_id": d.value("cluster_id")}
    values.update({f"outputs.{k}": v for k, v in d.outputs.items()})
    return values


def desired_definitions(d: Deployment) -> tuple[dict[str, dict[str, dict]], dict]:
    objects, factory, findings = load_adf(d.bundle, d.bundle / "adf")
    if findings:
        raise StepFailed(f"the bundle's ADF definitions are invalid: {findings[0]}")
    documents = {kind: {name: obj.document for name, obj in by_name.items()} for kind, by_name in objects.items()}
    try:
        documents, factory = replace_properties(documents, factory or {}, d.environment.datafactory.properties,
                                                placeholder_values(d))
    except ReplacementError as exc:
        raise StepFailed(f"{d.environment.source}: {exc}") from None
    for trigger in documents.get("trigger", {}).values():  # read-only: set by start/stop, not by PUT
        trigger.get("properties", {}).pop("runtimeState", None)
    return documents, factory


class DataFactory:
    name = "datafactory"

    def plan(self, d: Deployment) -> Plan:
        plan = Plan()
        settings = d.environment.datafactory
        documents, factory_document = desired_definitions(d)
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        kinds = [k for k in ORDER if documents.get(k) or ((settings.delete_missing or d.options.prune)
                                                          and k != "dataflow")]
        current = {kind: factory.objects(kind) for kind in kinds}
        for kind in kinds:  # every definition as read: one edited in the portal after the plan is named
            for name, properties in current[kind].items():
                plan.read(f"{kind} {name}", properties)
            for name in documents.get(kind, {}):
                if name not in current[kind]:
                    plan.read(f"{kind} {name}", None)

        wanted_globals = (factory_document.get("properties") or {}).get("globalParameters") or {}
        current_globals = factory.global_parameters()
        plan.read(f"factory {factory.name} global parameters", current_globals)
        globals_change = set(wanted_globals) != set(current_globals) or not contains(current_globals, wanted_globals)
        writes = [(k, n) for k, n in deploy_order(documents)
                  if n not in current.get(k, {}) or not contains(current[k][n], documents[k][n]["properties"])]
        touched = dependents(documents, set(writes) | ({("pipeline", p) for p in documents.get("pipeline", {})}
                                                       if globals_change else set()))
        state = {n: p.get("runtimeState", "Stopped") for n, p in current.get("trigger", {}).items()}
        lake = d.lake()
        interrupted = stopped_by_an_interrupted_run(lake)
        plan.read("triggers stopped by an interrupted deploy", interrupted)
        for name in interrupted:  # a run stopped them and died before restoring them: they were Started
            if state.get(name) == "Stopped":
                state[name] = "Started (restoring)"
                plan.notes.append(f"trigger {name} was stopped by an interrupted deploy: it is started again")
        triggers = documents.get("trigger", {})
        to_stop = sorted(n for k, n in touched if k == "trigger" and state.get(n) == "Started")
        final = {n: "Started" if settings.triggers == "activate" or state.get(n, "").startswith("Started")
                 else "Stopped" for n in triggers}
        to_start = sorted(n for n in triggers if final[n] == "Started" and (n in to_stop or state.get(n) != "Started"))
        extra = [(k, n) for k in kinds for n in current.get(k, {}) if n not in documents.get(k, {})]
        deletes = []
        if extra and (settings.delete_missing or d.options.prune):
            deletes = sorted(extra, key=lambda key: -ORDER.index(key[0]))  # triggers first, linked services last
            to_stop += [n for k, n in deletes if k == "trigger" and state.get(n) == "Started" and n not in to_stop]
        elif extra:
            plan.notes.append(f"{len(extra)} objects in the factory are not in the bundle and are kept (--prune "
                              f"deletes them): {', '.join(f'{k} {n}' for k, n in extra)}")

        live_triggers = {n: p.get("runtimeState", "Stopped") for n, p in current.get("trigger", {}).items()}
        list_overwrites(plan, d, {
            **{f"factory/{kind}/{name}": definition_print(current[kind][name]) if name in current.get(kind, {})
               else None for kind, name in writes + deletes},
            **{f"triggers/{n}": live_triggers.get(n) for n in to_start + to_stop
               if final.get(n, "Stopped") != live_triggers.get(n)}})
        if to_stop:  # on record first (see apply)
            plan.add("record", "the triggers it stops, in the ledger", ", ".join(to_stop), writes={"storage": 1})
        for name in to_stop:
            plan.add("stop", f"trigger {name}", "touched by this change", writes={"arm": 1})
        if globals_change:
            plan.add("update", f"factory {factory.name} global parameters",
                     ", ".join(sorted(n for n in set(wanted_globals) | set(current_globals)
                                      if wanted_globals.get(n) != current_globals.get(n))), writes={"arm": 1},
                     reasons=[Difference(n, current_globals.get(n), wanted_globals.get(n))
                              for n in sorted(set(wanted_globals) | set(current_globals))
                              if wanted_globals.get(n) != current_globals.get(n)])
        for kind, name in writes:
            existing = current.get(kind, {}).get(name)
            plan.add("create" if existing is None else "update", f"{kind} {name}", writes={"arm": 1},
                     reasons=differences(existing, documents[kind][name]["properties"]) if existing else ())
        for kind, name in deletes:
            plan.add("delete", f"{kind} {name}", "no longer in the bundle", writes={"arm": 1})
        for name in to_start:
            plan.add("start", f"trigger {name}", "restored" if name in to_stop else "activated", writes={"arm": 1})
        if to_stop or interrupted:
            plan.add("record", "the triggers it restored, in the ledger", writes={"storage": 1})
        if not plan.changes:
            return plan

        def apply() -> None:
            restore = sorted(set(to_stop) | set(interrupted))
            if to_stop:  # on record first, so that a run killed before the restore is repaired by the next one
                d.record(TRIGGERS_STOPPED, "stopped", triggers=restore)
            for name in to_stop:
                factory.stop_trigger(name)
            for kind, name in writes:
                factory.put(kind, name, documents[kind][name]["properties"])
            if globals_change:  # after the objects: in a blue/green swap this one write is the pointer's flip
                factory.set_global_parameters(wanted_globals)
            for kind, name in deletes:
                factory.delete(kind, name)
            for name in to_start:
                factory.start_trigger(name)
            if to_stop or interrupted:
                d.record(TRIGGERS_RESTORED, "restored", triggers=restore)
        plan.apply = apply
        return plan
