"""Ad-hoc operations on a running environment (`inv ops.*`): each reads first and writes only what
differs, holds the environment lock while it writes, and records what it did in the ledger.

Each change is planned as a stage's step is (toolkit/release/plan.py: its changes, the write requests they make,
the states they were computed from), so it can be saved with ``--plan-out``, approved, and applied with
``--plan``: re-read under the lock and refused, with zero writes, if anything it read changed since."""
from __future__ import annotations

from typing import Callable

from toolkit.azure.datafactory import Factory, run_failure, wait_for_run
from toolkit.configuration import ConfigError
from toolkit.databricks import clusters
from toolkit.environments.model import Environment
from toolkit.environments.target import Target
from toolkit.release.deployment import Deployment, open_deployed
from toolkit.release.drift import Scope, state_record
from toolkit.release.plan import Plan, StageReport, StepFailed, run_steps
from toolkit.release.slots import live_slot, slot_cluster_name


NO_BUNDLE = "-"  # an ops change releases no bundle: its records and plans name none


class OperationFailed(RuntimeError):
    pass


class _Operation:
    """An ops change as a step: ``make(d)`` plans it with reads, returning a Plan whose apply writes."""

    def __init__(self, name: str, make: Callable[[Deployment], Plan]):
        self.name, self.make = name, make

    def plan(self, d: Deployment) -> Plan:
        return self.make(d)


def carry_out(d: Deployment, task: str, make: Callable[[Deployment], Plan], dry_run: bool,
              say: Callable[[str], None], saved=None, on_report: Callable[[StageReport], None] | None = None
              ) -> StageReport:
    """Plan an ops change (``make``), then apply it under the environment lock unless ``dry_run``; ``saved``: its
    approved plan (toolkit/release/saved_plan.py), the only change it may make. OperationFailed when it fails."""
    step = _Operation(task.removeprefix("ops."), make)
    report = StageReport(task, d.environment.name, d.target.name, NO_BUNDLE, dry_run)
    if saved is not None:
        saved.check(task, d.environment.name, d.target.name, NO_BUNDLE, NO_BUNDLE)
    if dry_run:
        run_steps(report, [step], d, True, say)
    else:
        with d.locked(task):
            if saved is not None:  # under the lock, before the first write
                saved.verify([step], d, say)
            run_steps(report, [step], d, False, say, saved.guard(d) if saved is not None else None)
    if on_report is not None:
        on_report(report)
    if report.outcome != "succeeded":
        raise OperationFailed(report.error)
    return report


def _changed(report: StageReport) -> list[dict]:
    return [c for s in report.steps for c in (s.plan or {}).get("changes", [])]


def require_deployed(environment: Environment, target: Target, deployment_id: str | None,
                     say: Callable[[str], None]) -> Deployment:
    """The deployed environment (OperationFailed when it is not)."""
    d = open_deployed(environment, target, deployment_id, say)
    if d is None:
        raise OperationFailed(f"{environment.name} is not deployed (resource group "
                              f"{environment.resource_group(deployment_id)})")
    return d


def _record(d: Deployment, event: str, outcome: str, **details) -> None:
    from toolkit.release import ledger

    lost = d.lock.lapsed() if d.lock is not None else None
    if lost:
        raise OperationFailed(f"not written to the ledger: {lost}")
    ledger.append_record(d.lake(), ledger.new_record(event, d.environment.name, "-", "-", outcome, **details), d.lock)


def set_triggers(environment: Environment, target: Target, deployment_id: str | None, action: str,
                 trigger: str | None, dry_run: bool, say: Callable[[str], None], saved=None,
                 on_report: Callable[[StageReport], None] | None = None) -> list[str]:
    """Start or stop one trigger (or all); returns the triggers changed (none when all are already so)."""
    d = require_deployed(environment, target, deployment_id, say)
    name = environment.name
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    known = factory.objects("trigger")
    if trigger is not None and trigger not in known:
        raise ConfigError(f"{name} has no trigger {trigger!r} (it has: {', '.join(sorted(known)) or 'none'})")
    wanted = "Started" if action == "start" else "Stopped"

    def make(d: Deployment) -> Plan:
        plan = Plan()
        states = {n: p.get("runtimeState", "Stopped") for n, p in factory.objects("trigger").items()}
        for n, state in sorted(states.items()):
            plan.read(f"trigger {n}", state)
        todo = sorted(n for n, state in states.items() if (trigger in (None, n)) and state != wanted)
        if not todo:
            plan.notes.append(f"{name}: {'trigger ' + trigger if trigger else 'every trigger'} already "
                              f"{wanted.lower()}")
            return plan
        for n in todo:
            plan.add(action, f"trigger {n}", writes={"arm": 1})
        plan.add("record", "the change in the ledger", writes={"storage": 1})

        def apply() -> None:
            for n in todo:
                (factory.start_trigger if action == "start" else factory.stop_trigger)(n)
            _record(d, f"triggers-{action}ed" if action == "start" else "triggers-stopped-by-hand", "succeeded",
                    triggers=todo, fingerprints=state_record(d, Scope(triggers=True)))
        plan.apply = apply
        return plan

    report = carry_out(d, "ops.triggers", make, dry_run, say, saved, on_report)
    return [c["target"].removeprefix("trigger ") for c in _changed(report) if c["action"] == action]


