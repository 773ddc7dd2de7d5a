"""Production's blue/green release on the sandbox: version 1 and version 2 go into the idle slot in
turn, each smoke-tested there; `swap` makes each live, and Data Factory then runs that version's
notebooks and wheel; swapping back (ops.rollback) runs version 1 again; the ledger records it all.
A swap the checks refuse writes nothing."""
import subprocess

import pytest

from tests.integration.release_helpers import (known_keys, publish_signed, record_evidence, requests_made,
                                               reset_requests, saved_plan, stage, writes_by_service)
from toolkit.artifacts.config import load_store_config
from toolkit.azure import arm
from toolkit.artifacts.stores import open_store
from toolkit.azure.datafactory import Factory
from toolkit.build.application import build_application
from toolkit.environments.target import sandbox_target
from tasks.repository import ENVIRONMENTS, REPO_ROOT
from toolkit.release import ledger
from toolkit.release.swap import SwapRefused, plan_swap
from toolkit.environments.model import load_environment
from toolkit.release.deployment import open_deployed
from toolkit.release.slots import pointer

PROD = load_environment(ENVIRONMENTS, "prod", "sandbox")


def _build_variant(home, store, tmp_path_factory, name, edits):
    """A version one commit after this tree's, with ``edits`` (path -> text -> new text) applied, published signed,
    with the QA and staging evidence its stages would leave: (manifest, bundle folder)."""
    clone = tmp_path_factory.mktemp(name) / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
    for path, edit in edits.items():
        file = clone / path
        file.write_text(edit(file.read_text() if file.exists() else ""))
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", name], check=True)
    built = build_application(clone, tmp_path_factory.mktemp(f"{name}-dist"))
    manifest, bundle = publish_signed(home, built.bundle, store, tmp_path_factory.mktemp(f"{name}-fetched") / "bundle")
    for environment in ("qa", "staging"):
        record_evidence(home, store, manifest, environment)
    return manifest, bundle


@pytest.fixture(scope="module")
def versions(published_bundle, tmp_path_factory, request):
    """Version 1 (this tree, as published for the other release tests) and version 2 (one commit later, with a
    changed notebook that computes the same), both in one store, both with the QA and staging evidence deploy-qa
    and deploy-staging leave there when their integration tests pass."""
    manifest, bundle, config = published_bundle
    store = open_store(load_store_config(config), REPO_ROOT)
    home = request.getfixturevalue("release_sandbox")
    second = _build_variant(home, store, tmp_path_factory, "v2", {
        "notebooks/01_standardize.py": lambda text: text + "\n# COMMAND ----------\n\nprint('version 2')\n"})
    for environment in ("qa", "staging"):
        record_evidence(home, store, manifest, environment)
    return store, {1: (manifest, bundle, config), 2: (*second, config)}


def _fetcher(versions_):
    by_version = {m.version: (b, m) for m, b, _ in versions_.values()}
    return lambda version, trust: by_version[version]


def _prod(home):
    target = sandbox_target(home)
    return open_deployed(load_environment(ENVIRONMENTS, "prod", "sandbox"), target)


def _ingest(home):
    """Run production's pipeline on its lake's data; what its notebook activities ran: (version, paths, clusters)."""
    from toolkit.release.steps.integration import IntegrationTests

    d = _prod(home)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    tests = load_environment(ENVIRONMENTS, "qa", "sandbox").integration_tests
    run, activities = IntegrationTests._pipeline(d, factory, tests)
    assert run["status"] == "Succeeded", activities
    notebooks = [a for a in activities if a["activityType"] == "DatabricksNotebook"]
    runs = [d.workspace.jobs.get_run(int(a["output"]["runPageUrl"].rsplit("/", 1)[-1])) for a in notebooks]
    return ({a["output"]["runOutput"]["version"] for a in notebooks},
            {r.tasks[0].notebook_task.notebook_path.rsplit("/", 2)[0] for r in runs},
            {r.tasks[0].existing_cluster_id for r in runs})


def _land_data(home):
    """Production's lake gets the Melbourne extracts where the pipeline reads them (as the city's feed would)."""
    from azure.storage.blob import BlobServiceClient

    d = _prod(home)
    shared = d.blob_service("rg-sandbox-shared", "sbxshared").get_container_client("integration-data")
    lake = d.lake().get_container_client("datalake")
    if not lake.exists():
        lake.create_container()
    for blob in shared.list_blobs(name_starts_with="melbourne/"):
        data = shared.download_blob(blob.name).readall()
        lake.upload_blob("src/" + blob.name, data, overwrite=True)
    assert isinstance(d.lake(), BlobServiceClient)


def _swap(home, versions_, dry_run=False, wait=False, saved=None, **checks):
    """The checks, then the swap (``checks``: force, rollback), as `inv swap --yes` runs them (``saved``: as
    `inv swap --plan` applies an approved plan)."""
    store, by_number = versions_
    planned = plan_swap(PROD, sandbox_target(home), store, known_keys(home), _fetcher(by_number), say=print, **checks)
    return planned.run(dry_run=dry_run, wait=wait, saved=saved)


