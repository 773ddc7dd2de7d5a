"""inv ops.* (the `ops` collection): what on-call people do to a running environment. Each task is thin
over the library, idempotent, has --dry-run, and asks before a destructive change unless --yes (CI passes
--yes)."""
import json

from invoke import task

from parking_release.common import SOURCE_HELP, confirm, deployed, deployment_id, failures, say
from parking_release.context import workplace
from parking_release.release import PLAN_HELP, plan_options, plan_shown, run_swap, saved_plan, write_plan_out

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


DRIFT_EXIT = {"none": 0, "drift": 3, "unknown": 1}  # as terraform plan -detailed-exitcode; 2 stays bad input


@task(help={**_WHERE, "json": "print the findings as JSON"})
def drift(c, env, deployment_id_=None, target="sandbox", json_=False, version=None, store_config=None):
    """What differs between an environment and what the toolkit last put there (factory definitions, trigger
    states, cluster specs and libraries, secret versions, the slot pointer). Exit 0: none; 3: drift; 1: it
    could not tell; 2: bad input."""
    from invoke import Exit

    from toolkit.release.drift import find_drift

    with failures("ops.drift", json_):
        environment, chosen = _deployed(c, env, deployment_id_, target, version, store_config, not json_)
        found = find_drift(environment, chosen, deployment_id(deployment_id_, env), say)
    verdict = "drift" if found.drifted else "unknown" if found.unknown else "none"
    if json_:
        print(json.dumps({"environment": env, "verdict": verdict, "items": [vars(i) for i in found.items],
                          "cannot_tell": found.unknown}, indent=2))
    else:
        for item in found.items:
            print(f"  {item.change:<8} {item}")
        if found.unknown:
            print(f"{env}: cannot tell for {', '.join(found.unknown)}: no release recorded their state (a deploy or "
                  "swap by this toolkit records it)")
        if found.drifted or not found.unknown:
            print(f"{env}: {len(found.items)} item{'s' if len(found.items) != 1 else ''} drifted from what the "
                  "toolkit last put there" if found.drifted else f"{env}: no drift")
    if DRIFT_EXIT[verdict]:
        raise Exit(code=DRIFT_EXIT[verdict])


AUDIT_EXIT = {"passed": 0, "no-baseline": 0, "breached": 3, "failed": 1}


@task(help={"env": "the blue/green environment (default: prod)", "target": "sandbox (default) or azure",
            "slot": "the slot whose audit to show (default: the newest audit of either)",
            "json": "print the ledger's record as JSON", **SOURCE_HELP})
def audit(c, env="prod", target="sandbox", slot=None, json_=False, version=None, store_config=None):
    """The last audit before a swap: the idle slot's output on production's last load against the live slot's
    (tables, rows, keys, changed columns, reference coverage, breaches). Exit 0: passed (or no baseline); 3:
    breached; 1: failed, or none recorded; 2: bad input."""
    from invoke import Exit

    from toolkit.audit import history, report

    with failures("ops.audit", json_):
        environment, chosen = _deployed(c, env, None, target, version, store_config, not json_)
        found = history.latest(environment, chosen, slot)
    if found is None:
        if json_:
            print(json.dumps(None))
        raise Exit(f"{env}: no audit recorded" + (f" for slot {slot}" if slot else "") + " (deploy-prod records one)",
                   code=1)
    print(json.dumps(found, indent=2, sort_keys=True) if json_ else report.markdown(found))
    if AUDIT_EXIT.get(found["outcome"], 1):
        raise Exit(code=AUDIT_EXIT.get(found["outcome"], 1))


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


def _change(c, task_name, perform, *, env, deployment_id_, target, version, store_config, dry_run, yes, plan_out,
            plan, plan_sha256, options, ask=None):
    """An ops change through its plan: shown (--dry-run), saved (--plan-out), or applied (after ``ask`` unless --yes;
    --plan: the approved plan, its options the plan's). ``perform`` is the library's function."""
    from toolkit.release.ci_report import CiReporter
    from toolkit.release.operations import NO_BUNDLE

    ci, reports = CiReporter.for_task(False), []
    with failures(task_name, False, ci):
        saved = saved_plan(task_name, plan, plan_sha256, plan_out, dry_run)
        if saved is not None:
            options = plan_options(options, saved, tuple(options))
        planning = dry_run or bool(plan_out)
        if ask is not None and not planning:
            confirm(ask(options), yes)
        place = workplace(c)
        environment, chosen = _deployed(c, env, deployment_id_, target, version, store_config)
        perform(environment, chosen, deployment_id(deployment_id_, env), dry_run=planning, say=ci.wrap(say),
                saved=saved, on_report=reports.append, **options)
        written = write_plan_out(plan_out, reports[-1], NO_BUNDLE, options)
    ci.publish(reports[-1], place.reports, plan_shown(written, saved))