def restart_cluster(environment: Environment, target: Target, deployment_id: str | None, slot: str | None,
                    dry_run: bool, say: Callable[[str], None], saved=None,
                    on_report: Callable[[StageReport], None] | None = None) -> str:
    """Restart the environment's cluster, or a slot's (default: the live slot's); returns its id."""
    d = require_deployed(environment, target, deployment_id, say)
    name = environment.name
    environment = d.environment
    if environment.slots is None:
        if slot is not None:
            raise ConfigError(f"{environment.source}: {name} has no [slots]; restart its cluster without --slot")
        cluster_name = environment.databricks.cluster_name
    else:
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        slot = slot or live_slot(environment, factory.global_parameters())
        if slot not in environment.slots.names:
            raise ConfigError(f"{name}: --slot must be one of {', '.join(environment.slots.names)} (no slot is live)"
                              if slot is None else f"{name} has no slot {slot!r}")
        cluster_name = slot_cluster_name(environment, slot)
    found: dict[str, str] = {}

    def make(d: Deployment) -> Plan:
        plan = Plan()
        cluster = clusters.find_cluster(d.workspace, cluster_name)
        plan.read(f"cluster {cluster_name}", cluster["cluster_id"] if cluster else None)
        if cluster is None:
            raise StepFailed(f"{name} has no cluster {cluster_name}")
        found["cluster_id"] = cluster["cluster_id"]
        plan.add("restart", f"cluster {cluster_name}", f"{cluster['cluster_id']}, {cluster.get('state')}; runs on it "
                 "are interrupted", writes={"databricks": 1, "storage": 1})  # the restart; the ledger record

        def apply() -> None:
            clusters.restart(d.workspace, cluster["cluster_id"], say)
            state = clusters.wait_until_settled(d.workspace, cluster["cluster_id"], say)
            _record(d, "cluster-restarted", "succeeded" if state == "RUNNING" else "failed", slot=slot,
                    cluster=cluster_name, state=state)
            if state != "RUNNING":
                raise StepFailed(f"cluster {cluster_name} is {state} after its restart")
            say(f"cluster {cluster_name} is RUNNING")
        plan.apply = apply
        return plan

    carry_out(d, "ops.restart-cluster", make, dry_run, say, saved, on_report)
    return found["cluster_id"]


def rerun_failed(environment: Environment, target: Target, deployment_id: str | None, run_id: str,
                 timeout_minutes: int, dry_run: bool, say: Callable[[str], None], saved=None,
                 on_report: Callable[[StageReport], None] | None = None) -> dict:
    """Rerun a failed pipeline run from its failed activities (a recovery run in its group: the activities
    that succeeded are not run again); waits for it and returns it. A run that succeeded, or that was
    already rerun, is not rerun."""
    d = require_deployed(environment, target, deployment_id, say)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    found: dict[str, dict | str] = {}

    def make(d: Deployment) -> Plan:
        plan = Plan()
        run = found["run"] = factory.run(run_id)
        plan.read(f"pipeline run {run_id}", {k: run.get(k) for k in ("status", "isLatest", "runGroupId")})
        if run["status"] not in ("Failed", "Cancelled", "Canceled"):
            plan.notes.append(f"pipeline run {run_id} of {run['pipelineName']} is {run['status']}: nothing to rerun")
            return plan
        if run.get("isLatest") is False:
            raise StepFailed(f"pipeline run {run_id} has been rerun already (run group {run.get('runGroupId')}): "
                             "rerun the latest run of its group")
        activities = factory.activity_runs(run_id)
        failed = [a["activityName"] for a in activities if a.get("status") == "Failed"]
        kept = [a["activityName"] for a in activities if a.get("status") == "Succeeded"]
        plan.add("rerun", f"{run['pipelineName']} run {run_id}", f"from {', '.join(failed) or 'its start'}, reusing "
                 f"{len(kept)} succeeded activities: {', '.join(kept) or '-'}", writes={"arm": 1, "storage": 1})

        def apply() -> None:
            new_id = found["new_id"] = factory.rerun_from_failure(run["pipelineName"], run_id)
            _record(d, "pipeline-rerun", "started", pipeline=run["pipelineName"], rerun_of=run_id,
                    pipeline_run_id=new_id)
        plan.apply = apply
        return plan

    carry_out(d, "ops.rerun", make, dry_run, say, saved, on_report)
    if dry_run or "new_id" not in found:
        return found["run"]
    new_id = found["new_id"]
    say(f"recovery run {new_id} started")
    # Production's recovery goes on if the operator stops watching (Ctrl-C, the timeout): only a release stage
    # cancels what it started, since it stops the whole release with it.
    rerun, activities = wait_for_run(factory, new_id, timeout_minutes, say, owned=False)
    if rerun["status"] != "Succeeded":
        raise OperationFailed(f"recovery run {new_id} ended {rerun['status']}: {run_failure(rerun, activities)}")
    return rerun


