"""Running stages against the test sandbox, counting its requests, and describing an environment's
state in a form two environments can be compared in (their names and ids replaced by placeholders)."""
from __future__ import annotations

import json
from pathlib import Path

from tasks.repository import ENVIRONMENTS
from toolkit.release.deployment import Deployment, Options
from toolkit.release.stages import run_stage


def _connection(home: Path):
    from sandbox.connection import SandboxConnection

    return SandboxConnection.from_home(home)


def requests_made(home: Path) -> dict:
    return _connection(home).requests_made()


def is_lock_write(request: str) -> bool:
    """A write that takes, renews or gives back the environment lock (a lease on the ledger) or names its holder."""
    return "/releases/ledger.json?comp=lease" in request or "/releases/ledger.json?comp=metadata" in request


def reset_requests(home: Path) -> None:
    _connection(home).reset_requests()


def set_faults(home: Path, settings: dict, services: tuple[str, ...] = ("arm", "keyvault", "databricks", "storage")) \
        -> None:
    connection = _connection(home)
    for service in services:
        connection.set_faults(service, settings)


def signer(home: Path, purpose: str, config: Path = ENVIRONMENTS / "signing.toml"):
    """The sandbox's Key Vault key that signs ``purpose`` ("bundles", "qa", "staging")."""
    from toolkit.environments.target import sandbox_target
    from toolkit.signing.signers import KeyVaultSigner, load_signing_config

    return KeyVaultSigner(sandbox_target(home), load_signing_config(config), purpose)


def known_keys(home: Path):
    from toolkit.signing.trusted_keys import load_trusted_keys

    return load_trusted_keys(home / "trusted-keys.toml")


def bundle_trust(home: Path, environment: str = "qa"):
    return known_keys(home).bundle_trust(environment)


def publish_signed(home: Path, bundle: Path, store, into: Path):
    """``bundle`` published signed by the sandbox's release key, then fetched as a stage fetches it (verified,
    with its signature): (manifest, fetched folder)."""
    from toolkit.artifacts.fetch import fetch
    from toolkit.artifacts.publish import publish

    report = publish(bundle, store, signer(home, "bundles"), show_progress=False)
    return fetch(store, report.version, into, bundle_trust(home), show_progress=False), into


def record_evidence(home: Path, store, manifest, environment: str) -> None:
    """Signed evidence that ``manifest`` passed ``environment``, as its stage leaves it."""
    from toolkit.release import ledger
    from toolkit.release.promotion import record_passed

    record_passed(store, manifest, ledger.new_record("integration-tests", environment, manifest.version,
                                                     manifest.digest, "passed"), signer(home, environment))


def stage(home: Path, published, stage_name: str = "deploy-qa", lines: list | None = None, store=None,
          environments: Path | None = None, saved=None, reports: Path | None = None, **options):
    """``stage_name`` of the published bundle, with its own environment files (or those of ``environments``);
    ``saved``: the approved plan to apply; ``reports``: where its report files go."""
    from toolkit.environments.model import load_environment
    from toolkit.environments.target import sandbox_target
    from toolkit.release.stages import STAGES

    manifest, bundle, _ = published
    say = lines.append if lines is not None else print
    environments = environments or Path(bundle) / "environments"
    environment = load_environment(environments, STAGES[stage_name], "sandbox")
    return run_stage(stage_name, environment, environments, sandbox_target(home), bundle, manifest,
                     Options(**options), say=say, reports=reports, store=store, known=known_keys(home), saved=saved)


def saved_plan(report, published, folder: Path, **options):
    """A dry run's report written as a saved plan, then read back as the apply job reads it (hash checked)."""
    from toolkit.release.saved_plan import plan_document, read_plan, write_plan

    manifest = published[0]
    path = folder / f"{report.stage}-{report.environment}.plan.json"
    digest = write_plan(path, plan_document(report, bundle_digest=manifest.digest, options=options,
                                            expects=report.expects))
    return read_plan(path, digest)


def writes_by_service(home: Path) -> dict[str, int]:
    """The sandbox's write requests since the last reset, by service, without the environment lock's own, nor what
    notebook runs wrote in the lake (service ``cluster``: Databricks compute wrote it, as a pipeline's activities
    write what they produce; the release planned the runs, under ``databricks``)."""
    from collections import Counter

    return dict(Counter(w.split()[0] for w in requests_made(home)["write_requests"]
                        if not is_lock_write(w) and not w.startswith("cluster ")))


def deployment(home: Path, published, environment, deployment_id: str, outputs: dict) -> Deployment:
    from toolkit.environments.target import sandbox_target

    manifest, bundle, _ = published
    return Deployment(environment, sandbox_target(home), bundle, manifest, Options(deployment_id=deployment_id),
                      say=print, outputs=dict(outputs))


def environment_state(d: Deployment) -> dict:
    """What a deploy leaves behind, with every environment-specific name, key and id replaced."""
    from toolkit.azure.datafactory import Factory
    from toolkit.azure.keyvault import read_secret
    from toolkit.databricks import clusters, unity_catalog
    from toolkit.databricks.workspace_files import existing_objects
    from toolkit.release.steps.storage_access import catalog_setup

    outputs = d.outputs
    workspace = d.workspace
    cluster = clusters.find_cluster(workspace, d.environment.databricks.cluster_name)
    replacements = {cluster["cluster_id"]: "<cluster>", outputs["databricksWorkspaceUrl"]: "<workspace-url>",
                    outputs["keyVaultUri"]: "<vault-uri>", outputs["storageAccountName"]: "<account>",
                    outputs["dataFactoryName"]: "<factory>", outputs["keyVaultName"]: "<vault>",
                    outputs["accessConnectorId"]: "<access-connector>"}
    catalog = catalog_setup(d)
    replacements[catalog.catalog] = "<catalog>"
    uc_state = unity_catalog.read_state(workspace, catalog)
    factory = Factory(d.rest, d.resource_group, outputs["dataFactoryName"])
    lake = d.lake().get_container_client("datalake")
    state = {
        "secrets": {name: read_secret(d.secrets, name).value is not None for name in d.environment.secrets},
        "datalake_key_matches": read_secret(d.secrets, "datalakeKey").value == d.storage_key(
            d.resource_group, outputs["storageAccountName"]),
        "release_objects": sorted(existing_objects(workspace, d.release_root)),
        "cluster": {k: cluster.get(k) for k in ("cluster_name", "spark_version", "num_workers", "node_type_id")},
        "libraries": clusters.installed_libraries(workspace, cluster["cluster_id"]),
        "scopes": sorted(s.name for s in workspace.secrets.list_scopes()),
        "factory_globals": factory.global_parameters(),
        "factory_objects": {kind: factory.objects(kind)
                            for kind in ("linkedService", "dataset", "pipeline", "trigger")},
        "lake_source": sorted((b.name, b.size) for b in lake.list_blobs(name_starts_with="src/")),
        "lake_tables": sorted({b.name.split("/")[1] for b in lake.list_blobs(name_starts_with="dw/")}),
        "unity_catalog": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(uc_state).items()},
    }
    text = json.dumps(state, sort_keys=True)
    for value, placeholder in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(value, placeholder)
    return json.loads(text)
