"""Ad-hoc operations on a running environment (`inv ops.*`): each reads first and writes only what
differs, holds the environment lock while it writes, and records what it did in the ledger."""
from __future__ import annotations

from typing import Callable

from toolkit.azure.datafactory import Factory, run_failure, wait_for_run
from toolkit.configuration import ConfigError
from toolkit.databricks import clusters
from toolkit.environments.model import Environment
from toolkit.environments.target import Target
from toolkit.release.deployment import Deployment, open_deployed
from toolkit.release.slots import live_slot, slot_cluster_name


class OperationFailed(RuntimeError):
    pass


def _deployed(environment: Environment, target: Target, deployment_id: str | None,
              say: Callable[[str], None]) -> Deployment:
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
                 trigger: str | None, dry_run: bool, say: Callable[[str], None]) -> list[str]:
    """Start or stop one trigger (or all); returns the triggers changed (none when all are already so)."""
    d = _deployed(environment, target, deployment_id, say)
    name = environment.name
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    states = {n: p.get("runtimeState", "Stopped") for n, p in factory.objects("trigger").items()}
    if trigger is not None and trigger not in states:
        raise ConfigError(f"{name} has no trigger {trigger!r} (it has: {', '.join(sorted(states)) or 'none'})")
    wanted = "Started" if action == "start" else "Stopped"
    todo = sorted(n for n, state in states.items() if (trigger in (None, n)) and state != wanted)
    if not todo:
        say(f"{name}: {'trigger ' + trigger if trigger else 'every trigger'} already {wanted.lower()}")
        return []
    for n in todo:
        say(f"{'would ' if dry_run else ''}{action} trigger {n}")
    if dry_run:
        return todo
    with d.locked(f"ops.triggers {action}"):
        for n in todo:
            (factory.start_trigger if action == "start" else factory.stop_trigger)(n)
        _record(d, f"triggers-{action}ed" if action == "start" else "triggers-stopped-by-hand", "succeeded",
                triggers=todo)
    return todo


def restart_cluster(environment: Environment, target: Target, deployment_id: str | None, slot: str | None,
                    dry_run: bool, say: Callable[[str], None]) -> str:
    """Restart the environment's cluster, or a slot's (default: the live slot's); returns its id."""
    d = _deployed(environment, target, deployment_id, say)
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
    cluster = clusters.find_cluster(d.workspace, cluster_name)
    if cluster is None:
        raise OperationFailed(f"{name} has no cluster {cluster_name}")
    say(f"{'would restart' if dry_run else 'restarting'} cluster {cluster_name} ({cluster['cluster_id']}, "
        f"{cluster.get('state')})")
    if not dry_run:
        with d.locked("ops.restart-cluster"):
            clusters.restart(d.workspace, cluster["cluster_id"], say)
            state = clusters.wait_until_settled(d.workspace, cluster["cluster_id"], say)
            _record(d, "cluster-restarted", "succeeded" if state == "RUNNING" else "failed", slot=slot,
                    cluster=cluster_name, state=state)
        if state != "RUNNING":
            raise OperationFailed(f"cluster {cluster_name} is {state} after its restart")
        say(f"cluster {cluster_name} is RUNNING")
    return cluster["cluster_id"]


