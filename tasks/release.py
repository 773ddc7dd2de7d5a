"""inv deploy-qa, deploy-staging, deploy-prod, qa-down: the release stages."""
import json
import sys
from dataclasses import asdict

from invoke import Exit, task

_COMMON_HELP = {
    "version": "published bundle version to deploy (default: the last `inv build`)",
    "dry-run": "print the plan of every step and write nothing",
    "json": "print the stage's report as JSON on stdout (progress stays on stderr)",
    "target": "sandbox (default) or azure: Azure is only ever used when asked for by name",
    "prune": "delete Data Factory objects that are no longer in the bundle",
    "store-config": "artifact store configuration (default: environments/artifacts.toml)",
    "wait": "wait for the environment lock if another run holds it (default: fail at once, naming the holder)",
}


def _say(message):
    print(message, file=sys.stderr, flush=True)


def _target(name, environment):
    from toolkit.environments.model import load_environment
    from toolkit.environments.target import azure_target, sandbox_target
    from toolkit.paths import ENVIRONMENTS, REPO_ROOT, SANDBOX_HOME

    if name == "azure":
        return azure_target(load_environment(ENVIRONMENTS, environment, "azure").azure.subscription_id)
    if name != "sandbox":
        raise Exit(f"unknown target {name!r}: expected sandbox or azure", code=2)
    from sandbox.lifecycle import up

    up(SANDBOX_HOME, REPO_ROOT)  # the default target is always there to deploy to
    return sandbox_target(SANDBOX_HOME)


def _stage(stage, version, dry_run, json_, target, store_config, **options):
    from pathlib import Path

    from tasks.artifacts import _store
    from toolkit.artifacts.fetch import FetchError, fetch
    from toolkit.build.application import read_build_info
    from toolkit.bundle.manifest import ManifestError
    from toolkit.configuration import ConfigError
    from toolkit.environments.target import TargetError
    from toolkit.paths import DIST, ENVIRONMENTS, REPORTS
    from toolkit.release.deployment import Options
    from toolkit.release.errors import explain_error
    from toolkit.environments.model import load_environment
    from toolkit.release.stages import STAGES, preflight, run_stage

    try:
        version = version or read_build_info(DIST)["version"]
    except FileNotFoundError:
        raise Exit(f"{stage} failed: no version given and no build in {DIST}: pass --version", code=1)
    try:
        # Before any call: the environment file is valid, and the version is published and intact.
        preflight(load_environment(ENVIRONMENTS, STAGES[stage], target))
        bundle = DIST / "fetched" / version
        manifest = fetch(_store(store_config), version, bundle, show_progress=not json_)
        chosen = _target(target, STAGES[stage])
        report = run_stage(stage, ENVIRONMENTS, chosen, Path(bundle), manifest,
                           Options(dry_run=dry_run, **options), _say, REPORTS)
    except (ConfigError, TargetError, FetchError, ManifestError) as exc:
        raise Exit(f"{stage} failed: {exc}", code=2 if isinstance(exc, ConfigError) else 1)
    except Exception as exc:  # an endpoint that cannot be reached, a refused credential: one line
        raise Exit(f"{stage} failed: {explain_error(exc)}", code=1)
    if json_:
        print(json.dumps(asdict(report), indent=2))
    else:
        _summary(report)
    if report.outcome != "succeeded":
        raise Exit(f"{stage} failed: {report.error}", code=1)


def _summary(report):
    mode = " (dry run: nothing written)" if report.dry_run else ""
    print(f"\n{report.stage} of {report.version} to {report.environment} on the {report.target}{mode}")
    for step in report.steps:
        print(f"  {step.step:<18} {step.status:<14} {step.seconds:7.1f}s  "
              f"{len(step.changes)} change{'s' if len(step.changes) != 1 else ''}")
    changed = [s.step for s in report.steps if s.status in ("changed", "planned")]
    print(f"{report.outcome} in {report.seconds:.1f}s; "
          + (f"{'would change' if report.dry_run else 'changed'}: {', '.join(changed)}" if changed
             else "nothing to change"))


_RETEST_HELP = {"retest": "run the integration tests even if this version passed them and nothing changed"}
_INFRA_HELP = {"infra": "also deploy the ARM template (the environment exists: only when asked)"}
_ID_HELP = {"deployment-id": "names the on-demand QA environment (1-12 lowercase letters/digits; default: CI's build "
                             "id, else 'local')"}


@task(name="deploy-qa", help={**_COMMON_HELP, **_RETEST_HELP, **_ID_HELP})
def deploy_qa(c, version=None, deployment_id=None, dry_run=False, json_=False, target="sandbox", retest=False,
              prune=False, store_config=None, wait=False):
    """Deploy a version to an on-demand QA environment: ARM, secrets, test data, workspace, app, ADF, tests."""
    _stage("deploy-qa", version, dry_run, json_, target, store_config, deployment_id=_deployment_id(deployment_id),
           retest=retest, prune=prune, wait=wait)


@task(name="deploy-staging", help={**_COMMON_HELP, **_RETEST_HELP, **_INFRA_HELP})
def deploy_staging(c, version=None, dry_run=False, json_=False, target="sandbox", infra=False, retest=False,
                   prune=False, store_config=None, wait=False):
    """Deploy a version to staging: hydrate from production, app, ADF with triggers activated, tests."""
    _stage("deploy-staging", version, dry_run, json_, target, store_config, infrastructure=infra, retest=retest,
           prune=prune, wait=wait)


