"""inv ops.* (the `ops` collection): what on-call people do to a running environment. Each task is thin
over the library, idempotent, has --dry-run, and asks before a destructive change unless --yes (CI passes
--yes)."""
import json

from invoke import task

from parking_release.common import SOURCE_HELP, confirm, deployed, deployment_id, failures, say
from parking_release.context import workplace
from parking_release.release import PLAN_HELP, run_swap

_WHERE = {"env": "qa, staging or prod", "deployment-id": "for qa: which on-demand environment",
          "target": "sandbox (default) or azure", **SOURCE_HELP}


def _deployed(c, env, deployment_id_, target, version, store_config, show_progress=True):
    """(environment, target): the environment file of the release ``env`` runs (see parking_release.common)."""
    return deployed(workplace(c), target, env, deployment_id(deployment_id_, env), store_config, version,
                    show_progress)


@task(help={**_WHERE, "json": "print it as JSON", "last": "how many ledger records"})
def status(c, env, deployment_id_=None, target="sandbox", json_=False, last=20, version=None, store_config=None):
    """What an environment runs (live slot, release root, cluster), what each slot holds, and its ledger."""
    from toolkit.release.lock import describe_holder
    from toolkit.release.status import environment_status

    with failures("ops.status", json_):
        environment, chosen = _deployed(c, env, deployment_id_, target, version, store_config, not json_)
        found = environment_status(environment, chosen, deployment_id(deployment_id_, env), int(last))
    if json_:
        print(json.dumps(found, indent=2))
        return
    if not found["deployed"]:
        print(f"{env}: nothing deployed in resource group {found['resource_group']}")
        return
    print(f"{env} ({found['resource_group']}): factory runs {found['factory_runs']['notebook_root']} on cluster "
          f"{found['factory_runs']['cluster_id']}")
    for slot in found["slots"] or []:
        print(f"  slot {slot['name']:<6} {'LIVE' if slot['live'] else 'idle':<5} "
              f"{slot['version'] or '(no complete release)':<40} cluster {slot['cluster_id'] or '-'}")
    if found["lock"]:
        print(f"  locked by {describe_holder(found['lock'])}")
    for record in found["records"]:
        where = f" slot {record['slot']}" if record.get("slot") else ""
        print(f"  {record['when']}  {record['event']:<18} {record['outcome']:<9} {record['version']}{where}  "
              f"by {record['who']}@{record['host']}" + (f"  {record['error']}" if record.get("error") else ""))


@task(help={**_WHERE, "yes": "do not ask for confirmation", "dry-run": "show who holds the lock and break nothing"})
def unlock(c, env, deployment_id_=None, target="sandbox", yes=False, dry_run=False, version=None, store_config=None):
    """Break an environment's lock after showing who holds it (for a run that is gone)."""
    from toolkit.release.lock import break_lock, current_holder, describe_holder
    from toolkit.release.status import environment_lake

    with failures("ops.unlock"):
        environment, chosen = _deployed(c, env, deployment_id_, target, version, store_config)
        lake = environment_lake(environment, chosen, deployment_id(deployment_id_, env))
        holder = current_holder(lake) if lake is not None else None
        if holder is None:
            print(f"{env} is not locked: nothing to do")
            return
        print(f"{env} is locked by {describe_holder(holder)}")
        if dry_run:
            return
        confirm("break this lock?", yes)
        break_lock(lake)
        print(f"{env}: lock broken")


@task(help={"env": "the blue/green environment (default: prod)", "target": "sandbox (default) or azure",
            "dry-run": "run the checks and show what would be written; write nothing",
            "force": "roll back even if the checks refuse (recorded)", "yes": "do not ask for confirmation",
            "json": "print the report as JSON", "wait": "wait for the environment lock",
            "store-config": SOURCE_HELP["store-config"], **PLAN_HELP})
