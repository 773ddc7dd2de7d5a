"""databricks-sdk, unmodified (host, token and CA aside), against the sandbox's Databricks workspace:
every call the release uses, Databricks' error codes, and real notebook runs on a cluster."""
import io
import json
import os
import time

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import (DatabricksError, InvalidParameterValue, NotFound, ResourceAlreadyExists,
                                   ResourceDoesNotExist)
from databricks.sdk.service import compute, jobs
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language, ObjectType

from tests.conftest import requests_trusting

NOTEBOOK = b"""# Databricks notebook source
import json
dbutils.widgets.text("x", "1")

# COMMAND ----------

dbutils.notebook.exit(json.dumps({"x": dbutils.widgets.get("x"), "secret": len(dbutils.secrets.get("app", "k"))}))
"""


@pytest.fixture(scope="module")
def w(sandbox):
    with requests_trusting(sandbox.tls.trust_bundle):
        host = sandbox.ensure_workspace("dbw-contract")
        token = sandbox.authority.issue("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default")[0]
        yield WorkspaceClient(host=host, token=token)


@pytest.fixture(scope="module")
def cluster(w):
    details = w.clusters.create_and_wait(cluster_name="contract", spark_version="17.3.x-scala2.13",
                                         node_type_id="Standard_DS3_v2", num_workers=1)
    yield details
    w.clusters.permanent_delete(details.cluster_id)


def test_current_user_and_probe(w, sandbox):
    assert w.current_user.me().user_name == sandbox.identity.client_id  # a service principal: its application id
    import requests
    probe = requests.get(f"{sandbox.workspace_urls()['dbw-contract']}/.well-known/databricks-config",
                         verify=str(sandbox.tls.trust_bundle))
    assert probe.status_code == 200 and probe.json()["workspace_id"]


def test_requests_without_a_token_are_refused(sandbox):
    import requests
    response = requests.get(f"{sandbox.workspace_urls()['dbw-contract']}/api/2.0/workspace/list?path=/",
                            verify=str(sandbox.tls.trust_bundle))
    assert response.status_code == 401 and response.json()["error_code"] == "UNAUTHENTICATED"


def test_workspace_import_overwrite_status_list_export_delete(w):
    w.workspace.mkdirs("/contract/nb")
    w.workspace.import_("/contract/nb/one", content=__import__("base64").b64encode(NOTEBOOK).decode(),
                        format=ImportFormat.SOURCE, language=Language.PYTHON)
    with pytest.raises(ResourceAlreadyExists):
        w.workspace.import_("/contract/nb/one", content="", format=ImportFormat.SOURCE, language=Language.PYTHON)
    w.workspace.upload("/contract/nb/two.py", NOTEBOOK, format=ImportFormat.AUTO, overwrite=True)
    w.workspace.upload("/contract/nb/two.py", NOTEBOOK + b"\n# v2\n", format=ImportFormat.AUTO, overwrite=True)
    status = w.workspace.get_status("/contract/nb/two")  # AUTO drops the .py of a notebook
    assert status.object_type == ObjectType.NOTEBOOK and status.language == Language.PYTHON
    assert sorted(o.path for o in w.workspace.list("/contract/nb")) == ["/contract/nb/one", "/contract/nb/two"]
    assert w.workspace.download("/contract/nb/two", format=ExportFormat.SOURCE).read().endswith(b"# v2\n")
    with pytest.raises(DatabricksError) as not_empty:
        w.workspace.delete("/contract/nb")
    assert not_empty.value.error_code == "DIRECTORY_NOT_EMPTY"
    w.workspace.delete("/contract/nb", recursive=True)
    with pytest.raises(ResourceDoesNotExist):
        w.workspace.get_status("/contract/nb/one")


def test_import_into_a_missing_folder_and_of_a_too_large_file_fail(w):
    with pytest.raises(ResourceDoesNotExist, match="parent folder"):
        w.workspace.upload("/nowhere/x.py", NOTEBOOK, format=ImportFormat.AUTO)
    w.workspace.mkdirs("/contract/big")
    with pytest.raises(DatabricksError) as too_big:
        w.workspace.upload("/contract/big/blob.bin", b"x" * (10 * 1024 * 1024 + 1), format=ImportFormat.AUTO)
    assert too_big.value.error_code == "MAX_NOTEBOOK_SIZE_EXCEEDED"