def _swap_plan(home, versions_, folder):
    """`inv swap --plan-out`: the checks and the swap's plan, saved (and read back as the apply job reads it)."""
    from toolkit.release.saved_plan import plan_document, read_plan, write_plan

    store, by_number = versions_
    planned = plan_swap(PROD, sandbox_target(home), store, known_keys(home), _fetcher(by_number), say=print)
    report = planned.run(dry_run=True)
    path = folder / "swap.plan.json"
    digest = write_plan(path, plan_document(report, bundle_digest=planned.deployment.manifest.digest,
                                            options={"force": False}, context=planned.context))
    return read_plan(path, digest)


@pytest.fixture(scope="module")
def blue_green(release_sandbox, versions):
    store, by_number = versions
    home = release_sandbox
    first = stage(home, by_number[1], "deploy-prod", infrastructure=True, store=store)
    assert first.outcome == "succeeded", first.error
    return home, first


def test_release_v1_then_v2_swap_and_swap_back(blue_green, versions, tmp_path):
    home, first = blue_green
    store, by_number = versions
    v1, v2 = by_number[1][0].version, by_number[2][0].version
    steps = {s.step: s.status for s in first.steps}
    assert steps["smoke-test"] in ("changed", "unchanged") and first.slot in ("blue", "green")
    assert first.audit["outcome"] == "no-baseline"  # nothing is live yet: the first swap is not held up
    slot_1 = first.slot
    went_live = _swap(home, versions)
    assert went_live.outcome == "succeeded", went_live.error
    assert went_live.to_slot == slot_1
    assert went_live.pointer["notebook_root"] == f"/parking-sensors/slots/{slot_1}/notebooks"
    _land_data(home)
    version, roots, clusters_1 = _ingest(home)
    assert version == {v1} and roots == {f"/parking-sensors/slots/{slot_1}"}

    live_before = _slot_state(home, slot_1)
    # Version 2 planned (reads only), then exactly that plan applied: every write it makes was planned, in the
    # number the plan announced; the only others are the environment lock's own.
    reset_requests(home)
    planned = stage(home, by_number[2], "deploy-prod", store=store, dry_run=True)
    assert planned.outcome == "succeeded" and requests_made(home)["writes"] == 0
    saved = saved_plan(planned, by_number[2], tmp_path, force=False, infrastructure=False, retest=False)
    assert {c["action"] for s in saved.document["steps"] for c in s.get("changes", [])} >= {"import", "run"}
    reset_requests(home)
    second = stage(home, by_number[2], "deploy-prod", store=store, saved=saved)
    assert second.outcome == "succeeded", second.error
    assert writes_by_service(home) == saved.document["writes"]
    slot_2 = second.slot
    assert slot_2 != slot_1 and {s.step: s.status for s in second.steps}["smoke-test"] == "changed"
    assert _slot_state(home, slot_1) == live_before  # the live slot was not written
    assert _ingest(home)[0] == {v1}  # deploying version 2 changed nothing that runs
    # Its audit: version 2's notebooks and version 1's ran the last load again, and computed the same.
    audit = second.audit
    assert (audit["outcome"], audit["findings"], audit["breaches"]) == ("passed", [], [])
    assert audit["against"] == {"slot": slot_1, "version": v1} and audit["version"] == v2
    fact = audit["diff"]["tables"]["dw/fact_parking"]
    assert fact["rows"] == {"baseline": 1000, "candidate": 1000} and fact["matched"] == 1000
    assert audit["diff"]["coverage"]["dim_parking_bay"]["candidate"]["unknown"] == 998

    swap_plan = _swap_plan(home, versions, tmp_path)
    reset_requests(home)
    to_2 = _swap(home, versions, saved=swap_plan)
    assert to_2.outcome == "succeeded" and (to_2.from_slot, to_2.to_slot) == (slot_1, slot_2)
    assert writes_by_service(home) == swap_plan.document["writes"]
    version, roots, clusters_2 = _ingest(home)
    assert version == {v2} and roots == {f"/parking-sensors/slots/{slot_2}"} and clusters_2 != clusters_1

    back = _swap(home, versions, rollback=True)
    assert back.outcome == "succeeded" and (back.from_slot, back.to_slot) == (slot_2, slot_1)
    version, roots, clusters_back = _ingest(home)
    assert version == {v1} and roots == {f"/parking-sensors/slots/{slot_1}"} and clusters_back == clusters_1

    records = ledger.read_ledger(_prod(home).lake())[0]["records"]
    story = [(r["event"], r["version"], r.get("slot"), r["outcome"]) for r in records
             if r["event"] in ("deploy", "smoke-test", "swap")][-7:]
    assert story == [("smoke-test", v1, slot_1, "passed"), ("deploy", v1, slot_1, "succeeded"),
                     ("swap", v1, slot_1, "succeeded"),
                     ("smoke-test", v2, slot_2, "passed"), ("deploy", v2, slot_2, "succeeded"),
                     ("swap", v2, slot_2, "succeeded"), ("swap", v1, slot_1, "succeeded")]
    assert all(r["who"] and r["bundle_digest"] for r in records[-7:])
    assert [r.get("plan_sha256") for r in records if r["event"] in ("deploy", "swap")][-4:-1] == [
        None, saved.sha256, swap_plan.sha256]  # the approved plans' hashes, with what they did


