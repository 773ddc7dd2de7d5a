"""The release stages, each a list of steps over one environment, and the QA teardown.

    deploy-qa:      infrastructure (always), secrets, data, workspace, application, storage access,
                    Data Factory, mount retirement (after a switch to Unity Catalog), integration tests
    deploy-staging: the same on the standing staging environment, hydrated from production, with the
                    triggers activated; infrastructure only when asked
    deploy-prod:    blue/green: the idle slot only (secrets, workspace, application, storage access) and its
                    smoke test, then the audit (the slot's output on production's last load, against the live
                    slot's); no test data, no factory change (`inv swap` makes the slot live). A version must
                    first have passed the environments the promotion rule names.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from toolkit.bundle.signature import verify_folder
from toolkit.configuration import ConfigError
from toolkit.environments.model import Environment, VariableSecret
from toolkit.environments.target import Target
from toolkit.release.deployment import Deployment, Options
from toolkit.release.drift import deploy_scope, state_record
from toolkit.release.interruption import shielded
from toolkit.release.lock import LockHeld
from toolkit.release.errors import explain_error
from toolkit.release.plan import StageReport, StepFailed, fail_step, run_steps
from toolkit.release.promotion import promotion_gaps
from toolkit.release.saved_plan import SavedPlan
from toolkit.release.steps.application import Application
from toolkit.release.steps.audit import Audit
from toolkit.release.steps.data import Data
from toolkit.release.steps.datafactory import DataFactory
from toolkit.release.steps.infrastructure import Infrastructure
from toolkit.release.steps.integration import IntegrationTests
from toolkit.release.steps.secrets import Secrets
from toolkit.release.steps.slot import IdleSlot
from toolkit.release.steps.smoke_test import SmokeTest
from toolkit.release.steps.storage_access import RetireMount, StorageAccess
from toolkit.release.steps.workspace import Workspace
from toolkit.signing.signers import KeyVaultSigner, load_signing_config
from toolkit.signing.trusted_keys import KnownKeys

STAGES = {"deploy-qa": "qa", "deploy-staging": "staging", "deploy-prod": "prod"}


def stage_steps(stage: str, environments: Path, environment: Environment) -> list:
    if environment.slots is not None:
        return [Infrastructure(), IdleSlot(), Secrets(), Workspace(), Application(), StorageAccess(), SmokeTest(),
                Audit(), RetireMount()]
    common = [Infrastructure(), Secrets()]
    application = [Workspace(), Application(), StorageAccess(), DataFactory(), RetireMount()]
    if stage == "deploy-prod":
        return common + application
    return common + [Data(environments)] + application + [IntegrationTests()]


class PromotionRefused(RuntimeError):
    """A version the promotion rule does not let into an environment (and --force was not given)."""


def preflight(environment) -> None:
    """What can be checked before any call: the variables secrets are read from are set."""
    import os

    missing = [f"secrets.{n} reads {s.variable}" for n, s in environment.secrets.items()
               if isinstance(s, VariableSecret) and not os.environ.get(s.variable)]
    if missing:
        raise ConfigError(f"{environment.source}: environment variables not set: {'; '.join(missing)}")


def check_promotion(environment: Environment, manifest, store, known: KnownKeys, force: bool,
                    say: Callable[[str], None]) -> list[str]:
    """The promotion rule, before any call: the reasons overridden by --force (else refused with them). Evidence
    counts only when signed by a key ``environment`` trusts for the stage it is from."""
    gaps = promotion_gaps(store, manifest.version, manifest.digest, environment.promotion.requires,
                          lambda name: known.evidence_trust(environment.name, name))
    if gaps and not force:
        raise PromotionRefused(f"{environment.name} accepts only versions that passed "
                               f"{' and '.join(environment.promotion.requires)}: {'; '.join(gaps)} (--force overrides, "
                               "and is recorded)")
    for gap in gaps:
        say(f"warning: forced past the promotion rule: {gap}")
    return gaps


def run_stage(stage: str, environment: Environment, environments: Path, target: Target, bundle: Path, manifest,
              options: Options, *, say: Callable[[str], None], reports: Path | None, store=None,
              known: KnownKeys, saved: SavedPlan | None = None) -> StageReport:
    """Run a stage's steps over ``environment`` (read from the bundle's ``environments`` folder); ``store`` is the
    artifact store, where passed integration tests are kept as promotion evidence and the promotion rule reads
    them. Before any call: the bundle's signature verifies with a key the job trusts for this environment (its
    trusted keys file, never the bundle), the promotion rule holds, and the key that signs this stage's evidence
    exists. ``saved``: an approved plan, the only changes this run may make (toolkit/release/saved_plan.py)."""
    verify_folder(bundle, manifest, known.bundle_trust(environment.name))
    if saved is not None:
        saved.check(stage, environment.name, target.name, manifest.version, manifest.digest)
    preflight(environment)
    forced = check_promotion(environment, manifest, store, known, options.force, say)
    deployment = Deployment(environment, target, bundle, manifest, options, say=say, reports=reports,
                            store=store)
    deployment.resource_group  # an on-demand environment without a valid deployment id fails here, before any call
    if store is not None:
        deployment.evidence_signer = evidence_signer(environments, deployment)
    report = StageReport(stage, environment.name, target.name, manifest.version, options.dry_run)
    started = time.monotonic()
    steps = stage_steps(stage, environments, environment)
    if options.dry_run:  # reads only: no lock
        run_steps(report, steps, deployment, True, say)
        report.expects = {"outputs": dict(deployment.resource_names)}  # what a step planned "after" relies on
    else:
        guard = saved.guard(deployment) if saved is not None else None
        # The lock lives in the environment's lake. An environment that has one is locked before the
        # infrastructure step: a redeploy carries the factory's live pointer into the template, and a swap
        # between that read and the deployment would be undone. Only a first deployment, which creates the
        # lake, runs its infrastructure step unlocked (ARM serializes deployments itself).
        try:
            first = [] if _has_lake(deployment) else steps[:1]
        except Exception as exc:  # the environment cannot even be looked at: the first step's failure
            first = []
            fail_step(report, steps[0].name, f"while planning: {explain_error(exc)}", time.monotonic(), say,
                      detail=exc)
        if saved is not None and first:  # before the first write; no lake yet, so no lock
            saved.verify(first, deployment, say)
        run_steps(report, first, deployment, False, say, guard)
        if report.outcome == "succeeded":
            try:
                with deployment.locked(stage):
                    if saved is not None and not first:  # under the lock, before the first write
                        saved.verify(steps, deployment, say)
                    run_steps(report, steps[len(first):], deployment, False, say, guard)
                    if report.changed or report.outcome != "succeeded":
                        with shielded():  # a signal now waits for the record to be written
                            record_deploy(deployment, report, say, forced, saved.sha256 if saved else None)
            except LockHeld as exc:
                report.outcome, report.error = "failed", f"lock: {exc}"
                say(f"[lock] {exc}")
    report.slot, report.results = deployment.slot, deployment.results
    report.sections, report.audit = deployment.sections, deployment.audit
    report.seconds = round(time.monotonic() - started, 2)
    return report


def evidence_signer(environments: Path, d: Deployment) -> KeyVaultSigner | None:
    """The key that signs this stage's promotion evidence, read now (a missing key fails before any write)."""
    if d.environment.integration_tests is None:
        return None
    config = load_signing_config(environments / "signing.toml")
    if config.vault.lower() == d.resource_names.get("keyVaultName", "").lower():
        raise ConfigError(f"{config.source}: vault: {config.vault} is the {d.environment.name} environment's own vault"
                          + (", which its teardown deletes" if d.environment.on_demand else "")
                          + ": signing keys belong in a long-lived vault of the release's own")
    signer = KeyVaultSigner(d.target, config, d.environment.name)
    signer.trusted_key()
    return signer


