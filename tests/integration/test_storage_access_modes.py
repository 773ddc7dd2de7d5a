"""The two storage-access modes on the release sandbox: a staging deployed in `mount` mode on a legacy workspace,
then switched to `unity-catalog`, converges in one deploy (nothing in the lake moves, the mount goes once nothing
reads it), and the deploy after that writes nothing but the lock's own lease and holder."""
from __future__ import annotations

import re
import shutil

import pytest

from tests.integration.release_helpers import is_lock_write, requests_made, reset_requests, stage
from tasks.repository import ENVIRONMENTS
from toolkit.environments.model import load_environment


def _environments(folder, mode: str):
    """environments/ with staging in ``mode`` (and not hydrated: this sandbox need not have a production)."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(ENVIRONMENTS, folder)
    text = (folder / "staging.toml").read_text()
    text = text.replace('storage_access = "unity-catalog"', f'storage_access = "{mode}"')
    (folder / "staging.toml").write_text(re.sub(r"\n\[data\.hydrate\][^\[]*", "\n", text))
    return folder


def _staging(home, published, environments, lines, **options):
    return stage(home, published, "deploy-staging", lines, environments=environments, **options)


@pytest.fixture(scope="module")
def legacy_staging(release_sandbox, tmp_path_factory):
    """Staging's workspace as one of an account that still has DBFS mounts."""
    from sandbox.connection import SandboxConnection
    from toolkit.environments.model import load_environment
    from toolkit.environments.target import sandbox_target

    environment = load_environment(ENVIRONMENTS, "staging", "sandbox")
    workspace = environment.resource_names(sandbox_target(release_sandbox).subscription_id, None)[
        "databricksWorkspaceName"]
    connection = SandboxConnection.from_home(release_sandbox)
    connection.ensure_workspace(workspace, legacy=True)
    yield tmp_path_factory.mktemp("environments")
    connection.ensure_workspace(workspace, legacy=False)


def _deployed(home):
    """Staging as its last deployment left it (outputs and clients)."""
    from toolkit.environments.model import load_environment
    from toolkit.environments.target import sandbox_target
    from toolkit.release.deployment import open_deployed

    return open_deployed(load_environment(ENVIRONMENTS, "staging", "sandbox"), sandbox_target(home),
                         say=lambda _: None)


def _lake_blobs(home) -> set[str]:
    return {b.name for b in _deployed(home).lake().get_container_client("datalake").list_blobs()}


def _lake_root(home) -> str:
    from toolkit.azure.datafactory import Factory

    d = _deployed(home)
    return Factory(d.rest, d.resource_group, d.output("dataFactoryName")).global_parameters()["lakeRoot"]["value"]


def test_mount_mode_works_on_a_legacy_workspace_and_migrates_to_unity_catalog_in_one_deploy(
        legacy_staging, release_sandbox, published_bundle):
    lines: list[str] = []
    mounted = _staging(release_sandbox, published_bundle, _environments(legacy_staging / "mount", "mount"), lines,
                       infrastructure=True)
    assert mounted.outcome == "succeeded", (mounted.error, lines[-30:])
    assert _lake_root(release_sandbox) == "/mnt/datalake"
    assert any("Databricks run" in line and "90_mount_lake" in line for line in lines)
    assert any(line.startswith("integration-test notebook:") and "checks passed" in line for line in lines)
    _assert_the_audit_notebook_works_under(release_sandbox, "/mnt/datalake")
    before = _lake_blobs(release_sandbox)

    lines.clear()
    unity = _environments(legacy_staging / "unity", "unity-catalog")
    migrated = _staging(release_sandbox, published_bundle, unity, lines, infrastructure=True)
    assert migrated.outcome == "succeeded", (migrated.error, lines[-30:])
    steps = {s.step: s for s in migrated.steps}
    assert steps["datafactory"].status == "changed"  # lakeRoot: from the mount to the external location
    _assert_unity_catalog_complete(release_sandbox)
    # The plan says the mount stays until nothing reads it, then removes it in the same deploy.
    assert any("/mnt/datalake is still mounted" in line for line in lines)
    assert steps["mount-retirement"].status == "changed"
    assert steps["mount-retirement"].changes[0].startswith("unmount /mnt/datalake")
    assert _lake_root(release_sandbox).startswith("abfss://datalake@")
    assert steps["integration-tests"].status == "changed"  # read and written through the external location
    # Nothing in the lake moved: the landed files and the earlier load's partitions are where they were (the new
    # load rewrote only the whole-table dimensions).
    kept = {b for b in before if b.startswith("src/") or "/load_id=" in b}
    assert kept and kept <= _lake_blobs(release_sandbox)

    reset_requests(release_sandbox)
    again = _staging(release_sandbox, published_bundle, unity, lines, infrastructure=True)
    made = requests_made(release_sandbox)
    assert again.outcome == "succeeded" and {s.status for s in again.steps} == {"unchanged"}, again.steps
    assert [w for w in made["write_requests"] if not is_lock_write(w)] == []


