"""Ad-hoc operations on a running environment (`inv ops.*`): each reads first and writes only what
differs, holds the environment lock while it writes, and records what it did in the ledger."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from toolkit.azure.datafactory import Factory
from toolkit.configuration import ConfigError
from toolkit.databricks import clusters
from toolkit.environments.model import load_environment
from toolkit.environments.target import Target
from toolkit.release.deployment import Deployment, open_deployed
from toolkit.release.lock import EnvironmentLock
from toolkit.release.slots import live_slot, slot_cluster_name


class OperationFailed(RuntimeError):
    pass


def _deployed(environments: Path, target: Target, name: str, deployment_id: str | None,
              say: Callable[[str], None]) -> Deployment:
    environment = load_environment(environments, name, target.name)
    d = open_deployed(environment, target, deployment_id, say)
    if d is None:
        raise OperationFailed(f"{name} is not deployed (resource group {environment.resource_group(deployment_id)})")
    return d


@contextmanager
def _locked(d: Deployment, task: str) -> Iterator[None]:
    with EnvironmentLock(d.lake(), d.environment.name, task, d.say).acquire() as lock:
        d.lock = lock
        try:
            yield
        finally:
            d.lock = None


def _record(d: Deployment, event: str, outcome: str, **details) -> None:
    from toolkit.release import ledger

    ledger.append_record(d.lake(), ledger.new_record(event, d.environment.name, "-", "-", outcome, **details), d.lock)


def set_triggers(environments: Path, target: Target, name: str, deployment_id: str | None, action: str,
                 trigger: str | None, dry_run: bool, say: Callable[[str], None]) -> list[str]:
    """Start or stop one trigger (or all); returns the triggers changed (none when all are already so)."""
    d = _deployed(environments, target, name, deployment_id, say)
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
    with _locked(d, f"ops.triggers {action}"):
        for n in todo:
            (factory.start_trigger if action == "start" else factory.stop_trigger)(n)
        _record(d, f"triggers-{action}ed" if action == "start" else "triggers-stopped-by-hand", "succeeded",
                triggers=todo)
    return todo


def restart_cluster(environments: Path, target: Target, name: str, deployment_id: str | None, slot: str | None,
                    dry_run: bool, say: Callable[[str], None]) -> str:
    """Restart the environment's cluster, or a slot's (default: the live slot's); returns its id."""
    d = _deployed(environments, target, name, deployment_id, say)
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
        with _locked(d, "ops.restart-cluster"):
            clusters.restart(d.workspace, cluster["cluster_id"], say)
            _record(d, "cluster-restarted", "succeeded", slot=slot, cluster=cluster_name)
    return cluster["cluster_id"]