def _drift_cli(home):
    """`inv ops.drift --env prod --json`: (exit code, findings)."""
    import json
    import os
    import sys

    done = subprocess.run([sys.executable, "-m", "invoke", "ops.drift", "--env", "prod", "--json"], cwd=REPO_ROOT,
                          capture_output=True, text=True, env={**os.environ, "PARKING_SANDBOX_HOME": str(home)})
    return done.returncode, json.loads(done.stdout)


def test_drift_is_nothing_after_a_release_and_each_edit_outside_one_by_name(blue_green):
    """After releases (and the toolkit's own recorded ops), no drift; then a pipeline edited in place, a trigger
    stopped by hand, a cluster resized and a dataset added in the portal are each named, with exit code 3."""
    from toolkit.databricks import clusters
    from toolkit.release.drift import CLUSTER_FIELDS, find_drift
    from toolkit.release.operations import set_triggers

    home, _ = blue_green
    target = sandbox_target(home)
    assert set_triggers(PROD, target, None, "start", "T_Daily", False, print) == ["T_Daily"]  # recorded: no drift
    code, found = _drift_cli(home)
    assert (code, found["verdict"], found["items"], found["cannot_tell"]) == (0, "none", [], [])

    d = _prod(home)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    pipeline = factory.objects("pipeline")["P_Ingest_MelbParkingData"]
    factory.put("pipeline", "P_Ingest_MelbParkingData", {**pipeline, "description": "edited in the portal"})
    factory.stop_trigger("T_Daily")
    factory.put("dataset", "Ds_AddedByHand", {"type": "Json", "linkedServiceName": {
        "referenceName": next(iter(factory.objects("linkedService"))), "type": "LinkedServiceReference"}})
    live = pointer(factory.global_parameters())
    cluster = next(c for c in (clusters.find_cluster(d.workspace, f"parking-sensors-{s}") for s in ("blue", "green"))
                   if c["cluster_id"] == live["cluster_id"])
    spec = {k: cluster[k] for k in ("cluster_name", *CLUSTER_FIELDS) if k in cluster}  # an edit replaces the whole
    clusters.edit_cluster(d.workspace, cluster["cluster_id"], {**spec, "num_workers": spec["num_workers"] + 2}, print)
    try:
        report = find_drift(PROD, target, None, print)
        named = {i.item: (i.change, i.baseline, i.now) for i in report.items}
        name = cluster["cluster_name"]
        assert named["factory/pipeline/P_Ingest_MelbParkingData"][0] == "edited"
        assert named["triggers/T_Daily"] == ("edited", "Started", "Stopped")
        workers = spec["num_workers"]
        assert named[f"cluster/{name}/num_workers"] == ("edited", str(workers), str(workers + 2))
        added = named["factory/dataset/Ds_AddedByHand"]
        assert added[:2] == ("added", None) and added[2].startswith("sha256:")
        assert set(named) == {"factory/pipeline/P_Ingest_MelbParkingData", "triggers/T_Daily",
                              f"cluster/{name}/num_workers", "factory/dataset/Ds_AddedByHand"}
        code, found = _drift_cli(home)
        assert code == 3 and found["verdict"] == "drift" and {i["item"] for i in found["items"]} == set(named)
    finally:  # put back what the later tests run with
        factory.put("pipeline", "P_Ingest_MelbParkingData", pipeline)
        factory.delete("dataset", "Ds_AddedByHand")
        clusters.edit_cluster(d.workspace, cluster["cluster_id"], spec, print)
        set_triggers(PROD, target, None, "stop", "T_Daily", False, print)