def _has_lake(deployment: Deployment) -> bool:
    """Whether the environment's last deployment left a lake (then its outputs are known from here on)."""
    from toolkit.azure import arm

    group = deployment.resource_group
    outputs = arm.latest_outputs(deployment.arm, group, deployment.environment.name) \
        if arm.group_exists(deployment.arm, group) else None
    if not outputs or "storageAccountName" not in outputs:
        return False
    deployment.outputs.update(outputs)
    return True


def record_deploy(deployment: Deployment, report: StageReport, say: Callable[[str], None],
                  forced: list[str] | None = None, plan_sha256: str | None = None) -> None:
    """The deploy in the environment's ledger (a no-op re-deploy records nothing: it writes nothing)."""
    if "storageAccountName" not in deployment.outputs:
        return  # no lake to hold a ledger yet (the infrastructure step failed)
    try:
        deployment.record("deploy", report.outcome, stage=report.stage, target=report.target,
                          changed=[s.step for s in report.steps if s.status == "changed"], error=report.error,
                          error_detail=report.error_detail if report.error_detail != report.error else None,
                          forced=forced or None, plan_sha256=plan_sha256,
                          fingerprints=state_record(deployment, deploy_scope(deployment)))
    except Exception as exc:  # the deploy's own outcome stands; say why it is not on record
        say(f"could not record the deploy in the ledger: {exc if isinstance(exc, StepFailed) else explain_error(exc)}")


def qa_down(environment: Environment, target: Target, deployment_id: str, dry_run: bool,
            say: Callable[[str], None]) -> bool:
    """Delete an on-demand QA environment: its Unity Catalog objects (catalog, external location, credential: they
    live in the account's metastore, which outlives the resource group, and are reached through the workspace, so
    they go first), then its resource group, then the soft-deleted vault the deletion leaves (it would keep the
    vault's name, and so this deployment id, from being deployed again until purged). False when there was
    nothing to remove. A teardown killed half way is finished by running it again."""
    from toolkit.azure import arm, names
    from toolkit.azure.rest import ArmRest

    group = environment.resource_group(deployment_id)
    client, rest = arm.resource_client(target), ArmRest(target)
    exists = arm.group_exists(client, group)
    deleted_vaults = [] if exists else names.deleted_vaults_of_group(rest, group)
    if not exists and not deleted_vaults:
        say(f"resource group {group} does not exist: nothing to remove")
        return False
    catalog = environment.catalog_name(deployment_id)
    if dry_run:
        say(f"would delete catalog {catalog} with its external location and credential, then resource group {group} "
            "and everything in it, then purge its soft-deleted vault" if exists else
            f"would purge the soft-deleted vaults of {group}: {', '.join(v['name'] for v in deleted_vaults)}")
        return True
    if exists:
        _remove_unity_catalog(environment, target, deployment_id, catalog, say)
        arm.delete_group(client, group, say)
        say(f"deleted resource group {group}")
        deleted_vaults = names.deleted_vaults_of_group(rest, group)
    for vault in deleted_vaults:
        names.purge_deleted_vault(rest, vault, say)
    return True


def _remove_unity_catalog(environment: Environment, target: Target, deployment_id: str, catalog: str,
                          say: Callable[[str], None]) -> None:
    from toolkit.databricks import unity_catalog
    from toolkit.release.deployment import open_deployed

    deployed = open_deployed(environment, target, deployment_id, say)
    if deployed is None or "databricksWorkspaceUrl" not in deployed.outputs:
        say(f"no workspace deployed: no Unity Catalog objects of {catalog} to remove")
        return
    unity_catalog.remove(deployed.workspace, catalog, say)
