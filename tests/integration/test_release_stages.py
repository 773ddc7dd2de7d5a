"""The release stages against a real (detached) sandbox: a first deploy-qa that runs the pipeline and
the integration tests for real, a re-deploy that writes nothing, a dry run that writes nothing, fault
injection, a deploy killed midway, and each kind of failure giving one clear line."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.release_helpers import (deployment, environment_state, is_lock_write, requests_made,
                                               reset_requests, saved_plan, set_faults, stage)
from toolkit.environments.model import load_environment
from tasks.repository import ENVIRONMENTS, REPO_ROOT
from toolkit.release import ledger
from toolkit.release.lock import LEASE_SECONDS, EnvironmentLock, LockHeld, break_lock, current_holder


@pytest.fixture(scope="module")
def first_qa(release_sandbox, published_bundle, tmp_path_factory):
    """The first deploy of it1 as CI's plan, approve, apply runs it: planned with reads only, then that plan applied."""
    planned = stage(release_sandbox, published_bundle, dry_run=True, deployment_id="it1")
    saved = saved_plan(planned, published_bundle, tmp_path_factory.mktemp("plan"), deployment_id="it1",
                       retest=False, prune=False)
    lines = []
    report = stage(release_sandbox, published_bundle, lines=lines, deployment_id="it1", saved=saved)
    return report, lines, saved


class _Timed(list):
    """Progress lines with the time each was said."""

    def __init__(self, into: list):
        super().__init__()
        self.into = into

    def append(self, line):
        self.into.append((time.monotonic(), line))


def _qa(home, published, deployment_id, outputs):
    return deployment(home, published, load_environment(ENVIRONMENTS, "qa", "sandbox"), deployment_id, outputs)


def _lake_account(home) -> str:
    """The lake account it1's infrastructure deployment named."""
    return _outputs(home, None, "it1")["storageAccountName"]


def _outputs(home, published, deployment_id):
    from toolkit.azure import arm
    from toolkit.environments.target import sandbox_target

    return arm.latest_outputs(arm.resource_client(sandbox_target(home)), f"rg-parking-qa-{deployment_id}", "qa")


