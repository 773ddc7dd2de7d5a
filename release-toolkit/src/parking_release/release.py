"""inv deploy-qa, deploy-staging, deploy-prod, swap, qa-down: the release stages."""
import json
from dataclasses import asdict
from pathlib import Path

from invoke import Exit, task

from parking_release.common import (SOURCE_HELP, check_target, chosen_version, confirm, deployed, failures,
                                    fetched_bundle, known_keys, open_store, say, target_for)
from parking_release.common import deployment_id as _deployment_id
from parking_release.context import workplace

_COMMON_HELP = {
    "version": "published bundle version to deploy (default, in a clone: its last `inv build`)",
    "dry-run": "print the plan of every step and write nothing",
    "json": "print the stage's report as JSON on stdout (progress stays on stderr)",
    "target": "sandbox (default) or azure: Azure is only ever used when asked for by name",
    "store-config": "artifact store configuration (default: $PARKING_ARTIFACT_STORE, else the clone's "
                    "environments/artifacts.toml)",
    "wait": "wait for the environment lock if another run holds it (default: fail at once, naming the holder)",
    "digest": "the bundle digest to insist on (`inv build --json` prints it): a published bundle with another one is "
              "refused before any call",
    "plan-out": "plan with reads only (as --dry-run) and write the plan to this file as canonical JSON, for approval; "
                "its SHA-256 is printed",
    "plan": "apply exactly this saved plan (its version, bundle and options): refused with zero writes if what it "
            "was computed from changed since",
    "plan-sha256": "with --plan: the approved plan's SHA-256; another file is refused before any call",
}
PLAN_HELP = {k: _COMMON_HELP[k] for k in ("plan-out", "plan", "plan-sha256")}
PLAN_OPTIONS = ("deployment_id", "infrastructure", "retest", "prune", "force", "audit_input")  # what a saved plan fixes


def _stage(c, stage, *, version, dry_run, json_, target, store_config, digest, plan_out, plan, plan_sha256,
           **options):
    from toolkit.artifacts.fetch import read_published_manifest
    from toolkit.environments.model import load_environment
    from toolkit.release.ci_report import CiReporter
    from toolkit.release.deployment import Options
    from toolkit.release.environment_source import ENVIRONMENTS_FOLDER
    from toolkit.release.stages import STAGES, run_stage

    check_target(stage, target, json_)
    ci = CiReporter.for_task(json_)
    with failures(stage, json_, ci):
        saved = saved_plan(stage, plan, plan_sha256, plan_out, dry_run)
        if saved is not None:
            version = _one_of("--version", version, saved.version)
            digest = _one_of("--digest", digest, saved.bundle_digest)
            options = plan_options(options, saved, PLAN_OPTIONS)
        place = workplace(c)
        version = chosen_version(stage, version, place, json_)
        store = open_store(place, store_config)
        read_published_manifest(store, version, digest)  # an unknown version fails before a target is reached
        known = known_keys(target, place)
        # The environment file is the bundle's (a settings change is released like code); what the bundle is
        # trusted with is the job's.
        bundle, manifest = fetched_bundle(place, store, version, known.bundle_trust(STAGES[stage]), not json_, digest)
        environments = bundle / ENVIRONMENTS_FOLDER
        environment = load_environment(environments, STAGES[stage], target)
        report = run_stage(stage, environment, environments, target_for(target, place, environment), bundle, manifest,
                           Options(dry_run=dry_run or bool(plan_out), **options), say=ci.wrap(say),
                           reports=place.reports, store=store, known=known, saved=saved)
        written = write_plan_out(plan_out, report, manifest.digest, {k: options.get(k) for k in PLAN_OPTIONS})
    _report(report, json_, written, saved, ci, place.reports)


def saved_plan(task_name, plan, plan_sha256, plan_out, dry_run):
    """The approved plan --plan names (None without it); the flags that cannot go with it refused."""
    from toolkit.configuration import ConfigError
    from toolkit.release.saved_plan import read_plan

    if plan_sha256 and not plan:
        raise ConfigError(f"{task_name}: --plan-sha256 checks the file --plan names: give --plan too")
    if plan and (plan_out or dry_run):
        raise ConfigError(f"{task_name}: --plan applies a saved plan; it cannot go with --plan-out or --dry-run")
    return read_plan(Path(plan), plan_sha256) if plan else None


def _one_of(flag, given, planned):
    """A value the saved plan fixes: given on the command line too, it must be the plan's."""
    from toolkit.configuration import ConfigError

    if given is not None and given != planned:
        raise ConfigError(f"{flag} {given} is not the saved plan's ({planned}): leave it out, the plan says it")
    return planned


def plan_options(given, saved, keys):
    """The options (of ``keys``) the saved plan was made with; one given on the command line too that differs from
    the plan's is refused."""
    from toolkit.configuration import ConfigError

    planned = dict(saved.options)
    wrong = [f"--{k.replace('_', '-')}" for k in keys if k in given and given[k] not in (None, False)
             and given[k] != planned.get(k)]
    if wrong:
        raise ConfigError(f"{', '.join(wrong)} differ from the saved plan {saved.source}'s options "
                          f"({planned}): the plan says what to do")
    return {**given, **{k: planned.get(k) for k in keys if k in given}}