_CHANGE_HELP = {**_WHERE, **PLAN_HELP}
_ASKS = {"yes": "do not ask for confirmation"}


@task(help={**_CHANGE_HELP, "action": "start or stop", "name": "the trigger (default: every trigger of the factory)",
            "dry-run": "say what would change", "yes": "do not ask before stopping"})
def triggers(c, env, action, name=None, deployment_id_=None, target="sandbox", dry_run=False, yes=False, version=None,
             store_config=None, plan_out=None, plan=None, plan_sha256=None):
    """Start or stop an environment's Data Factory triggers: `inv ops.triggers --env prod --action stop`."""
    from toolkit.release.operations import set_triggers

    if action not in ("start", "stop"):
        from invoke import Exit

        raise Exit(f"ops.triggers: action must be start or stop, not {action!r}", code=2)
    _change(c, "ops.triggers", set_triggers, env=env, deployment_id_=deployment_id_, target=target, version=version,
            store_config=store_config, dry_run=dry_run, yes=yes, plan_out=plan_out, plan=plan,
            plan_sha256=plan_sha256, options={"action": action, "trigger": name},
            ask=lambda o: f"stop {'trigger ' + o['trigger'] if o['trigger'] else 'every trigger'} of {env}?"
            if o["action"] == "stop" else None)


_RESTART_HELP = {**_CHANGE_HELP, **_ASKS, "slot": "blue/green: the slot whose cluster restarts (default: the live one)",
                 "dry-run": "say what would restart"}


@task(name="restart-cluster", help=_RESTART_HELP)
def restart_cluster(c, env, slot=None, deployment_id_=None, target="sandbox", dry_run=False, yes=False, version=None,
                    store_config=None, plan_out=None, plan=None, plan_sha256=None):
    """Restart the cluster of an environment (of one of its slots): runs on it are interrupted."""
    from toolkit.release.operations import restart_cluster as restart

    _change(c, "ops.restart-cluster", restart, env=env, deployment_id_=deployment_id_, target=target, version=version,
            store_config=store_config, dry_run=dry_run, yes=yes, plan_out=plan_out, plan=plan,
            plan_sha256=plan_sha256, options={"slot": slot},
            ask=lambda o: f"restart the cluster of {env}{' slot ' + o['slot'] if o['slot'] else ''}? runs on it are "
            "interrupted")


@task(help={**_CHANGE_HELP, "run-id": "the failed pipeline run", "dry-run": "say what would be rerun",
            "timeout-minutes": "how long to wait for the recovery run (default 60)"})
def rerun(c, env, run_id, deployment_id_=None, target="sandbox", dry_run=False, timeout_minutes=60, version=None,
          store_config=None, plan_out=None, plan=None, plan_sha256=None):
    """Rerun a failed pipeline run from its failed activity (what succeeded is not run again); waits for it."""
    from toolkit.release.operations import rerun_failed

    _change(c, "ops.rerun", rerun_failed, env=env, deployment_id_=deployment_id_, target=target, version=version,
            store_config=store_config, dry_run=dry_run, yes=True, plan_out=plan_out, plan=plan,
            plan_sha256=plan_sha256, options={"run_id": run_id, "timeout_minutes": int(timeout_minutes)})


_ROTATE_HELP = {**_CHANGE_HELP, **_ASKS, "name": "the secret, as named under [secrets] in the environment file",
                "dry-run": "say what would change",
                "min-age": "minutes: a token set more recently is left alone (default 60; 0 rotates anyway)"}


@task(name="rotate-secret", help=_ROTATE_HELP)
def rotate_secret(c, env, name, deployment_id_=None, target="sandbox", dry_run=False, yes=False, min_age=60,
                  version=None, store_config=None, plan_out=None, plan=None, plan_sha256=None):
    """Give a Key Vault secret a new value: a new Databricks token (the old one revoked), or its variable's value."""
    from toolkit.release.operations import rotate_secret as rotate

    _change(c, "ops.rotate-secret", rotate, env=env, deployment_id_=deployment_id_, target=target, version=version,
            store_config=store_config, dry_run=dry_run, yes=yes, plan_out=plan_out, plan=plan,
            plan_sha256=plan_sha256, options={"secret": name, "min_age_minutes": int(min_age)},
            ask=lambda o: f"rotate secret {o['secret']} of {env}? (a replaced token is revoked at once)")