def test_workspace_files_and_dbfs_streaming_upload(w):
    w.workspace.mkdirs("/contract/libs")
    w.workspace.upload("/contract/libs/app-1.0-py3-none-any.whl", b"PK-wheel", format=ImportFormat.AUTO)
    status = w.workspace.get_status("/contract/libs/app-1.0-py3-none-any.whl")
    assert status.object_type == ObjectType.FILE and status.size == 8
    data = os.urandom(2 * 1024 * 1024 + 17)  # more than one 1 MB block
    w.dbfs.upload("/contract/big.bin", io.BytesIO(data), overwrite=True)
    assert w.dbfs.get_status("/contract/big.bin").file_size == len(data)
    assert w.dbfs.download("/contract/big.bin").read() == data
    with pytest.raises(ResourceAlreadyExists):
        w.dbfs.put("/contract/big.bin", contents="eA==")
    w.dbfs.delete("/contract/big.bin")
    with pytest.raises(NotFound):
        w.dbfs.get_status("/contract/big.bin")


def test_secret_scopes(w):
    w.secrets.create_scope("app")
    with pytest.raises(ResourceAlreadyExists):
        w.secrets.create_scope("app")
    w.secrets.put_secret("app", "k", string_value="s3cr3t")
    assert [s.key for s in w.secrets.list_secrets("app")] == ["k"]
    assert "app" in [s.name for s in w.secrets.list_scopes()]
    with pytest.raises(ResourceDoesNotExist):
        w.secrets.put_secret("missing-scope", "k", string_value="v")
    with pytest.raises(InvalidParameterValue):
        w.secrets.put_secret("app", "bad key!", string_value="v")
    w.secrets.create_scope("short-lived")
    w.secrets.put_secret("short-lived", "k", string_value="v")
    w.secrets.delete_secret("short-lived", "k")
    assert list(w.secrets.list_secrets("short-lived")) == []
    with pytest.raises(ResourceDoesNotExist):
        w.secrets.delete_secret("short-lived", "k")
    w.secrets.delete_scope("short-lived")
    assert "short-lived" not in [s.name for s in w.secrets.list_scopes()]


def test_cluster_state_machine(w, cluster):
    assert w.clusters.get(cluster.cluster_id).state == compute.State.RUNNING
    assert cluster.cluster_id in [c.cluster_id for c in w.clusters.list()]
    with pytest.raises(DatabricksError) as running:
        w.clusters.start(cluster.cluster_id)
    assert running.value.error_code == "INVALID_STATE"
    w.clusters.restart_and_wait(cluster.cluster_id)
    edited = w.clusters.edit_and_wait(cluster.cluster_id, spark_version="17.3.x-scala2.13", num_workers=2,
                                      cluster_name="contract", node_type_id="Standard_DS3_v2")
    assert edited.num_workers == 2 and edited.state == compute.State.RUNNING
    w.clusters.delete_and_wait(cluster.cluster_id)
    assert w.clusters.get(cluster.cluster_id).state == compute.State.TERMINATED
    with pytest.raises(DatabricksError) as terminated:
        w.clusters.restart(cluster.cluster_id)
    assert terminated.value.error_code == "INVALID_STATE"
    w.clusters.start_and_wait(cluster.cluster_id)
    # Databricks answers 400 INVALID_PARAMETER_VALUE "Cluster ... does not exist"; the SDK's own
    # error overrides turn exactly that into ResourceDoesNotExist.
    with pytest.raises(ResourceDoesNotExist, match="Cluster no-such-cluster does not exist"):
        w.clusters.get("no-such-cluster")


def test_libraries_follow_restart_semantics(w, cluster):
    w.workspace.mkdirs("/contract/wheels")
    w.workspace.upload("/contract/wheels/lib-1.0-py3-none-any.whl", b"PK", format=ImportFormat.AUTO, overwrite=True)
    library = compute.Library(whl="/Workspace/contract/wheels/lib-1.0-py3-none-any.whl")
    w.libraries.install(cluster.cluster_id, [library])
    statuses = {s.library.whl: s.status for s in w.libraries.cluster_status(cluster.cluster_id)}
    assert statuses[library.whl] == compute.LibraryInstallStatus.INSTALLED
    w.libraries.uninstall(cluster.cluster_id, [library])
    statuses = {s.library.whl: s.status for s in w.libraries.cluster_status(cluster.cluster_id)}
    assert statuses[library.whl] == compute.LibraryInstallStatus.UNINSTALL_ON_RESTART
    w.clusters.restart_and_wait(cluster.cluster_id)
    assert library.whl not in {s.library.whl for s in w.libraries.cluster_status(cluster.cluster_id)}
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        w.libraries.install(cluster.cluster_id, [compute.Library(whl="/Workspace/contract/wheels/missing.whl")])