def write_plan_out(plan_out, report, bundle_digest, options, context=None):
    """The dry run's plan written to ``plan_out``: {"file", "sha256"}, or None without --plan-out (or when the dry
    run failed: a plan of a stage that could not be planned is not one to approve)."""
    from toolkit.release.saved_plan import plan_document, write_plan

    if not plan_out or report.outcome != "succeeded":
        return None
    digest = write_plan(Path(plan_out), plan_document(report, bundle_digest=bundle_digest, options=options,
                                                      expects=report.expects, context=context))
    say(f"plan written to {plan_out} (sha256 {digest}): apply it with --plan {plan_out} --plan-sha256 {digest}")
    return {"file": str(plan_out), "sha256": digest}


def plan_shown(written, saved):
    """The plan a summary shows: the one --plan-out wrote, or the one --plan applied (None: neither)."""
    if written:
        return {"sha256": written["sha256"], "file": written["file"], "how": "written to"}
    return {"sha256": saved.sha256, "file": saved.source, "how": "applied from"} if saved is not None else None


def _report(report, json_, written=None, saved=None, ci=None, reports=None):
    """The report: to the CI host (``ci``: its summary, an annotation), then as JSON or a table; the exit code from
    its outcome."""
    from toolkit.release.interruption import Interrupted

    if ci is not None:
        ci.publish(report, reports, plan_shown(written, saved))
    if json_:
        document = asdict(report)
        if written:
            document["plan_file"] = written
        if saved is not None:
            document["applied_plan"] = {"file": saved.source, "sha256": saved.sha256}
        print(json.dumps(document, indent=2))
    else:
        _summary(report)
    if report.outcome == "interrupted":
        raise Exit(f"{report.stage} interrupted: {report.error}; the steps before it are done, and running it "
                   "again finishes the rest", code=Interrupted(report.stopped_by or "SIGINT").exit_code)
    if report.outcome != "succeeded":
        raise Exit(f"{report.stage} failed: {report.error}", code=1)


def _summary(report):
    mode = " (dry run: nothing written)" if report.dry_run else ""
    into = f" (slot {report.slot})" if report.slot else ""
    print(f"\n{report.stage} of {report.version} to {report.environment}{into} on the {report.target}{mode}")
    for step in report.steps:
        print(f"  {step.step:<18} {step.status:<14} {step.seconds:7.1f}s  "
              f"{len(step.changes)} change{'s' if len(step.changes) != 1 else ''}")
    changed = [s.step for s in report.steps if s.status in ("changed", "planned")]
    did = f"{'would change' if report.dry_run else 'changed'}: {', '.join(changed)}" if changed else None
    if report.outcome == "succeeded":
        print(f"succeeded in {report.seconds:.1f}s; {did or 'nothing to change'}"
              + (f" ({report.finished})" if report.finished else ""))
        return
    stopped = next((s.step for s in report.steps if s.status in ("failed", "interrupted")), "before its first step")
    print(f"{report.outcome} in {report.seconds:.1f}s at {stopped}; "
          + (f"{did} before it" if did else "nothing changed before it"))


_RETEST_HELP = {"retest": "run the integration tests even if this version passed them and nothing changed",
                "prune": "delete Data Factory objects that are no longer in the bundle"}
_INFRA_HELP = {"infra": "also deploy the ARM template (the environment exists: only when asked)"}
_ID_HELP = {"deployment-id": "names the on-demand QA environment (1-12 lowercase letters/digits; default: CI's build "
                             "id, else 'local')"}
_FORCE_HELP = {"force": "accept a version that has not passed QA and staging (recorded in the ledger), and deploy "
                        "one production already runs into the idle slot anyway"}


@task(name="deploy-qa", help={**_COMMON_HELP, **_RETEST_HELP, **_ID_HELP})
def deploy_qa(c, version=None, deployment_id=None, dry_run=False, json_=False, target="sandbox", retest=False,
              prune=False, store_config=None, wait=False, digest=None, plan_out=None, plan=None, plan_sha256=None):
    """Deploy a version to an on-demand QA environment: ARM, secrets, test data, workspace, app, ADF, tests."""
    _stage(c, "deploy-qa", version=version, dry_run=dry_run, json_=json_, target=target, store_config=store_config,
           digest=digest, plan_out=plan_out, plan=plan, plan_sha256=plan_sha256,
           deployment_id=None if plan and not deployment_id else _deployment_id(deployment_id), retest=retest,
           prune=prune, wait=wait)


@task(name="deploy-staging", help={**_COMMON_HELP, **_RETEST_HELP, **_INFRA_HELP})
def deploy_staging(c, version=None, dry_run=False, json_=False, target="sandbox", infra=False, retest=False,
                   prune=False, store_config=None, wait=False, digest=None, plan_out=None, plan=None,
                   plan_sha256=None):
    """Deploy a version to staging: hydrate from production, app, ADF with triggers activated, tests."""
    _stage(c, "deploy-staging", version=version, dry_run=dry_run, json_=json_, target=target,
           store_config=store_config, digest=digest, plan_out=plan_out, plan=plan, plan_sha256=plan_sha256,
           infrastructure=infra, retest=retest, prune=prune, wait=wait)