def test_an_approved_plan_is_refused_with_zero_writes_when_what_it_read_changed(blue_green, versions, tmp_path):
    """Between plan and apply: a secret rotated, the live slot swapped, a pipeline edited in the portal. Each apply
    is refused before its first write, naming what drifted."""
    from toolkit.azure.keyvault import read_secret, write_secret
    from toolkit.release.saved_plan import PlanRefused

    home, _ = blue_green
    store, by_number = versions
    d = _prod(home)

    def refused(apply):
        reset_requests(home)
        with pytest.raises(PlanRefused) as caught:
            apply()
        assert writes_by_service(home) == {}
        return str(caught.value)

    def deploy_plan():
        report = stage(home, by_number[2], "deploy-prod", store=store, dry_run=True, force=True)
        return saved_plan(report, by_number[2], tmp_path, force=True, infrastructure=False, retest=False)

    saved = deploy_plan()
    key = read_secret(d.secrets, "datalakeKey")
    write_secret(d.secrets, "datalakeKey", key.value)  # rotated: the same value, a new version
    message = refused(lambda: stage(home, by_number[2], "deploy-prod", store=store, saved=saved, force=True))
    assert f"secret datalakeKey: {key.version} -> {read_secret(d.secrets, 'datalakeKey').version}" in message
    assert "nothing was written" in message

    saved = deploy_plan()
    live = pointer(Factory(d.rest, d.resource_group, d.output("dataFactoryName")).global_parameters())
    swapped = _swap(home, versions, force=True)
    assert swapped.outcome == "succeeded", swapped.error
    try:
        message = refused(lambda: stage(home, by_number[2], "deploy-prod", store=store, saved=saved, force=True))
        assert f"live slot (the factory's pointer): {swapped.from_slot} -> {swapped.to_slot}" in message

        swap_plan = _swap_plan(home, versions, tmp_path)
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        pipeline = factory.objects("pipeline")["P_Ingest_MelbParkingData"]
        factory.put("pipeline", "P_Ingest_MelbParkingData", {**pipeline, "description": "edited in the portal"})
        message = refused(lambda: _swap(home, versions, saved=swap_plan))
        assert "pipeline P_Ingest_MelbParkingData: sha256:" in message
    finally:
        back = _swap(home, versions, force=True)
        assert back.outcome == "succeeded", back.error
    assert pointer(Factory(d.rest, d.resource_group, d.output("dataFactoryName")).global_parameters()) == live


def test_an_infrastructure_redeploy_after_a_swap_keeps_production_on_its_live_slot(blue_green, versions):
    """An ARM PUT replaces the factory (its global parameters: the pointer) and the vault (its access policies:
    AzureDatabricks' and Data Factory's). deploy-prod --infra declares what is live in the template, and
    production goes on running its live slot: its pipeline runs there, reading its secrets."""
    import json

    from sandbox.server import Identity

    home, _ = blue_green
    store, by_number = versions
    d = _prod(home)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    pointer_before = factory.global_parameters()
    assert pointer_before["notebookRoot"]["value"].startswith("/parking-sensors/slots/")
    running_before = _ingest(home)

    # Drift (the workspace's SKU changed by hand) that makes what-if show a change: the whole template is deployed.
    drift = json.loads((REPO_ROOT / "arm" / "azuredeploy.json").read_text())
    drift["resources"] = [r for r in drift["resources"] if r["type"] == "Microsoft.Databricks/workspaces"]
    drift["outputs"] = {}
    names = d.environment.resource_names(d.target.subscription_id, None)
    drift_parameters = {"environment": "prod", "keyVaultAdminObjectId": "x", "databricksSku": "standard", **names}
    arm.deploy(d.arm, d.resource_group, drift, drift_parameters, "drift", print)

    report = stage(home, by_number[2], "deploy-prod", infrastructure=True, store=store)
    assert report.outcome == "succeeded", report.error
    infrastructure = next(s for s in report.steps if s.step == "infrastructure")
    assert infrastructure.status == "changed" and any("Microsoft.Databricks/workspaces" in c
                                                      for c in infrastructure.changes)
    assert factory.global_parameters() == pointer_before  # the pointer survived the factory's PUT
    policies = d.rest.call("GET", f"{d.rest.group_path(d.resource_group)}/providers/Microsoft.KeyVault/vaults/"
                                  f"{d.output('keyVaultName')}", "2023-07-01")["properties"]["accessPolicies"]
    assert Identity.load_or_create(home).azure_databricks_object_id in {p["objectId"] for p in policies}
    assert _ingest(home) == running_before  # same version, same slot root, same cluster


def _slot_state(home, slot):
    """What a slot is made of: its objects, its marker, its cluster's libraries and state."""
    from toolkit.databricks import clusters
    from toolkit.databricks.workspace_files import existing_objects
    from toolkit.release.markers import read_marker

    d = _prod(home)
    root = f"/parking-sensors/slots/{slot}"
    cluster = clusters.find_cluster(d.workspace, f"parking-sensors-{slot}")
    return (existing_objects(d.workspace, root), read_marker(d.workspace, root), cluster["state"],
            clusters.installed_libraries(d.workspace, cluster["cluster_id"]))


def _unchanged_by(home, action):
    d = _prod(home)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    before = (factory.global_parameters(), len(ledger.read_ledger(d.lake())[0]["records"]))
    reset_requests(home)
    with pytest.raises(SwapRefused) as refused:
        action()
    assert requests_made(home)["writes"] == 0
    assert (factory.global_parameters(), len(ledger.read_ledger(d.lake())[0]["records"])) == before
    return str(refused.value)


def test_a_swap_to_a_version_that_skipped_staging_is_refused_and_changes_nothing(blue_green, versions):
    home, _ = blue_green
    store, by_number = versions
    evidence = store.root / by_number[2][0].version / "promotion" / "staging.json"
    kept = evidence.read_bytes()
    evidence.unlink()
    try:
        message = _unchanged_by(home, lambda: _swap(home, versions))
    finally:
        evidence.write_bytes(kept)
    assert "has not passed the staging integration tests" in message and "nothing was changed" in message