def test_first_deploy_runs_every_step_and_the_integration_tests_pass(first_qa, release_sandbox, published_bundle):
    report, lines, saved = first_qa
    assert report.outcome == "succeeded", report.error
    # The plan could compute only the infrastructure (the group does not exist yet); every later step is marked as
    # applied after it, relying on the names the plan expected its outputs to give, which the apply checked.
    assert [s["status"] for s in saved.document["steps"]] == ["planned"] + ["after"] * 8
    assert saved.document["expects"]["outputs"]["storageAccountName"] == _lake_account(release_sandbox)
    assert any(line.startswith("[plan] ") for line in lines)
    # Every step writes on a first deploy, but mount retirement: there was never a mount.
    assert {s.step: s.status for s in report.steps} == {
        "infrastructure": "changed", "secrets": "changed", "data": "changed", "workspace": "changed",
        "application": "changed", "storage-access": "changed", "datafactory": "changed",
        "mount-retirement": "unchanged", "integration-tests": "changed"}
    # The pipeline really loaded the Melbourne extracts through the deployed notebooks and wheel.
    assert any("SetInFileFolder" in line and "Succeeded" in line for line in lines)
    assert any("TransformData" in line and "DatabricksNotebook" in line and "Succeeded" in line for line in lines)
    d = _qa(release_sandbox, published_bundle, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    passed = ledger.last_record(ledger.read_ledger(d.lake())[0], event="integration-tests")
    assert passed["outcome"] == "passed" and passed["version"] == d.version
    assert passed["summary"]["fact_rows"] == 1000
    assert passed["summary"]["rows"]["parking_bay"] == {"input": 1000, "good": 998, "malformed": 2}
    state = environment_state(d)
    assert state["lake_tables"] == ["dim_location", "dim_parking_bay", "dim_st_marker", "fact_parking"]
    assert state["datalake_key_matches"] and state["factory_globals"]["notebookRoot"]["value"] == \
        f"{d.release_root}/notebooks"


def test_status_shows_what_the_factory_runs_and_the_ledger(first_qa, release_sandbox, published_bundle):
    from toolkit.environments.target import sandbox_target
    from toolkit.release.status import environment_status

    manifest = published_bundle[0]
    qa = load_environment(ENVIRONMENTS, "qa", "sandbox")
    found = environment_status(qa, sandbox_target(release_sandbox), "it1")
    assert found["factory_runs"]["notebook_root"] == f"/parking-sensors/releases/{manifest.version}/notebooks"
    events = [(r["event"], r["outcome"]) for r in found["records"]]
    assert ("integration-tests", "passed") in events and ("deploy", "succeeded") in events
    assert environment_status(qa, sandbox_target(release_sandbox), "none")["deployed"] is False


def test_a_second_deploy_of_the_same_version_makes_no_write(first_qa, release_sandbox, published_bundle):
    reset_requests(release_sandbox)
    report = stage(release_sandbox, published_bundle, deployment_id="it1")
    made = requests_made(release_sandbox)
    assert report.outcome == "succeeded"
    assert {s.status for s in report.steps} == {"unchanged"}
    # Nothing is written but the environment lock's own lease and holder (taken and given back).
    assert [w for w in made["write_requests"] if not is_lock_write(w)] == []
    assert 2 <= made["writes"] <= 4, made["write_requests"]
    assert made["reads"] > 10  # it did look


def test_a_dry_run_plans_every_step_and_makes_no_write(first_qa, release_sandbox, published_bundle):
    reset_requests(release_sandbox)
    fresh = stage(release_sandbox, published_bundle, dry_run=True, deployment_id="dry")
    assert fresh.steps[0].status == "planned" and any("resource group" in c for c in fresh.steps[0].changes)
    assert {s.status for s in fresh.steps[1:]} == {"not-plannable"}
    retest = stage(release_sandbox, published_bundle, dry_run=True, retest=True, deployment_id="it1")
    assert retest.steps[-1].status == "planned" and retest.steps[-1].changes[0].startswith("run pipeline")
    assert requests_made(release_sandbox)["writes"] == 0


def test_under_20_percent_faults_deploy_qa_succeeds_and_ends_in_the_same_state(first_qa, release_sandbox,
                                                                               published_bundle):
    set_faults(release_sandbox, {"rate_429": 0.1, "rate_503": 0.1, "retry_after_s": 1, "seed": 7})
    try:
        report = stage(release_sandbox, published_bundle, deployment_id="flt")
    finally:
        set_faults(release_sandbox, {})
    assert report.outcome == "succeeded", report.error
    faulty = _qa(release_sandbox, published_bundle, "flt", _outputs(release_sandbox, published_bundle, "flt"))
    clean = _qa(release_sandbox, published_bundle, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    assert environment_state(faulty) == environment_state(clean)


def test_a_deploy_killed_midway_converges_when_run_again(first_qa, release_sandbox, published_bundle):
    manifest, _, store_config = published_bundle
    command = [sys.executable, "-m", "invoke", "deploy-qa", "--deployment-id", "kil", "--version", manifest.version,
               "--store-config", str(store_config)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PARKING_SANDBOX_HOME": str(release_sandbox)},
                               start_new_session=True)
    seen = []
    for line in process.stderr:  # kill it while Unity Catalog is set up: infrastructure to app are done
        seen.append(line)
        if line.startswith("[storage-access] create storage credential"):
            break
    time.sleep(1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    started, timed = time.monotonic(), []  # the killed run's lease is still there: wait for it to lapse
    report = stage(release_sandbox, published_bundle, deployment_id="kil", wait=True,
                   lines=_Timed(timed))
    assert report.outcome == "succeeded", report.error
    locked_at = next(t for t, line in timed if line == "[secrets] planning")  # the first step under the lock
    assert locked_at - started < LEASE_SECONDS + 20  # the dead run's lock freed itself within its lease
    assert any("waiting for the qa lock, held by" in line and "task deploy-qa" in line for _, line in timed)
    statuses = {s.step: s.status for s in report.steps}
    assert statuses["infrastructure"] == statuses["application"] == "unchanged"  # done before the kill
    assert statuses["integration-tests"] == "changed"
    killed = _qa(release_sandbox, published_bundle, "kil", _outputs(release_sandbox, published_bundle, "kil"))
    clean = _qa(release_sandbox, published_bundle, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    assert environment_state(killed) == environment_state(clean)


def test_a_second_deploy_to_a_locked_environment_fails_at_once_naming_the_holder(first_qa, release_sandbox,
                                                                                 published_bundle):
    import threading

    d = _qa(release_sandbox, published_bundle, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    held = EnvironmentLock(d.lake(), "qa", "deploy-qa (other run)", print).acquire()
    try:
        started = time.monotonic()
        refused = stage(release_sandbox, published_bundle, deployment_id="it1")
        assert refused.outcome == "failed" and time.monotonic() - started < 20
        assert refused.error.startswith("lock: qa is locked by ") and "task deploy-qa (other run)" in refused.error
        assert current_holder(d.lake())["task"] == "deploy-qa (other run)"
        threading.Timer(3, held.release).start()  # the other run finishes: a waiting deploy proceeds
        waited = stage(release_sandbox, published_bundle, deployment_id="it1", wait=True)
        assert waited.outcome == "succeeded", waited.error
    finally:
        held.release()
    assert current_holder(d.lake()) is None


# benchmarks/concurrent_deploys.py repeats this test on a loaded machine (a flaky test would fail landings at random).
@pytest.mark.parametrize("attempt", range(int(os.environ.get("PARKING_CONCURRENT_DEPLOY_ATTEMPTS", "1"))))
def test_of_two_deploys_started_at_once_exactly_one_proceeds_and_the_other_names_it(
        first_qa, release_sandbox, published_bundle, attempt):
    manifest, _, store_config = published_bundle
    command = [sys.executable, "-m", "invoke", "deploy-qa", "--deployment-id", "it1", "--version", manifest.version,
               "--store-config", str(store_config), "--retest"]  # --retest: each would run the tests, for a minute
    environment = {**os.environ, "PARKING_SANDBOX_HOME": str(release_sandbox)}
    runs = [subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                             env=environment) for _ in range(2)]
    outcomes = sorted((run.wait(timeout=900), run.stderr.read()) for run in runs)
    (ok, _), (refused, message) = outcomes
    assert (ok, refused) == (0, 1), message
    assert "deploy-qa failed: lock: qa is locked by " in message and "(task deploy-qa, pid " in message
    assert "--wait" in message and "inv ops.unlock --env qa" in message


def test_unlock_breaks_a_lock_and_names_who_held_it(first_qa, release_sandbox, published_bundle):
    d = _qa(release_sandbox, published_bundle, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    EnvironmentLock(d.lake(), "qa", "a run that died", print).acquire()  # never released
    try:
        with pytest.raises(LockHeld, match="task a run that died"):
            EnvironmentLock(d.lake(), "qa", "next", print).acquire()
    finally:
        assert break_lock(d.lake())["task"] == "a run that died"
    assert break_lock(d.lake()) is None
    EnvironmentLock(d.lake(), "qa", "next", print).acquire().release()


def test_a_run_whose_lock_lapsed_stops_at_the_next_step_and_writes_nothing_more(
        first_qa, release_sandbox, published_bundle, monkeypatch):
    from toolkit.release import lock, stages
    from toolkit.release.plan import Plan

    monkeypatch.setattr(lock, "LEASE_SECONDS", 15)  # Azure's shortest finite lease, for a shorter test
    monkeypatch.setattr(lock, "RENEW_EVERY_SECONDS", 3)

    class OutlastTheLease:
        """A step that runs past the lease while storage refuses every renewal of it."""
        name = "outlast-the-lease"

        def plan(self, d):
            set_faults(release_sandbox, {"rate_503": 1.0, "match": r"ledger\.json\?.*comp=lease.* renew$"})
            time.sleep(lock.LEASE_SECONDS + 3)
            return Plan()

    steps = stages.stage_steps
    monkeypatch.setattr(stages, "stage_steps", lambda *a: [steps(*a)[0], OutlastTheLease(), *steps(*a)[1:]])
    d = _qa(release_sandbox, published_bundle, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    records = len(ledger.read_ledger(d.lake())[0])
    reset_requests(release_sandbox)
    lines = []
    try:
        report = stage(release_sandbox, published_bundle, deployment_id="it1", lines=lines)
    finally:
        set_faults(release_sandbox, {})
    made = requests_made(release_sandbox)["write_requests"]
    assert report.outcome == "failed"
    assert [(s.step, s.status) for s in report.steps] == [
        ("infrastructure", "unchanged"), ("outlast-the-lease", "unchanged"), ("secrets", "failed")]
    assert report.error.startswith("secrets: not started: the qa lock's lease lapsed: no renewal succeeded for 15 s "
                                   "(last error: ") and "so as not to run beside another holder" in report.error
    assert not any(line == "[secrets] planning" for line in lines)
    assert [w for w in made if not is_lock_write(w)] == []  # no write after the lapse: not even the ledger's record
    assert any("could not record the deploy in the ledger: not written to the ledger: the qa lock's lease lapsed"
               in line for line in lines)
    assert len(ledger.read_ledger(d.lake())[0]) == records
    assert current_holder(d.lake()) is None  # given back with this run's lease id (it could free no other's)


def _interrupted_deploy(home, published, deployment_id, stop_at, *options):
    """Run deploy-qa as a user would, send it SIGINT once a line ``stop_at`` finds is printed: (exit code, output)."""
    manifest, _, store_config = published
    command = [sys.executable, "-m", "invoke", "deploy-qa", "--deployment-id", deployment_id, "--version",
               manifest.version, "--store-config", str(store_config), *options]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PARKING_SANDBOX_HOME": str(home)})
    seen = []
    for line in process.stderr:
        seen.append(line)
        if stop_at(line):
            break
    time.sleep(1)  # well inside what that line announced
    process.send_signal(signal.SIGINT)
    seen.append(process.stderr.read())
    process.wait(timeout=300)
    return process.returncode, "".join(seen)


def test_sigint_at_three_points_of_deploy_qa_stops_cleanly_and_the_next_run_converges(
        first_qa, release_sandbox, published_bundle):
    import re

    from toolkit.azure.datafactory import Factory

    clean = _qa(release_sandbox, published_bundle, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    points = [  # (where, the line that shows the stage is there, options, what it started and must have cancelled)
        ("application", lambda line: line.startswith("import: 1/"), (), None),
        ("integration-tests", lambda line: re.match(r"pipeline run \S+: InProgress", line), ("--retest",),
         r"pipeline run (\S+) cancelled"),
        ("integration-tests", lambda line: "99_integration_test started" in line, ("--retest",),
         r"Databricks run (\d+) cancelled"),
    ]
    for step, stop_at, options, cancelled in points:
        # The application step takes half a second on loopback: a workspace a network away (200 ms a call) makes
        # "during the application step" a moment a signal can be aimed at.
        set_faults(release_sandbox, {"latency_ms": 200} if step == "application" else {}, ("databricks",))
        try:
            code, output = _interrupted_deploy(release_sandbox, published_bundle, "sig", stop_at, *options)
        finally:
            set_faults(release_sandbox, {}, ("databricks",))
        last = output.strip().splitlines()[-1]
        assert code == 130, output
        assert last.startswith(f"deploy-qa interrupted: {step}: interrupted by SIGINT while applying; the steps "
                               "before it are done"), output
        d = _qa(release_sandbox, published_bundle, "sig", _outputs(release_sandbox, published_bundle, "sig"))
        record = ledger.last_record(ledger.read_ledger(d.lake())[0], event="deploy")
        assert (record["outcome"], record["error"]) == ("interrupted", f"{step}: interrupted by SIGINT while applying")
        assert current_holder(d.lake()) is None  # the lock was given back, not left to lapse
        if cancelled:  # what the stage started was stopped with it
            run_id = re.search(cancelled, output)
            assert run_id, output
            if run_id[0].startswith("pipeline"):
                factory = Factory(d.rest, d.resource_group, d.outputs["dataFactoryName"])
                assert factory.run(run_id[1])["status"] in ("Canceling", "Cancelled")
            else:
                ended = d.workspace.jobs.wait_get_run_job_terminated_or_skipped(int(run_id[1]))
                assert ended.state.result_state.value == "CANCELED"
        report = stage(release_sandbox, published_bundle, deployment_id="sig")  # the next run, as a user would
        assert report.outcome == "succeeded", report.error
        assert environment_state(d) == environment_state(clean)


def test_a_failing_pipeline_names_the_failing_activity_and_the_next_run_recovers(first_qa, release_sandbox,
                                                                                 published_bundle, tmp_path):
    from toolkit.release.plan import StepFailed
    from toolkit.release.steps.integration import IntegrationTests

    environment = load_environment(ENVIRONMENTS, "qa", "sandbox")
    broken = environment.model_copy(update={"integration_tests": environment.integration_tests.model_copy(
        update={"parameters": {"sourceFolder": "src/missing"}})})
    d = deployment(release_sandbox, published_bundle, broken, "it1",
                   _outputs(release_sandbox, published_bundle, "it1"))
    d.values["cluster_id"] = next(d.workspace.clusters.list()).cluster_id
    d.reports, d.options.retest = tmp_path, True  # it1 passed before: run the tests anyway
    with pytest.raises(StepFailed, match=r"ended Failed: activity Copy(Sensor|Bay)Data: .*src/missing"):
        IntegrationTests().plan(d).apply()
    assert 'failures="2"' in (tmp_path / "integration-qa.xml").read_text()
    assert ledger.last_record(ledger.read_ledger(d.lake())[0], event="integration-tests")["outcome"] == "failed"
    # The failure is on record, so the next deploy runs the tests again (and they pass).
    report = stage(release_sandbox, published_bundle, deployment_id="it1")
    assert report.outcome == "succeeded" and report.steps[-1].status == "changed"


def test_mount_mode_on_a_new_account_workspace_fails_in_one_line_naming_unity_catalog(
        first_qa, release_sandbox, published_bundle):
    from toolkit.release.plan import StepFailed
    from toolkit.release.steps.storage_access import StorageAccess

    environment = load_environment(ENVIRONMENTS, "qa", "sandbox")
    mount = environment.model_copy(update={"databricks": environment.databricks.model_copy(
        update={"storage_access": "mount", "mount_point": "/mnt/elsewhere"})})
    d = deployment(release_sandbox, published_bundle, mount, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    d.values["cluster_id"] = next(d.workspace.clusters.list()).cluster_id
    with pytest.raises(StepFailed) as refused:
        StorageAccess().plan(d).apply()
    assert str(refused.value) == ("this workspace has no DBFS mounts (Databricks accounts opened since they were "
                                  "withdrawn have none): set storage_access = \"unity-catalog\" under [databricks] in "
                                  f"{environment.source}")


def test_missing_metastore_privileges_fail_the_plan_in_one_line_before_any_write(
        first_qa, release_sandbox, published_bundle):
    from sandbox.connection import SandboxConnection
    from toolkit.release.plan import StepFailed
    from toolkit.release.steps.storage_access import StorageAccess

    environment = load_environment(ENVIRONMENTS, "qa", "sandbox")
    settings = environment.databricks
    other = environment.model_copy(update={"databricks": settings.model_copy(update={
        "unity_catalog": settings.unity_catalog.model_copy(update={"catalog": "other_{deployment_id}"})})})
    d = deployment(release_sandbox, published_bundle, other, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    connection = SandboxConnection.from_home(release_sandbox)
    connection.admin("PUT", "metastore/privileges", {"privileges": ["CREATE_EXTERNAL_LOCATION"]})
    reset_requests(release_sandbox)
    try:
        with pytest.raises(StepFailed) as refused:
            StorageAccess().plan(d)
    finally:
        connection.admin("PUT", "metastore/privileges", {"privileges": [
            "CREATE_CATALOG", "CREATE_EXTERNAL_LOCATION", "CREATE_STORAGE_CREDENTIAL"]})
    assert str(refused.value) == ("the deployer lacks CREATE_CATALOG, CREATE_STORAGE_CREDENTIAL on the Unity Catalog "
                                  "metastore, needed to create this environment's objects: ask an account admin to "
                                  "grant them (README: Releasing to Azure)")
    # Nothing written to Unity Catalog or the workspace (other environments' runs may write meanwhile).
    made = requests_made(release_sandbox)["write_requests"]
    assert [w for w in made if w.startswith("databricks") and "/jobs/" not in w] == [], made


def test_an_unreachable_endpoint_fails_the_step_in_one_line(release_sandbox, published_bundle, monkeypatch):
    from toolkit.environments import target as targets

    reachable = targets.sandbox_target

    def unreachable(home):
        found = reachable(home)
        found.arm_url = "https://127.0.0.1:9"  # nothing listens on the discard port
        return found
    monkeypatch.setattr(targets, "sandbox_target", unreachable)
    report = stage(release_sandbox, published_bundle, "deploy-qa", [], deployment_id="nowhere")
    assert report.outcome == "failed"
    assert report.error.startswith("infrastructure: while planning: cannot reach the service")
    assert "\n" not in report.error


def test_a_soft_deleted_secret_is_recovered_not_failed_on(first_qa, release_sandbox, published_bundle):
    from toolkit.azure.keyvault import read_secret
    from toolkit.release.steps.secrets import Secrets

    d = _qa(release_sandbox, published_bundle, "it1", _outputs(release_sandbox, published_bundle, "it1"))
    d.secrets.begin_delete_secret("datalakeKey").result()
    assert read_secret(d.secrets, "datalakeKey").deleted
    plan = Secrets().plan(d)
    assert [str(c) for c in plan.changes][:2] == ["recover secret datalakeKey (soft-deleted)",
                                                  "set secret datalakeKey (if the recovered value differs)"]
    # Deleted by hand since the last deploy recorded it: the plan says it overwrites that drift.
    drift = plan.changes[2]
    assert (drift.action, drift.target, drift.writes) == ("overwrite", "drift secret/datalakeKey", {})
    assert "-> soft-deleted outside a release (since the deploy of" in drift.detail
    plan.apply()
    recovered = read_secret(d.secrets, "datalakeKey")
    assert recovered.value == d.storage_key(d.resource_group, d.output("storageAccountName"))
    assert len(list(d.secrets.list_properties_of_secret_versions("datalakeKey"))) == 1  # no needless version
    assert Secrets().plan(d).changes == []


def test_a_new_version_replaces_the_wheel_and_restarts_the_cluster_once(
        first_qa, release_sandbox, published_bundle, tmp_path):
    import dataclasses
    import shutil

    from toolkit.bundle.manifest import Manifest
    from toolkit.databricks import clusters
    from toolkit.release.steps.application import Application

    manifest, bundle, store = published_bundle
    wheel = manifest.by_role("wheel")[0]
    renamed = wheel.path.replace(manifest.version, "9.9.9")
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    (copy / wheel.path).rename(copy / renamed)
    files = tuple(dataclasses.replace(f, path=renamed) if f is wheel else f for f in manifest.files)
    second = Manifest(manifest.name, "9.9.9", manifest.commit, manifest.build_time, manifest.tools, files)
    outputs = _outputs(release_sandbox, published_bundle, "it1")
    d = _qa(release_sandbox, (second, copy, store), "it1", outputs)
    plan = Application().plan(d)
    changes = [str(c) for c in plan.changes]
    assert changes[0].startswith("upload 1 library files") and changes[1].startswith("import 5 notebooks")
    assert f"install {renamed.rsplit('/', 1)[-1]}" in changes
    assert f"uninstall {wheel.path.rsplit('/', 1)[-1]} (older release)" in changes
    assert changes[-1] == "restart cluster parking-sensors (so the new library versions take effect)"
    plan.apply()
    cluster_id = plan.learned["cluster_id"]  # what the step tells the steps after it
    clusters.wait_until_settled(d.workspace, cluster_id, print)
    assert set(clusters.installed_libraries(d.workspace, cluster_id)) == {
        f"/Workspace{d.release_root}/libs/{renamed.rsplit('/', 1)[-1]}"}
    assert Application().plan(_qa(release_sandbox, (second, copy, store), "it1", outputs)).changes == []
    back = Application().plan(_qa(release_sandbox, published_bundle, "it1", outputs))  # the first version again
    assert [c.action for c in back.changes] == ["overwrite", "install", "uninstall", "restart"]  # its files are there
    # The libraries version 9.9.9 installed outside a stage (no deploy recorded them) are drift it overwrites.
    assert back.changes[0].target == "drift cluster/parking-sensors/libraries"
    back.apply()


def test_qa_down_removes_an_environment_and_a_second_time_finds_nothing(first_qa, release_sandbox):
    from toolkit.azure import arm
    from toolkit.environments.target import sandbox_target
    from toolkit.release.stages import qa_down

    target = sandbox_target(release_sandbox)
    client = arm.resource_client(target)
    for deployment_id in ("flt", "kil"):
        lines = []
        assert qa_down(load_environment(ENVIRONMENTS, "qa", "sandbox"), target, deployment_id, True, lines.append)
        assert arm.group_exists(client, f"rg-parking-qa-{deployment_id}")  # the dry run deleted nothing
        assert qa_down(load_environment(ENVIRONMENTS, "qa", "sandbox"), target, deployment_id, False, lines.append)
        assert not arm.group_exists(client, f"rg-parking-qa-{deployment_id}")
        # The metastore outlives the resource group: the deployment's objects went first.
        name = f"parking_qa_{deployment_id}"
        assert {f"deleted catalog {name}", f"deleted external location {name}_lake",
                f"deleted storage credential {name}_connector"} <= set(lines)
        assert not qa_down(load_environment(ENVIRONMENTS, "qa", "sandbox"), target, deployment_id, False, lines.append)
        assert lines[-1] == f"resource group rg-parking-qa-{deployment_id} does not exist: nothing to remove"