@task(name="deploy-prod", help={**_COMMON_HELP, **_INFRA_HELP, **_FORCE_HELP,
                                "retest": "run the smoke test and the audit even if the slot passed them and nothing "
                                          "changed",
                                "audit-input": "the landing folder (relative to the lake root) the audit processes "
                                               "again; default: that of the pipeline's last successful run"})
def deploy_prod(c, version=None, dry_run=False, json_=False, target="sandbox", infra=False, retest=False,
                store_config=None, wait=False, force=False, digest=None, plan_out=None, plan=None, plan_sha256=None,
                audit_input=None):
    """Deploy a version into production's idle slot, smoke-test it there and audit it against the live slot on
    production's last load (in a shadow area); the live slot is not touched."""
    _stage(c, "deploy-prod", version=version, dry_run=dry_run, json_=json_, target=target, store_config=store_config,
           digest=digest, plan_out=plan_out, plan=plan, plan_sha256=plan_sha256, infrastructure=infra,
           retest=retest, wait=wait, force=force, audit_input=audit_input)


_SWAP_HELP = {"env": "the blue/green environment (default: prod)", "target": "sandbox (default) or azure",
              "dry-run": "run the checks and show what the swap would write; write nothing",
              "force": "swap even if the checks refuse (each reason is recorded in the ledger)",
              "yes": "do not ask for confirmation", "json": "print the report as JSON on stdout",
              "wait": _COMMON_HELP["wait"], "store-config": _COMMON_HELP["store-config"],
              **PLAN_HELP}


@task(help=_SWAP_HELP)
def swap(c, env="prod", target="sandbox", dry_run=False, force=False, yes=False, json_=False, wait=False,
         store_config=None, plan_out=None, plan=None, plan_sha256=None):
    """Make the idle slot live (checked: deployed, smoke-tested, audited, promoted); the old slot stays, for
    rollback."""
    run_swap(c, "swap", env=env, target=target, dry_run=dry_run, force=force, yes=yes, json_=json_, wait=wait,
             store_config=store_config, rollback=False, plan_out=plan_out, plan=plan, plan_sha256=plan_sha256)


def run_swap(c, task_name, *, env, target, dry_run, force, yes, json_, wait, store_config, rollback, plan_out=None,
             plan=None, plan_sha256=None):
    """swap and ops.rollback: the checks, then (after a confirmation unless --yes or --dry-run) the swap; with
    --plan-out, the checks and the plan, saved; with --plan, that plan applied."""
    from toolkit.release.swap import plan_swap

    from toolkit.release.ci_report import CiReporter

    check_target(task_name, target, json_)
    ci = CiReporter.for_task(json_)
    with failures(task_name, json_, ci):
        saved = saved_plan(task_name, plan, plan_sha256, plan_out, dry_run)
        if saved is not None:
            force = plan_options({"force": force}, saved, ("force",))["force"]
        dry_run = dry_run or bool(plan_out)
        place = workplace(c)
        store = open_store(place, store_config)
        known = known_keys(target, place)
        environment, chosen = deployed(place, target, env, show_progress=not json_, store=store, known=known)

        def fetch(version, trust):  # the idle slot's version, once the checks passed
            return fetched_bundle(place, store, version, trust, not json_)

        planned = plan_swap(environment, chosen, store, known, fetch, force=force, rollback=rollback,
                            say=ci.wrap(say))
        if not (dry_run or yes):  # what is confirmed is what the checks found
            confirm(f"make slot {planned.idle.name} of {env} (version {planned.idle.version}) live?", yes)
        report = planned.run(dry_run=dry_run, wait=wait, saved=saved)
        written = write_plan_out(plan_out, report, planned.deployment.manifest.digest, {"force": force},
                                 planned.context)
    _report(report, json_, written, saved, ci, place.reports)


@task(name="qa-down", help={"deployment-id": "the QA environment to remove (as given to deploy-qa)",
                            "dry-run": "say what would be deleted and delete nothing",
                            "target": "sandbox (default) or azure", "yes": "do not ask for confirmation",
                            **SOURCE_HELP})
def qa_down(c, deployment_id=None, dry_run=False, target="sandbox", yes=False, version=None, store_config=None):
    """Remove an on-demand QA environment: its resource group and everything in it."""
    from toolkit.release.stages import qa_down as remove

    check_target("qa-down", target)
    deployment_id = _deployment_id(deployment_id)
    if not dry_run:
        confirm(f"delete the QA environment {deployment_id!r} and everything in it?", yes)
    with failures("qa-down"):
        environment, chosen = deployed(workplace(c), target, "qa", deployment_id, store_config, version)
        remove(environment, chosen, deployment_id, dry_run, say)