@pytest.mark.parametrize("forgery", ["written by hand", "QA's evidence presented as staging's"])
def test_forged_staging_evidence_is_refused_by_swap_and_deploy_prod_before_any_write(blue_green, versions, forgery):
    """Whoever can write the artifact store cannot promote: evidence counts only when the stage's own key signed it."""
    import json

    from toolkit.release.stages import PromotionRefused

    home, _ = blue_green
    store, by_number = versions
    manifest = by_number[2][0]
    folder = store.root / manifest.version / "promotion"
    kept = {name: (folder / name).read_bytes() for name in ("staging.json", "staging.json.sig")}
    if forgery == "written by hand":
        (folder / "staging.json").write_text(json.dumps({"environment": "staging", "version": manifest.version,
                                                         "bundle_digest": manifest.digest, "outcome": "passed"}))
        (folder / "staging.json.sig").unlink()
        expected = "is unsigned"
    else:
        for suffix in ("", ".sig"):
            (folder / f"staging.json{suffix}").write_bytes((folder / f"qa.json{suffix}").read_bytes())
        expected = "is signed by qa-signer"
    try:
        message = _unchanged_by(home, lambda: _swap(home, versions))
        reset_requests(home)
        with pytest.raises(PromotionRefused) as refused:
            stage(home, by_number[2], "deploy-prod", store=store)
        assert requests_made(home)["writes"] == 0
    finally:
        for name, data in kept.items():
            (folder / name).write_bytes(data)
    for text in (message, str(refused.value)):
        assert f"the staging promotion evidence of {manifest.version}" in text and expected in text
    assert "a key prod (for staging's promotion evidence) does not trust (it trusts staging-signer)" in message \
        or expected == "is unsigned"


def test_a_swap_to_an_untested_idle_slot_is_refused_and_changes_nothing(blue_green, versions):
    """Version 1 written into the idle slot without its smoke test (a deploy that died before it)."""
    from toolkit.release.steps.application import Application
    from toolkit.release.deployment import Deployment, Options
    from toolkit.release.slots import idle_slot, live_slot

    home, _ = blue_green
    manifest, bundle, _ = versions[1][1]
    d = _prod(home)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    live = live_slot(d.environment, factory.global_parameters())
    idle = idle_slot(d.environment, live)
    partial = Deployment(d.environment, d.target, bundle, manifest, Options(), outputs=d.outputs, slot=idle)
    Application().plan(partial).apply()
    message = _unchanged_by(home, lambda: _swap(home, versions))
    assert f"slot {idle}'s version {manifest.version} has not been smoke-tested there" in message
    assert pointer(factory.global_parameters())["notebook_root"].startswith(f"/parking-sensors/slots/{live}/")


def test_deploy_prod_refuses_a_version_without_promotion_evidence_before_any_call(blue_green, versions, tmp_path):
    from toolkit.artifacts.stores import LocalStore
    from toolkit.release.stages import PromotionRefused

    home, _ = blue_green
    reset_requests(home)
    with pytest.raises(PromotionRefused, match="prod accepts only versions that passed qa and staging: version "):
        stage(home, versions[1][2], "deploy-prod", store=LocalStore(tmp_path))
    assert requests_made(home)["reads"] + requests_made(home)["writes"] == 0


def test_triggers_start_and_stop_only_what_differs(blue_green, tmp_path):
    from toolkit.release.operations import set_triggers

    home, _ = blue_green
    target = sandbox_target(home)
    assert set_triggers(PROD, target, None, "stop", None, False, print) == []  # kept stopped
    reset_requests(home)
    assert set_triggers(PROD, target, None, "start", None, True, print) == ["T_Daily"]
    assert requests_made(home)["writes"] == 0  # a dry run
    assert set_triggers(PROD, target, None, "start", "T_Daily", False, print) == ["T_Daily"]
    assert set_triggers(PROD, target, None, "start", None, False, print) == []
    assert set_triggers(PROD, target, None, "stop", None, False, print) == ["T_Daily"]
    records = ledger.read_ledger(_prod(home).lake())[0]["records"]
    assert [r["event"] for r in records[-2:]] == ["triggers-started", "triggers-stopped-by-hand"]
    from toolkit.configuration import ConfigError

    with pytest.raises(ConfigError, match="prod has no trigger 'T_Hourly' \\(it has: T_Daily\\)"):
        set_triggers(PROD, target, None, "start", "T_Hourly", False, print)

    # As an approved plan: saved, refused once the trigger was started by hand since, applied once it is as planned.
    from toolkit.release.saved_plan import PlanRefused, plan_document, read_plan, write_plan

    reports = []
    assert set_triggers(PROD, target, None, "start", "T_Daily", True, print, on_report=reports.append) == ["T_Daily"]
    digest = write_plan(tmp_path / "triggers.json", plan_document(reports[-1], bundle_digest="-", options={
        "action": "start", "trigger": "T_Daily"}))
    saved = read_plan(tmp_path / "triggers.json", digest)
    assert saved.document["writes"] == {"arm": 1, "storage": 1}
    factory = Factory(_prod(home).rest, _prod(home).resource_group, _prod(home).output("dataFactoryName"))
    factory.start_trigger("T_Daily")
    reset_requests(home)
    with pytest.raises(PlanRefused, match="trigger T_Daily: Stopped -> Started"):
        set_triggers(PROD, target, None, "start", "T_Daily", False, print, saved=saved)
    assert writes_by_service(home) == {}
    factory.stop_trigger("T_Daily")
    reset_requests(home)
    assert set_triggers(PROD, target, None, "start", "T_Daily", False, print, saved=saved) == ["T_Daily"]
    assert writes_by_service(home) == saved.document["writes"]
    assert set_triggers(PROD, target, None, "stop", None, False, print) == ["T_Daily"]