def rotate_secret(environment: Environment, target: Target, deployment_id: str | None, secret: str,
                  min_age_minutes: int, dry_run: bool, say: Callable[[str], None], saved=None,
                  on_report: Callable[[StageReport], None] | None = None) -> bool:
    """Give a secret a new value in Key Vault: a new Databricks token (the old one revoked), or the value
    of its environment variable. A token rotated less than ``min_age_minutes`` ago is left alone, so a
    retried rotation does not rotate twice. True when the secret changed (or, with ``dry_run``, would)."""
    from toolkit.azure.keyvault import read_secret, write_secret
    from toolkit.environments.model import DatabricksTokenSecret, StorageKeySecret, VariableSecret
    from toolkit.release.plan import Difference
    from toolkit.release.steps.secrets import TOKEN_ID_TAG, rotate_token, secret_value

    d = require_deployed(environment, target, deployment_id, say)
    source = d.environment.secrets.get(secret)
    if source is None:
        raise ConfigError(f"{d.environment.source}: no secret {secret!r} under [secrets] (there are: "
                          f"{', '.join(d.environment.secrets) or 'none'})")
    if isinstance(source, StorageKeySecret):
        raise OperationFailed(f"secret {secret} is the lake's account key: rotating it means regenerating the key in "
                              "Azure and remounting the lake on every cluster, which ops.rotate-secret does not do")

    def make(d: Deployment) -> Plan:
        plan = Plan()
        state = read_secret(d.secrets, secret)
        plan.read(f"secret {secret}", "soft-deleted" if state.deleted else state.version)
        record = {"storage": 1}
        if isinstance(source, VariableSecret):
            wanted = secret_value(d, secret, source)
            if state.value == wanted:
                plan.notes.append(f"secret {secret} already holds the value of {source.variable}: nothing to do")
                return plan
            plan.add("set", f"secret {secret}", f"from {source.variable}", writes={"keyvault": 1, **record},
                     reasons=[Difference("value", secret=True)])

            def apply() -> None:
                write_secret(d.secrets, secret, wanted)
                _record(d, "secret-rotated", "succeeded", secret=secret,
                        fingerprints=state_record(d, Scope(secrets=(secret,))))
        else:
            assert isinstance(source, DatabricksTokenSecret)
            if state.updated_on is not None and min_age_minutes > 0 and \
                    (_now() - state.updated_on).total_seconds() < min_age_minutes * 60:
                plan.notes.append(f"secret {secret} was set at {state.updated_on:%Y-%m-%d %H:%M} UTC, less than "
                                  f"{min_age_minutes} min ago: nothing to do (--min-age 0 rotates anyway)")
                return plan
            revoked = 1 if state.tags.get(TOKEN_ID_TAG) else 0
            plan.add("rotate", f"secret {secret}", "a new Databricks token; the one it replaces revoked",
                     writes={"databricks": 1 + revoked, "keyvault": 1, **record},
                     reasons=[Difference("value", secret=True)])

            def apply() -> None:
                rotate_token(d, secret, source, state)
                _record(d, "secret-rotated", "succeeded", secret=secret,
                        fingerprints=state_record(d, Scope(secrets=(secret,))))
        plan.apply = apply
        return plan

    return bool(_changed(carry_out(d, "ops.rotate-secret", make, dry_run, say, saved, on_report)))


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