def rerun_failed(environment: Environment, target: Target, deployment_id: str | None, run_id: str,
                 timeout_minutes: int, dry_run: bool, say: Callable[[str], None]) -> dict:
    """Rerun a failed pipeline run from its failed activities (a recovery run in its group: the activities
    that succeeded are not run again); waits for it and returns it. A run that succeeded, or that was
    already rerun, is not rerun."""
    d = _deployed(environment, target, deployment_id, say)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    run = factory.run(run_id)
    if run["status"] not in ("Failed", "Cancelled", "Canceled"):
        say(f"pipeline run {run_id} of {run['pipelineName']} is {run['status']}: nothing to rerun")
        return run
    if run.get("isLatest") is False:
        raise OperationFailed(f"pipeline run {run_id} has been rerun already (run group {run.get('runGroupId')}): "
                              "rerun the latest run of its group")
    activities = factory.activity_runs(run_id)
    failed = [a["activityName"] for a in activities if a.get("status") == "Failed"]
    kept = [a["activityName"] for a in activities if a.get("status") == "Succeeded"]
    say(f"{'would rerun' if dry_run else 'rerunning'} {run['pipelineName']} run {run_id} from "
        f"{', '.join(failed) or 'its start'} (reusing {len(kept)} succeeded activities: {', '.join(kept) or '-'})")
    if dry_run:
        return run
    with d.locked("ops.rerun"):
        new_id = factory.rerun_from_failure(run["pipelineName"], run_id)
        _record(d, "pipeline-rerun", "started", pipeline=run["pipelineName"], rerun_of=run_id, pipeline_run_id=new_id)
    say(f"recovery run {new_id} started")
    # Production's recovery goes on if the operator stops watching (Ctrl-C, the timeout): only a release stage
    # cancels what it started, since it stops the whole release with it.
    rerun, activities = wait_for_run(factory, new_id, timeout_minutes, say, owned=False)
    if rerun["status"] != "Succeeded":
        raise OperationFailed(f"recovery run {new_id} ended {rerun['status']}: {run_failure(rerun, activities)}")
    return rerun


def rotate_secret(environment: Environment, target: Target, deployment_id: str | None, secret: str,
                  min_age_minutes: int, dry_run: bool, say: Callable[[str], None]) -> bool:
    """Give a secret a new value in Key Vault: a new Databricks token (the old one revoked), or the value
    of its environment variable. A token rotated less than ``min_age_minutes`` ago is left alone, so a
    retried rotation does not rotate twice. True when the secret changed."""
    from toolkit.azure.keyvault import read_secret, write_secret
    from toolkit.environments.model import DatabricksTokenSecret, StorageKeySecret, VariableSecret
    from toolkit.release.steps.secrets import rotate_token, secret_value

    d = _deployed(environment, target, deployment_id, say)
    source = d.environment.secrets.get(secret)
    if source is None:
        raise ConfigError(f"{d.environment.source}: no secret {secret!r} under [secrets] (there are: "
                          f"{', '.join(d.environment.secrets) or 'none'})")
    if isinstance(source, StorageKeySecret):
        raise OperationFailed(f"secret {secret} is the lake's account key: rotating it means regenerating the key in "
                              "Azure and remounting the lake on every cluster, which ops.rotate-secret does not do")
    state = read_secret(d.secrets, secret)
    if isinstance(source, VariableSecret):
        wanted = secret_value(d, secret, source)
        if state.value == wanted:
            say(f"secret {secret} already holds the value of {source.variable}: nothing to do")
            return False
        say(f"{'would set' if dry_run else 'setting'} secret {secret} from {source.variable}")
        if not dry_run:
            with d.locked("ops.rotate-secret"):
                write_secret(d.secrets, secret, wanted)
                _record(d, "secret-rotated", "succeeded", secret=secret)
        return True
    assert isinstance(source, DatabricksTokenSecret)
    if state.updated_on is not None and min_age_minutes > 0 and \
            (_now() - state.updated_on).total_seconds() < min_age_minutes * 60:
        say(f"secret {secret} was set at {state.updated_on:%Y-%m-%d %H:%M} UTC, less than {min_age_minutes} min ago: "
            "nothing to do (--min-age 0 rotates anyway)")
        return False
    say(f"{'would create' if dry_run else 'creating'} a new Databricks token for secret {secret} and revoke the "
        "one it replaces")
    if not dry_run:
        with d.locked("ops.rotate-secret"):
            rotate_token(d, secret, source, state)
            _record(d, "secret-rotated", "succeeded", secret=secret)
    return True


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