def test_restart_cluster_restarts_the_named_slots_cluster(blue_green):
    from toolkit.databricks import clusters
    from toolkit.release.operations import restart_cluster

    home, _ = blue_green
    target = sandbox_target(home)
    d = _prod(home)
    idle = next(s for s in ("blue", "green") if not pointer(Factory(
        d.rest, d.resource_group, d.output("dataFactoryName")).global_parameters())["notebook_root"]
        .startswith(f"/parking-sensors/slots/{s}/"))
    reset_requests(home)
    cluster_id = restart_cluster(PROD, target, None, idle, True, print)
    assert requests_made(home)["writes"] == 0
    assert cluster_id == clusters.find_cluster(d.workspace, f"parking-sensors-{idle}")["cluster_id"]
    assert restart_cluster(PROD, target, None, idle, False, print) == cluster_id
    assert clusters.find_cluster(d.workspace, f"parking-sensors-{idle}")["state"] == "RUNNING"
    assert ledger.read_ledger(d.lake())[0]["records"][-1]["event"] == "cluster-restarted"
    from toolkit.configuration import ConfigError

    with pytest.raises(ConfigError, match="prod has no slot 'purple'"):
        restart_cluster(PROD, target, None, "purple", True, print)


def test_rotating_the_factorys_token_replaces_it_once_and_the_factory_keeps_running(blue_green):
    from toolkit.azure.keyvault import read_secret
    from toolkit.release.operations import OperationFailed, rotate_secret
    from toolkit.release.steps.secrets import TOKEN_ID_TAG

    home, _ = blue_green
    target = sandbox_target(home)
    d = _prod(home)
    before = read_secret(d.secrets, "databricksToken").tags[TOKEN_ID_TAG]
    assert rotate_secret(PROD, target, None, "databricksToken", 0, True, print) is True  # dry run
    assert read_secret(d.secrets, "databricksToken").tags[TOKEN_ID_TAG] == before
    assert rotate_secret(PROD, target, None, "databricksToken", 0, False, print) is True
    after = read_secret(d.secrets, "databricksToken").tags[TOKEN_ID_TAG]
    assert after != before and before not in {t.token_id for t in d.workspace.tokens.list()}  # the old one revoked
    # Retried within the minimum age: not rotated twice.
    assert rotate_secret(PROD, target, None, "databricksToken", 60, False, print) is False
    assert read_secret(d.secrets, "databricksToken").tags[TOKEN_ID_TAG] == after
    assert _ingest(home)[0]  # Data Factory reads the new token from the vault
    with pytest.raises(OperationFailed, match="lake's account key"):
        rotate_secret(PROD, target, None, "datalakeKey", 0, True, print)


def test_a_failed_run_is_rerun_from_its_failed_activity(blue_green):
    from toolkit.release.operations import OperationFailed, rerun_failed
    from toolkit.release.steps.integration import IntegrationTests

    home, _ = blue_green
    target = sandbox_target(home)
    d = _prod(home)
    lake = d.lake().get_container_client("datalake")
    source = {b.name: lake.download_blob(b.name).readall() for b in lake.list_blobs(name_starts_with="src/melbourne/")}
    assert source
    for name in source:  # the day's extracts have not landed
        lake.delete_blob(name)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    tests = load_environment(ENVIRONMENTS, "qa", "sandbox").integration_tests
    failed, activities = IntegrationTests._pipeline(d, factory, tests)
    assert failed["status"] == "Failed"
    infilefolder = next(a for a in activities if a["activityName"] == "SetInFileFolder")["output"]["value"]
    for name, data in source.items():  # they land
        lake.upload_blob(name, data, overwrite=True)
    reset_requests(home)
    assert rerun_failed(PROD, target, None, failed["runId"], 10, True, print)["runId"] == \
        failed["runId"]
    assert requests_made(home)["writes"] == 0  # a dry run
    recovered = rerun_failed(PROD, target, None, failed["runId"], 10, False, print)
    assert recovered["status"] == "Succeeded" and recovered["runGroupId"] == failed["runGroupId"]
    rerun_activities = {a["activityName"]: a for a in factory.activity_runs(recovered["runId"])}
    assert "SetInFileFolder" not in rerun_activities  # it succeeded the first time: not run again
    assert rerun_activities["StandardizeData"]["input"]["baseParameters"]["infilefolder"] == infilefolder
    with pytest.raises(OperationFailed, match="has been rerun already"):
        rerun_failed(PROD, target, None, failed["runId"], 10, False, print)
    assert rerun_failed(PROD, target, None, recovered["runId"], 10, False, print)["status"] == \
        "Succeeded"  # nothing to rerun