@task(name="deploy-prod", help={**_COMMON_HELP, **_INFRA_HELP})
def deploy_prod(c, version=None, dry_run=False, json_=False, target="sandbox", infra=False, prune=False,
                store_config=None, wait=False):
    """Deploy a version to production: secrets, workspace, app, storage access, ADF."""
    _stage("deploy-prod", version, dry_run, json_, target, store_config, infrastructure=infra, prune=prune,
           wait=wait)


def _deployment_id(given):
    import os
    import re

    if given:
        return given
    for variable in ("BUILD_BUILDID", "GITHUB_RUN_ID"):
        if os.environ.get(variable):
            return re.sub(r"[^a-z0-9]", "", os.environ[variable].lower())[:12]
    return "local"


@task(name="qa-down", help={"deployment-id": "the QA environment to remove (as given to deploy-qa)",
                            "dry-run": "say what would be deleted and delete nothing",
                            "target": "sandbox (default) or azure", "yes": "do not ask for confirmation"})
def qa_down(c, deployment_id=None, dry_run=False, target="sandbox", yes=False):
    """Remove an on-demand QA environment: its resource group and everything in it."""
    from toolkit.configuration import ConfigError
    from toolkit.environments.target import TargetError
    from toolkit.paths import ENVIRONMENTS
    from toolkit.release.errors import explain_error
    from toolkit.release.stages import qa_down as remove

    deployment_id = _deployment_id(deployment_id)
    if not (yes or dry_run):
        answer = input(f"delete the QA environment {deployment_id!r} and everything in it? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise Exit("not confirmed: nothing deleted", code=1)
    try:
        remove(ENVIRONMENTS, _target(target, "qa"), deployment_id, dry_run, _say)
    except (ConfigError, TargetError) as exc:
        raise Exit(f"qa-down failed: {exc}", code=2)
    except Exception as exc:
        raise Exit(f"qa-down failed: {explain_error(exc)}", code=1)


@task(help={"env": "qa, staging or prod", "deployment-id": "for qa: which on-demand environment",
            "target": "sandbox (default) or azure", "json": "print it as JSON", "last": "how many ledger records"})
def status(c, env, deployment_id=None, target="sandbox", json_=False, last=20):
    """What an environment runs (its factory's release root and cluster) and its ledger: deploys and tests."""
    from toolkit.configuration import ConfigError
    from toolkit.environments.target import TargetError
    from toolkit.paths import ENVIRONMENTS
    from toolkit.release.errors import explain_error
    from toolkit.release.status import environment_status

    try:
        found = environment_status(ENVIRONMENTS, _target(target, env), env,
                                   _deployment_id(deployment_id) if env == "qa" else None, int(last))
    except (ConfigError, TargetError) as exc:
        raise Exit(f"ops.status failed: {exc}", code=2)
    except Exception as exc:
        raise Exit(f"ops.status failed: {explain_error(exc)}", code=1)
    if json_:
        print(json.dumps(found, indent=2))
        return
    if not found["deployed"]:
        print(f"{env}: nothing deployed in resource group {found['resource_group']}")
        return
    print(f"{env} ({found['resource_group']}): factory runs {found['factory_runs']['notebook_root']} on cluster "
          f"{found['factory_runs']['cluster_id']}")
    if found["lock"]:
        from toolkit.release.lock import describe_holder

        print(f"  locked by {describe_holder(found['lock'])}")
    for record in found["records"]:
        print(f"  {record['when']}  {record['event']:<18} {record['outcome']:<9} {record['version']}  "
              f"by {record['who']}@{record['host']}" + (f"  {record['error']}" if record.get("error") else ""))


@task(help={"env": "qa, staging or prod", "deployment-id": "for qa: which on-demand environment",
            "target": "sandbox (default) or azure", "yes": "do not ask for confirmation",
            "dry-run": "show who holds the lock and break nothing"})
def unlock(c, env, deployment_id=None, target="sandbox", yes=False, dry_run=False):
    """Break an environment's lock after showing who holds it (for a run that is gone)."""
    from toolkit.configuration import ConfigError
    from toolkit.environments.target import TargetError
    from toolkit.paths import ENVIRONMENTS
    from toolkit.release.errors import explain_error
    from toolkit.release.lock import break_lock, current_holder, describe_holder
    from toolkit.release.status import environment_lake

    try:
        lake = environment_lake(ENVIRONMENTS, _target(target, env), env,
                                _deployment_id(deployment_id) if env == "qa" else None)
        holder = current_holder(lake) if lake is not None else None
        if holder is None:
            print(f"{env} is not locked: nothing to do")
            return
        print(f"{env} is locked by {describe_holder(holder)}")
        if dry_run:
            return
        if not yes and input("break this lock? [y/N] ").strip().lower() not in ("y", "yes"):
            raise Exit("not confirmed: the lock is kept", code=1)
        break_lock(lake)
        print(f"{env}: lock broken")
    except (ConfigError, TargetError) as exc:
        raise Exit(f"ops.unlock failed: {exc}", code=2)
    except Exit:
        raise
    except Exception as exc:
        raise Exit(f"ops.unlock failed: {explain_error(exc)}", code=1)