def rollback(c, env="prod", target="sandbox", dry_run=False, force=False, yes=False, json_=False, wait=False,
             store_config=None, plan_out=None, plan=None, plan_sha256=None):
    """Put the previously live slot back: a swap, with its checks, that only goes to a slot that was live."""
    run_swap(c, "ops.rollback", env=env, target=target, dry_run=dry_run, force=force, yes=yes, json_=json_, wait=wait,
             store_config=store_config, rollback=True, plan_out=plan_out, plan=plan, plan_sha256=plan_sha256)


@task(help={**_WHERE, "action": "start or stop", "name": "the trigger (default: every trigger of the factory)",
            "dry-run": "say what would change", "yes": "do not ask before stopping"})
def triggers(c, env, action, name=None, deployment_id_=None, target="sandbox", dry_run=False, yes=False, version=None,
             store_config=None):
    """Start or stop an environment's Data Factory triggers: `inv ops.triggers --env prod --action stop`."""
    from toolkit.release.operations import set_triggers

    if action not in ("start", "stop"):
        from invoke import Exit

        raise Exit(f"ops.triggers: action must be start or stop, not {action!r}", code=2)
    if action == "stop" and not dry_run:
        confirm(f"stop {'trigger ' + name if name else 'every trigger'} of {env}?", yes)
    with failures("ops.triggers"):
        environment, chosen = _deployed(c, env, deployment_id_, target, version, store_config)
        set_triggers(environment, chosen, deployment_id(deployment_id_, env), action, name, dry_run, say)


_RESTART_HELP = {**_WHERE, "slot": "blue/green: the slot whose cluster restarts (default: the live one)",
                 "dry-run": "say what would restart", "yes": "do not ask for confirmation"}


@task(name="restart-cluster", help=_RESTART_HELP)
def restart_cluster(c, env, slot=None, deployment_id_=None, target="sandbox", dry_run=False, yes=False, version=None,
                    store_config=None):
    """Restart the cluster of an environment (of one of its slots): runs on it are interrupted."""
    from toolkit.release.operations import restart_cluster as restart

    if not dry_run:
        confirm(f"restart the cluster of {env}{' slot ' + slot if slot else ''}? runs on it are interrupted", yes)
    with failures("ops.restart-cluster"):
        environment, chosen = _deployed(c, env, deployment_id_, target, version, store_config)
        restart(environment, chosen, deployment_id(deployment_id_, env), slot, dry_run, say)


@task(help={**_WHERE, "run-id": "the failed pipeline run", "dry-run": "say what would be rerun",
            "timeout-minutes": "how long to wait for the recovery run (default 60)"})
def rerun(c, env, run_id, deployment_id_=None, target="sandbox", dry_run=False, timeout_minutes=60, version=None,
          store_config=None):
    """Rerun a failed pipeline run from its failed activity (what succeeded is not run again); waits for it."""
    from toolkit.release.operations import rerun_failed

    with failures("ops.rerun"):
        environment, chosen = _deployed(c, env, deployment_id_, target, version, store_config)
        rerun_failed(environment, chosen, deployment_id(deployment_id_, env), run_id, int(timeout_minutes), dry_run,
                     say)


@task(name="rotate-secret", help={**_WHERE, "name": "the secret, as named under [secrets] in the environment file",
                                  "dry-run": "say what would change", "yes": "do not ask for confirmation",
                                  "min-age": "minutes: a token set more recently is left alone (default 60; 0 "
                                             "rotates anyway)"})
def rotate_secret(c, env, name, deployment_id_=None, target="sandbox", dry_run=False, yes=False, min_age=60,
                  version=None, store_config=None):
    """Give a Key Vault secret a new value: a new Databricks token (the old one revoked), or its variable's value."""
    from toolkit.release.operations import rotate_secret as rotate

    if not dry_run:
        confirm(f"rotate secret {name} of {env}? (a replaced token is revoked at once)", yes)
    with failures("ops.rotate-secret"):
        environment, chosen = _deployed(c, env, deployment_id_, target, version, store_config)
        rotate(environment, chosen, deployment_id(deployment_id_, env), name, int(min_age), dry_run, say)