def test_a_run_in_flight_finishes_on_its_slot_and_holds_off_a_deploy_to_it(blue_green, versions, tmp_path):
    """A forced swap while a run is in flight: the run finishes on the slot it started on, and deploy-prod
    will not rewrite that slot under it until it has."""
    from toolkit.azure.datafactory import wait_for_run

    home, _ = blue_green
    store, by_number = versions
    d = _prod(home)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    started_on = pointer(factory.global_parameters())["notebook_root"].rsplit("/", 1)[0]  # the slot's root
    tests = load_environment(ENVIRONMENTS, "qa", "sandbox").integration_tests
    in_flight = factory.create_run(tests.pipeline, tests.parameters)
    forced = _swap(home, versions, force=True)  # its idle slot was never smoke-tested: forced, and recorded
    assert forced.outcome == "succeeded" and forced.forced
    assert ledger.read_ledger(d.lake())[0]["records"][-1]["forced"] == forced.forced
    refused = stage(home, by_number[2], "deploy-prod", store=store)
    assert refused.outcome == "failed" and f"pipeline run {in_flight} of {tests.pipeline}" in refused.error
    assert f"it runs on slot {forced.from_slot}" in refused.error
    run, activities = wait_for_run(factory, in_flight, 10, print)
    assert run["status"] == "Succeeded"
    paths = {d.workspace.jobs.get_run(int(a["output"]["runPageUrl"].rsplit("/", 1)[-1])).tasks[0]
             .notebook_task.notebook_path.rsplit("/", 2)[0] for a in activities
             if a["activityType"] == "DatabricksNotebook"}
    assert paths == {started_on}  # it finished on the slot it started on
    # (The audit has its own test below; without it this deploy takes a minute less.)
    deployed = stage(home, by_number[2], "deploy-prod", store=store, environments=_without_audit(tmp_path))
    assert deployed.outcome == "succeeded" and deployed.slot == forced.from_slot


def _without_audit(folder):
    """environments/ with production's [audit] tables left out."""
    import re
    import shutil

    copy = folder / "environments"
    shutil.copytree(ENVIRONMENTS, copy)
    kept, skipping = [], False
    for line in (copy / "prod.toml").read_text().splitlines():
        if line.startswith("["):  # a table's header: [audit] and [audit.*] are left out, with their lines
            skipping = bool(re.match(r"\[audit[.\]]", line))
        if not skipping:
            kept.append(line)
    (copy / "prod.toml").write_text("\n".join(kept) + "\n")
    assert load_environment(copy, "prod", "sandbox").audit is None
    return copy


FACT_MODEL = "src/parking_sensors/model.py"
INTENDED = "notebooks/intended_changes.toml"


def _off_by_an_hour_without_status(text):
    """A transform that computes dim_time_id an hour later and no longer writes the fact's status."""
    changed = text.replace('.withColumn("dim_time_id", F.lit(load.time_id))',
                           '.withColumn("dim_time_id", F.lit(load.time_id + 3600))')
    changed = changed.replace('\n                "status", "load_id"', '\n                "load_id"')
    assert changed.count("3600") == 1 and '"status", "load_id"' not in changed, "the model changed: adapt the edit"
    return changed


@pytest.fixture(scope="module")
def changed_versions(versions, tmp_path_factory, request):
    """Version 3: the transform changed (dim_time_id an hour off) and a fact column dropped; version 4: the same,
    with both changes declared as intended next to its notebooks."""
    store, _ = versions
    home = request.getfixturevalue("release_sandbox")
    declared = ('[[change]]\ntable = "dw/fact_parking"\ncolumn = "dim_time_id"\nchange = "values"\n'
                'why = "time ids move to Melbourne time"\n\n[[change]]\ntable = "dw/fact_parking"\ncolumn = "status"\n'
                'change = "column-removed"\nwhy = "status moves to a fact of its own"\n')
    third = _build_variant(home, store, tmp_path_factory, "v3", {FACT_MODEL: _off_by_an_hour_without_status})
    fourth = _build_variant(home, store, tmp_path_factory, "v4",
                            {FACT_MODEL: _off_by_an_hour_without_status, INTENDED: lambda _: declared})
    return {3: (*third, None), 4: (*fourth, None)}


def _ensure_a_live_load(home, versions_):
    """Production has a live slot, and its pipeline has landed and processed a load (what an audit compares on)."""
    d = _prod(home)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    if pointer(factory.global_parameters())["notebook_root"] is None:
        assert _swap(home, versions_, force=True).outcome == "succeeded"
    _land_data(home)
    _ingest(home)


