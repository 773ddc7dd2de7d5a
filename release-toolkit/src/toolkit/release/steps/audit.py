"""Blue/green environments: the audit before the swap (write, audit, then publish). After the idle slot's smoke
test, production's last landed load is processed again in a shadow area of the lake, twice and at once: by the
idle slot's notebooks on its cluster, and by the live slot's notebooks on the live cluster. Both start from the
same copy of the live dimensions (without the audited load's own rows), with the live load's id and instant, and
read their input from their own root; nothing the live slot reads or writes is touched. The two outputs are then
compared (toolkit/audit/shadow_notebook.py), judged against [audit.gates] and the release's declared intentions
(toolkit/audit/gates.py), and recorded in the ledger, where `swap` looks for it.

Why the live side is the live slot's own run of the same input, not the live tables filtered to that load: type 1
dimensions are rewritten in place, so the state the live run started from is gone (Parquet keeps no history,
Delta only until VACUUM), and later loads have changed the live tables since. Two runs of one input from one
starting state differ only by their code."""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import resources

from toolkit.audit import areas, gates, history, intended, report
from toolkit.azure.datafactory import Factory, run_values
from toolkit.configuration import ConfigError
from toolkit.databricks.runs import NotebookRun, run_notebook
from toolkit.databricks.workspace_files import WorkspaceObject, import_objects, read_file
from toolkit.definitions.adf_deployment import ReplacementError, render
from toolkit.release import ledger
from toolkit.release.deployment import Deployment
from toolkit.release.markers import read_marker
from toolkit.release.plan import Plan, StepFailed
from toolkit.release.slots import live_slot, pointer
from toolkit.release.steps.storage_access import lake_root

EVENT = history.EVENT
# What the audit judges: the slot's code and cluster (application) and its way to the data (storage access). A
# redeploy that changed only other things (the ARM template, secrets) is not audited again.
JUDGED_STEPS = ("application", "storage-access")


def notebook_source() -> bytes:
    """The audit's own notebook, as the toolkit's package holds it."""
    return resources.files("toolkit.audit").joinpath("shadow_notebook.py").read_bytes()


@dataclass(frozen=True)
class AuditedLoad:
    """The load both runs process: its landing folder (relative to the lake root), id and instant."""
    folder: str
    load_id: str
    loaded_on: str
    run_id: str | None  # the pipeline run that landed it (None: named with --audit-input, and no run found)


def notebook_path(d: Deployment) -> str:
    return f"{d.environment.slots.root}/_audit/shadow_audit"


def last_audit(records: list[dict], slot: str, version: str, digest: str) -> dict | None:
    """The newest audit of ``slot`` holding this version (this bundle)."""
    return next((r for r in reversed(records) if r["event"] == EVENT and r.get("slot") == slot
                 and r["version"] == version and r["bundle_digest"] == digest), None)