def test_jobs_run_notebooks_for_real(w, cluster):
    w.workspace.mkdirs("/contract/jobs")
    w.workspace.upload("/contract/jobs/hello.py", NOTEBOOK, format=ImportFormat.AUTO, overwrite=True)
    if "app" not in [s.name for s in w.secrets.list_scopes()]:
        w.secrets.create_scope("app")
    w.secrets.put_secret("app", "k", string_value="s3cr3t")
    task = jobs.Task(task_key="hello", existing_cluster_id=cluster.cluster_id,
                     notebook_task=jobs.NotebookTask(notebook_path="/contract/jobs/hello", base_parameters={"x": "7"}))
    job = w.jobs.create(name="contract-job", tasks=[task])
    assert w.jobs.get(job.job_id).settings.name == "contract-job"
    assert [j.job_id for j in w.jobs.list(name="contract-job")] == [job.job_id]
    run = w.jobs.run_now_and_wait(job.job_id, notebook_params={"x": "42"})
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    output = w.jobs.get_run_output(run.tasks[0].run_id)
    assert json.loads(output.notebook_output.result) == {"x": "42", "secret": 6}
    w.jobs.reset(job.job_id, jobs.JobSettings(name="contract-job-2", tasks=[task]))
    assert w.jobs.get(job.job_id).settings.name == "contract-job-2"
    w.jobs.delete(job.job_id)
    with pytest.raises(ResourceDoesNotExist, match=f"Job {job.job_id} does not exist"):
        w.jobs.get(job.job_id)


def test_a_failing_notebook_fails_the_run_with_its_error(w, cluster):
    w.workspace.mkdirs("/contract/jobs")
    w.workspace.upload("/contract/jobs/boom.py", b"# Databricks notebook source\nraise ValueError('bad input')\n",
                       format=ImportFormat.AUTO, overwrite=True)
    run = w.jobs.submit(run_name="boom", tasks=[jobs.SubmitTask(
        task_key="boom", existing_cluster_id=cluster.cluster_id,
        notebook_task=jobs.NotebookTask(notebook_path="/contract/jobs/boom"))]).result()
    assert run.state.result_state == jobs.RunResultState.FAILED
    output = w.jobs.get_run_output(run.tasks[0].run_id)
    assert "ValueError: bad input" in output.error
    assert "cell 1" in output.error


def test_a_cancelled_run_ends_cancelled_before_its_next_task(w, cluster):
    w.workspace.mkdirs("/contract/jobs")
    w.workspace.upload("/contract/jobs/slow.py", b"# Databricks notebook source\nimport time\ntime.sleep(2)\n",
                       format=ImportFormat.AUTO, overwrite=True)
    tasks = [jobs.SubmitTask(task_key=f"t{i}", existing_cluster_id=cluster.cluster_id,
                             notebook_task=jobs.NotebookTask(notebook_path="/contract/jobs/slow")) for i in range(3)]
    waiter = w.jobs.submit(run_name="to-cancel", tasks=tasks)
    w.jobs.cancel_run(waiter.run_id)
    run = w.jobs.wait_get_run_job_terminated_or_skipped(waiter.run_id)
    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert sum(t.state.result_state == jobs.RunResultState.SUCCESS for t in run.tasks if t.state.result_state) < 3


def test_throttled_calls_are_retried_by_the_sdk(w, sandbox):
    sandbox.services  # noqa: B018 - faults are read from the sandbox state
    with sandbox.services.update() as data:
        data["faults"]["databricks"] = {"rate_429": 0.3, "rate_503": 0.1, "retry_after_s": 0, "seed": 3}
    try:
        started = time.monotonic()
        for _ in range(8):
            assert w.current_user.me().user_name
        assert sandbox.faults_for("databricks").injected > 0 and time.monotonic() - started < 60
    finally:
        with sandbox.services.update() as data:
            data["faults"]["databricks"] = {}