def _lake_outside_the_audit(home):
    """Every blob of production's lake container outside the shadow areas: name -> sha256 of its content."""
    import hashlib

    lake = _prod(home).lake().get_container_client("datalake")
    return {b.name: hashlib.sha256(lake.download_blob(b.name).readall()).hexdigest()
            for b in lake.list_blobs() if not b.name.startswith("_audit/")}


def _audit_cli(home):
    """`inv ops.audit --env prod --json`: (exit code, the record it printed)."""
    import json
    import os
    import sys

    result = subprocess.run([sys.executable, "-m", "invoke", "ops.audit", "--env", "prod", "--json"], cwd=REPO_ROOT,
                            capture_output=True, text=True, env={**os.environ, "PARKING_SANDBOX_HOME": str(home)})
    return result.returncode, json.loads(result.stdout or "null")


def test_the_audit_names_a_changed_and_a_removed_column_and_the_swap_refuses_until_they_are_declared(
        blue_green, versions, changed_versions, tmp_path):
    import json
    home, _ = blue_green
    store, by_number = versions
    _ensure_a_live_load(home, versions)
    live_slot_before = pointer(Factory(_prod(home).rest, _prod(home).resource_group,
                                       _prod(home).output("dataFactoryName")).global_parameters())

    third = stage(home, changed_versions[3], "deploy-prod", store=store, reports=tmp_path)
    assert third.outcome == "succeeded", third.error
    audit = third.audit
    fact = audit["diff"]["tables"]["dw/fact_parking"]
    assert audit["outcome"] == "breached" and fact["changed"]["dim_time_id"]["rows"] == 1000
    assert fact["schema"]["removed"] == [{"column": "status", "type": "string"}]
    assert audit["breaches"] == [
        "dw/fact_parking.status: column removed (was string) (not allowed: [audit.gates] allow_removed_columns = "
        "false)",
        "dw/fact_parking.dim_time_id: 1000 of 1000 matched rows differ (100%) (over [audit.gates] "
        "max_value_change_percent = 0%)"]
    example = fact["changed"]["dim_time_id"]["examples"][0]
    assert example["candidate"] - example["baseline"] == 3600
    with pytest.raises(SwapRefused) as refused:
        _swap(home, (store, {**by_number, **changed_versions}))
    assert all(b in str(refused.value) for b in audit["breaches"])

    # The ledger, ops.audit and the Markdown report show the same numbers.
    recorded = [r for r in ledger.read_ledger(_prod(home).lake())[0]["records"] if r["event"] == "audit"][-1]
    code, shown = _audit_cli(home)
    assert code == 3 and shown == recorded and recorded["breaches"] == audit["breaches"]
    markdown = (tmp_path / "audit-prod.md").read_text()
    assert json.loads((tmp_path / "audit-prod.json").read_text()) == recorded
    assert "| dw/fact_parking | 1000 → 1000 |" in markdown and "dim_time_id (1000)" in markdown
    assert "-status" in markdown and all(b in markdown for b in audit["breaches"])

    # Version 4 declares both changes. While its shadow runs run, production's pipeline runs on the live slot:
    # what the live slot wrote is untouched by the audit.
    import threading
    import time

    result = {}
    deploying = threading.Thread(target=lambda: result.update(
        report=stage(home, changed_versions[4], "deploy-prod", store=store)))
    deploying.start()
    try:  # a failure here still waits for the deploy: it must not go on writing after the test
        d = _prod(home)
        deadline = time.monotonic() + 600
        while not any((r.run_name or "").startswith("audit: idle slot's") for r in d.workspace.jobs.list_runs(
                active_only=True)):
            assert deploying.is_alive() and time.monotonic() < deadline, result
            time.sleep(0.5)
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        tests = load_environment(ENVIRONMENTS, "qa", "sandbox").integration_tests
        from toolkit.azure.datafactory import wait_for_run
        live_run, _ = wait_for_run(factory, factory.create_run(tests.pipeline, tests.parameters), 20, print)
        assert live_run["status"] == "Succeeded"
        after_live_run = _lake_outside_the_audit(home)
    finally:
        deploying.join()
    fourth = result["report"]
    assert fourth.outcome == "succeeded", fourth.error
    assert fourth.audit["when"] >= live_run["runStart"][:19]  # the live run started before the audit ended
    assert _lake_outside_the_audit(home) == after_live_run  # and the audit wrote nothing outside its area
    assert any(name.startswith("lnd/") and live_run["runId"] in name for name in after_live_run)

    assert fourth.audit["outcome"] == "passed" and fourth.audit["breaches"] == []
    assert {f["waived_by"] for f in fourth.audit["findings"] if f["breach"]} == {
        "intended: time ids move to Melbourne time", "intended: status moves to a fact of its own"}
    planned = _swap(home, (store, {**by_number, **changed_versions}), dry_run=True)  # the checks pass: it may go
    assert planned.outcome == "succeeded" and planned.to_slot == fourth.slot
    assert pointer(factory.global_parameters()) == live_slot_before  # nothing went live