def find_load(d: Deployment, factory: Factory, folder: str | None = None) -> AuditedLoad | None:
    """The load of the newest successful run of the audited pipeline (or, with ``folder``, of the newest one that
    landed that folder); None when there is none. A folder no run landed is audited under an id of its own."""
    settings = d.environment.audit
    for run in factory.succeeded_runs(settings.pipeline, settings.lookback_days):
        values = run_values(run, factory.activity_runs(run["runId"]))
        try:
            load = AuditedLoad(*(render(getattr(settings.input, k), values, f"audit.input.{k}")
                                 for k in ("folder", "load_id", "loaded_on")), run_id=run["runId"])
        except ReplacementError as exc:
            raise StepFailed(f"{d.environment.source}: {str(exc).replace('[datafactory.properties] ', '')} (in "
                             f"run {run['runId']} of {settings.pipeline})") from None
        if folder is None or load.folder.strip("/") == folder.strip("/"):
            return load
    if folder is None:
        return None
    digest = hashlib.sha256(folder.encode()).hexdigest()[:12]
    return AuditedLoad(folder.strip("/"), f"audit-{digest}", datetime.now(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S"), None)


def swap_refusals(environment, slot: str, version: str, digest: str, records: list[dict]) -> list[str]:
    """Why the audit keeps ``slot`` from going live (empty: it does not): no audit of its version, a failed one,
    or breaches, judged again with the environment's gates as they are now and the release's declared intentions."""
    found = last_audit(records, slot, version, digest)
    if found is None:
        return [f"slot {slot}'s version {version} has not been audited there ({environment.source} has [audit]: "
                "deploy-prod audits it; --retest audits again)"]
    if found["outcome"] == "failed":
        return [f"the audit of slot {slot} failed at {found['when']}: {found.get('error')}"]
    if found["outcome"] == "no-baseline":
        return []
    findings = gates.evaluate(found.get("diff") or {}, environment.audit.gates,
                              intended.patterns(found.get("intended")))
    return [f"audit of slot {slot} at {found['when']}: {breach}" for breach in gates.breaches(findings)]


class Audit:
    name = "audit"

    def plan(self, d: Deployment) -> Plan:
        plan, settings = Plan(), d.environment.audit
        if settings is None:
            plan.notes.append(f"{d.environment.source} defines no [audit]: swap will not ask for one")
            return plan
        try:
            intended.read(d.bundle)  # a malformed declaration fails here, before any write
        except ConfigError as exc:
            raise StepFailed(str(exc)) from None
        records = ledger.read_ledger(d.lake())[0]["records"]
        last = last_audit(records, d.slot, d.version, d.manifest.digest)
        plan.read(f"last audit of slot {d.slot} with this version", last)
        judged = [s for s in d.changed_steps if s in JUDGED_STEPS]
        if last and last["outcome"] != "failed" and not judged and not d.options.retest and not d.options.audit_input:
            plan.notes.append(f"slot {d.slot} was audited with version {d.version} at {last['when']} "
                              f"({last['outcome']}) and what it judged has not changed since (--retest audits again)")
            return plan
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        factory_globals = factory.global_parameters()
        live = live_slot(d.environment, factory_globals)
        # Which load is audited is read when the audit runs (a load landed after the plan is the better one), so it
        # is not among what an approved plan must find unchanged.
        load = find_load(d, factory, d.options.audit_input)
        if live is None or load is None:
            why = "no live slot yet" if live is None else \
                f"no successful run of {settings.pipeline} in the last {settings.lookback_days} days"
            plan.add("record", f"audit of slot {d.slot}: no baseline", f"{why}: nothing to compare with",
                     writes={"storage": 1})
            plan.apply = lambda: self._no_baseline(d, why)
            return plan
        plan.notes.append(f"audits load {load.load_id} (landing folder {load.folder}) against live slot {live}")
        old = areas.to_remove(d.lake(), d.environment, keep=settings.keep - 1)
        for area, blobs in old.items():
            plan.add("delete", f"shadow area {settings.area}/{area}", f"older than the last {settings.keep - 1}",
                     writes={"storage": blobs})
        source = notebook_source()
        if read_file(d.workspace, notebook_path(d)) != source:
            plan.add("import", f"notebook {notebook_path(d)}", "the toolkit's audit notebook",
                     writes={"databricks": 2})  # its folder, then the notebook
        runs = 2 + 2 * len(settings.notebooks)
        plan.add("run", f"shadow runs of slot {d.slot} and live slot {live}",
                 f"{len(settings.notebooks)} notebooks each, at once, then the comparison", writes={"databricks": runs})
        plan.add("record", f"audit of slot {d.slot}", "in the ledger, and in reports/", writes={"storage": 1})
        plan.apply = lambda: self._run(d, factory_globals, old)
        return plan

    # -- apply -----------------------------------------------------------------------------------
    def _no_baseline(self, d: Deployment, why: str) -> None:
        record = {"outcome": "no-baseline", "why": why}
        self._finish(d, record)

    def _run(self, d: Deployment, factory_globals: dict, old: dict[str, int]) -> None:
        settings = d.environment.audit
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        load = find_load(d, factory, d.options.audit_input)
        if load is None:  # the plan found one: it is gone since (a run history purged meanwhile)
            return self._no_baseline(d, f"no successful run of {settings.pipeline} any more")
        areas.remove(d.lake(), d.environment, old, d.say)
        source = notebook_source()
        if read_file(d.workspace, notebook_path(d)) != source:
            import_objects(d.workspace, [WorkspaceObject(notebook_path(d), source, True)], lambda o: None)
        live = live_slot(d.environment, factory_globals)
        live_pointer = pointer(factory_globals)
        live_version = (read_marker(d.workspace, live_pointer["notebook_root"].rsplit("/", 1)[0]) or {}).get("version")
        area = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{d.slot}"
        root = f"{lake_root(d)}/{settings.area}/{area}"
        sides = {"live": (live_pointer["notebook_root"], live_pointer["cluster_id"], f"{root}/live"),
                 "idle": (f"{d.release_root}/notebooks", d.value("cluster_id"), f"{root}/idle")}
        record = {"load": asdict(load), "against": {"slot": live, "version": live_version},
                  "area": f"{settings.area}/{area}", "intended": [p.model_dump() for p in intended.read(d.bundle)]}
        d.say(f"audit of slot {d.slot}: load {load.load_id} ({load.folder}) in shadow area {record['area']}, "
              f"against live slot {live} ({live_version})")
        try:
            common = {"live_root": lake_root(d), "baseline_root": sides["live"][2], "candidate_root": sides["idle"][2]}
            prepared = self._notebook(d, "prepare", common, {
                "input": load.folder, "start_tables": settings.start_tables, "load_column": settings.load_column,
                "load_id": load.load_id, "table_format": d.environment.databricks.table_format})
            record["prepared"] = prepared
            with ThreadPoolExecutor(2, thread_name_prefix="audit") as pool:
                done = {side: pool.submit(self._side, d, side, *sides[side], load) for side in sides}
                record["runs"] = {side: future.result() for side, future in done.items()}
            wanted = settings.coverage
            record["diff"] = self._notebook(d, "compare", common, {
                "tables": {t: s.keys for t, s in settings.tables.items()}, "examples": settings.examples,
                "table_format": d.environment.databricks.table_format,
                "coverage": wanted.model_dump() if wanted else None})
        except StepFailed as failure:
            self._finish(d, {**record, "outcome": "failed", "error": str(failure)})
            raise
        findings = gates.evaluate(record["diff"], settings.gates, intended.patterns(record["intended"]))
        record["findings"] = gates.as_dicts(findings)
        record["breaches"] = gates.breaches(findings)
        record["outcome"] = "breached" if record["breaches"] else "passed"
        self._finish(d, record)

    def _notebook(self, d: Deployment, mode: str, roots: dict, settings: dict) -> dict:
        run = run_notebook(d.workspace, d.value("cluster_id"), notebook_path(d),
                           {"mode": mode, **roots, "settings": json.dumps(settings)},
                           f"audit {mode} of slot {d.slot} ({d.environment.name})", d.environment.audit.timeout_minutes,
                           d.say)
        if not run.succeeded or not isinstance(run.output, dict):
            raise StepFailed(f"the audit's {mode} run ended {run.result_state}: {run.error} (run page: {run.page_url})")
        return run.output

    @staticmethod
    def _side(d: Deployment, side: str, notebooks_root: str, cluster_id: str, root: str,
              load: AuditedLoad) -> list[dict]:
        """One side's notebooks, in order, into its own shadow root."""
        values = {"lake_root": root, "table_format": d.environment.databricks.table_format, "input": load.folder,
                  "load_id": load.load_id, "loaded_on": load.loaded_on}
        done = []
        for step in d.environment.audit.notebooks:
            try:
                parameters = {k: render(v, values, f"audit.notebooks.{step.notebook}.{k}")
                              for k, v in step.parameters.items()}
            except ReplacementError as exc:
                raise StepFailed(f"{d.environment.source}: {str(exc).replace('[datafactory.properties] ', '')}") \
                    from None
            run: NotebookRun = run_notebook(d.workspace, cluster_id, f"{notebooks_root}/{step.notebook}", parameters,
                                            f"audit: {side} slot's {step.notebook} ({d.environment.name})",
                                            d.environment.audit.timeout_minutes, d.say)
            done.append({"notebook": step.notebook, "run_id": run.run_id, "state": run.result_state,
                         "seconds": run.seconds})
            if not run.succeeded:
                who = f"the idle slot {d.slot}" if side == "idle" else "the live slot"
                raise StepFailed(f"the audit's shadow run of {who}'s {step.notebook} ended {run.result_state}: "
                                 f"{run.error} (run page: {run.page_url})")
        return done

    @staticmethod
    def _finish(d: Deployment, record: dict) -> None:
        outcome = record.pop("outcome")
        d.record(EVENT, outcome, **record)
        written = ledger.read_ledger(d.lake())[0]["records"]
        entry = last_audit(written, d.slot, d.version, d.manifest.digest)
        markdown = report.markdown(entry)
        if d.reports is not None:
            paths = report.write(entry, d.reports)
            d.say(f"audit report: {', '.join(str(p) for p in paths)}")
        d.sections.append(markdown)
        d.audit = entry
        line = report.headline(entry)
        d.say(line)
        d.results.append(line)