def _assert_the_audit_notebook_works_under(home, lake_root: str) -> None:
    """The audit's own notebook prepares a shadow area and compares it, with roots under ``lake_root`` (a mount
    point here: production's audit is exercised in Unity Catalog mode by the blue/green tests)."""
    import json

    from toolkit.azure.datafactory import Factory, run_values
    from toolkit.databricks.clusters import find_cluster
    from toolkit.databricks.runs import run_notebook
    from toolkit.databricks.workspace_files import WorkspaceObject, import_objects
    from toolkit.release.steps.audit import notebook_source

    d = _deployed(home)
    settings = load_environment(ENVIRONMENTS, "prod", "sandbox").audit
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    run = factory.succeeded_runs(settings.pipeline, 1)[0]
    folder = run_values(run, factory.activity_runs(run["runId"]))["activity.SetInFileFolder.value"]
    notebook = "/audit-test/shadow_audit"
    import_objects(d.workspace, [WorkspaceObject(notebook, notebook_source(), True)], lambda _: None)
    cluster = find_cluster(d.workspace, d.environment.databricks.cluster_name)["cluster_id"]
    roots = {"live_root": lake_root, "baseline_root": f"{lake_root}/_audit/t/live",
             "candidate_root": f"{lake_root}/_audit/t/idle"}

    def run_mode(mode, **values):
        done = run_notebook(d.workspace, cluster, notebook, {"mode": mode, **roots, "settings": json.dumps(values)},
                            f"audit {mode}", 10, print)
        assert done.succeeded, done.error
        return done.output

    prepared = run_mode("prepare", input=folder, start_tables=settings.start_tables, load_column="load_id",
                        load_id=run["runId"], table_format="parquet")
    assert prepared["input_files"] == ["MelbParkingBayData.json", "MelbParkingSensorData.json"]
    assert all(0 < t["kept"] <= t["rows"] for t in prepared["start_tables"].values())  # without the load's own rows
    compared = run_mode("compare", tables={t: s.keys for t, s in settings.tables.items()}, table_format="parquet")
    assert all(not t.get("changed") and t["rows"]["baseline"] == t["rows"]["candidate"]
               for t in compared["tables"].values())
    assert f"_audit/t/idle/{folder}/MelbParkingSensorData.json" in _lake_blobs(home)


def _assert_unity_catalog_complete(home) -> None:
    from toolkit.databricks import unity_catalog as uc
    from toolkit.release.steps.storage_access import catalog_setup

    d = _deployed(home)
    setup = catalog_setup(d)
    state = uc.read_state(d.workspace, setup)
    assert state.credential_connector == d.output("accessConnectorId")
    assert state.location == {"url": setup.url, "credential_name": "parking_staging_connector", "read_only": False}
    assert state.catalog_root == setup.managed_location and state.schemas == {"interim", "malformed", "dw"}
    assert set(uc.LOCATION_PRIVILEGES) <= state.location_grants and set(uc.CATALOG_PRIVILEGES) <= state.catalog_grants
