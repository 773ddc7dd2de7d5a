"""The release stages, each a list of steps over one environment, and the QA teardown.

    deploy-qa:      infrastructure (always), secrets, data, workspace, application, storage access,
                    Data Factory, integration tests
    deploy-staging: the same on the standing staging environment, hydrated from production, with the
                    triggers activated; infrastructure only when asked
    deploy-prod:    secrets, workspace, application, storage access, Data Factory; no test data
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from toolkit.configuration import ConfigError
from toolkit.environments.model import VariableSecret, load_environment
from toolkit.environments.target import Target
from toolkit.release.deployment import Deployment, Options
from toolkit.release.lock import EnvironmentLock, LockHeld
from toolkit.release.plan import StageReport, run_steps
from toolkit.release.steps.application import Application
from toolkit.release.steps.data import Data
from toolkit.release.steps.datafactory import DataFactory
from toolkit.release.steps.infrastructure import Infrastructure
from toolkit.release.steps.integration import IntegrationTests
from toolkit.release.steps.secrets import Secrets
from toolkit.release.steps.storage_access import StorageAccess
from toolkit.release.steps.workspace import Workspace

STAGES = {"deploy-qa": "qa", "deploy-staging": "staging", "deploy-prod": "prod"}


def stage_steps(stage: str, environments: Path) -> list:
    common = [Infrastructure(), Secrets()]
    application = [Workspace(), Application(), StorageAccess(), DataFactory()]
    if stage == "deploy-prod":
        return common + application
    return common + [Data(environments)] + application + [IntegrationTests()]


def preflight(environment) -> None:
    """What can be checked before any call: the variables secrets are read from are set."""
    import os

    missing = [f"secrets.{n} reads {s.variable}" for n, s in environment.secrets.items()
               if isinstance(s, VariableSecret) and not os.environ.get(s.variable)]
    if missing:
        raise ConfigError(f"{environment.source}: environment variables not set: {'; '.join(missing)}")


def run_stage(stage: str, environments: Path, target: Target, bundle: Path, manifest, options: Options,
              say: Callable[[str], None], reports: Path | None) -> StageReport:
    environment = load_environment(environments, STAGES[stage], target.name)
    preflight(environment)
    deployment = Deployment(environment, target, bundle, manifest, options, say=say, reports=reports)
    deployment.resource_group  # an on-demand environment without a valid deployment id fails here, before any call
    report = StageReport(stage, environment.name, target.name, manifest.version, options.dry_run)
    started = time.monotonic()
    steps = stage_steps(stage, environments)
    if options.dry_run:  # reads only: no lock
        run_steps(report, steps, deployment, True, say)
    else:
        # The infrastructure step runs first and unlocked: an environment's first deployment creates the
        # storage its lock lives in (ARM deployments are idempotent and serialized by ARM itself).
        run_steps(report, steps[:1], deployment, False, say)
        if report.outcome == "succeeded":
            try:
                lock = EnvironmentLock(deployment.lake(), environment.name, stage, say).acquire(options.wait)
            except LockHeld as exc:
                report.outcome, report.error = "failed", f"lock: {exc}"
                say(f"[lock] {exc}")
            else:
                with lock:
                    run_steps(report, steps[1:], deployment, False, say)
                    if report.changed or report.outcome != "succeeded":
                        record_deploy(deployment, report, say)
    report.seconds = round(time.monotonic() - started, 2)
    return report


def record_deploy(deployment: Deployment, report: StageReport, say: Callable[[str], None]) -> None:
    """The deploy in the environment's ledger (a no-op re-deploy records nothing: it writes nothing)."""
    from toolkit.release import ledger
    from toolkit.release.errors import explain_error

    if "storageAccountName" not in deployment.outputs:
        return  # no lake to hold a ledger yet (the infrastructure step failed)
    record = ledger.new_record("deploy", report.environment, report.version, deployment.manifest.digest,
                               report.outcome, stage=report.stage, target=report.target,
                               changed=[s.step for s in report.steps if s.status == "changed"], error=report.error)
    try:
        ledger.append_record(deployment.lake(), record)
    except Exception as exc:  # the deploy's own outcome stands; say why it is not on record
        say(f"could not record the deploy in the ledger: {explain_error(exc)}")


def qa_down(environments: Path, target: Target, deployment_id: str, dry_run: bool,
            say: Callable[[str], None]) -> bool:
    """Delete an on-demand QA environment (its resource group); False when there was none."""
    from toolkit.azure import arm

    environment = load_environment(environments, "qa", target.name)
    group = environment.resource_group(deployment_id)
    client = arm.resource_client(target)
    if not arm.group_exists(client, group):
        say(f"resource group {group} does not exist: nothing to remove")
        return False
    if dry_run:
        say(f"would delete resource group {group} and everything in it")
        return True
    arm.delete_group(client, group, say)
    say(f"deleted resource group {group}")
    return True
