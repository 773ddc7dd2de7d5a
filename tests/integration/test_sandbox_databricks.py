"""Notebook jobs on the sandbox's Databricks run the uploaded wheel (never the source tree), write the
lake, and keep Databricks' library semantics: a new wheel version takes effect only after a restart."""
import json
import zipfile

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import compute, jobs
from databricks.sdk.service.workspace import ImportFormat

from sandbox.server import Sandbox
from tests.conftest import SAMPLE, requests_trusting
from toolkit.build.application import build_application
from tasks.repository import NOTEBOOKS


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, azurite):
    sandbox = Sandbox(tmp_path_factory.mktemp("sandbox-home"), blob_endpoint=f"http://{azurite.host}:{azurite.port}")
    with requests_trusting(sandbox.tls.trust_bundle):
        token = sandbox.authority.issue("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default")[0]
        # a legacy account's workspace: it still has DBFS mounts (test_a_mount_maps_...)
        client = WorkspaceClient(host=sandbox.ensure_workspace("dbw-it", legacy=True), token=token)
        cluster = client.clusters.create_and_wait(cluster_name="it", spark_version="17.3.x-scala2.13",
                                                  node_type_id="Standard_DS3_v2", num_workers=1)
        yield client, cluster.cluster_id
        sandbox.shutdown()


def _run(client, cluster_id, path, parameters=None):
    run = client.jobs.submit_and_wait(run_name=path, tasks=[jobs.SubmitTask(
        task_key="t", existing_cluster_id=cluster_id,
        notebook_task=jobs.NotebookTask(notebook_path=path, base_parameters=parameters or {}))])
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, output.error
    return json.loads(output.notebook_output.result)


def _demo_wheel(folder, version):
    wheel = folder / f"sbxdemo-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("sbxdemo/__init__.py", f"VERSION = {version!r}\n")
        z.writestr(f"sbxdemo-{version}.dist-info/METADATA", f"Name: sbxdemo\nVersion: {version}\n")
    return wheel


def test_a_new_wheel_version_takes_effect_only_after_a_restart(workspace, tmp_path):
    client, cluster_id = workspace
    client.workspace.mkdirs("/libs")
    client.workspace.mkdirs("/nb")
    client.workspace.upload("/nb/version.py", b"# Databricks notebook source\nimport json, sbxdemo\n"
                            b"dbutils.notebook.exit(json.dumps(sbxdemo.VERSION))\n", format=ImportFormat.AUTO)
    libraries = {}
    for version in ("1.0", "2.0"):
        wheel = _demo_wheel(tmp_path, version)
        client.workspace.upload(f"/libs/{wheel.name}", wheel.read_bytes(), format=ImportFormat.AUTO)
        libraries[version] = compute.Library(whl=f"/Workspace/libs/{wheel.name}")
    client.libraries.install(cluster_id, [libraries["1.0"]])
    assert _run(client, cluster_id, "/nb/version") == "1.0"
    client.libraries.uninstall(cluster_id, [libraries["1.0"]])
    client.libraries.install(cluster_id, [libraries["2.0"]])
    assert _run(client, cluster_id, "/nb/version") == "1.0"  # the running cluster keeps what it imported
    client.clusters.restart_and_wait(cluster_id)
    assert _run(client, cluster_id, "/nb/version") == "2.0"


def test_a_notebook_job_imports_the_uploaded_wheel_and_writes_the_lake(workspace, clone, tmp_path):
    client, cluster_id = workspace
    build = build_application(clone, tmp_path / "dist")
    client.workspace.mkdirs("/parking/libs")
    client.workspace.upload(f"/parking/libs/{build.wheel.wheel.name}", build.wheel.wheel.read_bytes(),
                            format=ImportFormat.AUTO, overwrite=True)
    client.libraries.install(cluster_id, [compute.Library(whl=f"/Workspace/parking/libs/{build.wheel.wheel.name}")])
    client.workspace.mkdirs("/parking/notebooks")
    for notebook in ("00_setup", "01_standardize", "02_transform"):
        client.workspace.upload(f"/parking/notebooks/{notebook}.py", (NOTEBOOKS / f"{notebook}.py").read_bytes(),
                                format=ImportFormat.AUTO, overwrite=True)
    lake = tmp_path / "lake"
    (lake / "lnd" / "l1").mkdir(parents=True)
    for name in ("MelbParkingSensorData.json", "MelbParkingBayData.json"):
        (lake / "lnd" / "l1" / name).write_bytes((SAMPLE / name).read_bytes())
    common = {"lake_root": str(lake), "table_format": "parquet"}
    setup = _run(client, cluster_id, "/parking/notebooks/00_setup", common)
    assert setup["version"] == build.version  # the wheel's code ran, not the source tree
    _run(client, cluster_id, "/parking/notebooks/01_standardize",
         {**common, "infilefolder": "lnd/l1", "load_id": "l1", "loaded_on": "2026-11-26T10:15:30Z"})
    summary = _run(client, cluster_id, "/parking/notebooks/02_transform",
                   {**common, "load_id": "l1", "loaded_on": "2026-11-26T10:15:30Z"})
    assert summary["rows"]["fact_parking"] == 1000 and summary["version"] == build.version
    assert list((lake / "dw" / "fact_parking").glob("load_id=l1/*.parquet"))


def test_a_mount_maps_a_path_to_an_azurite_container_for_spark_and_dbutils(workspace, azurite):
    from azure.storage.blob import BlobServiceClient

    from sandbox.azurite import DEV_KEY

    client, cluster_id = workspace
    container = BlobServiceClient.from_connection_string(azurite.connection_string()).get_container_client("lake")
    if not container.exists():
        container.create_container()
    container.upload_blob("in/values.json", b'{"v": 1}\n{"v": 2}\n', overwrite=True)
    client.secrets.create_scope("lake")
    client.secrets.put_secret("lake", "account-key", string_value=DEV_KEY)
    client.workspace.mkdirs("/mnt-test")
    client.workspace.upload("/mnt-test/mount.py", b"""# Databricks notebook source
dbutils.fs.mount(source="abfss://lake@devstoreaccount1.dfs.core.windows.net/", mount_point="/mnt/lake",
                 extra_configs={"fs.azure.account.key.devstoreaccount1.dfs.core.windows.net":
                                dbutils.secrets.get("lake", "account-key")})
dbutils.notebook.exit('"mounted"')
""", format=ImportFormat.AUTO)
    client.workspace.upload("/mnt-test/io.py", b"""# Databricks notebook source
dbutils.widgets.text("root", "")
root = dbutils.widgets.get("root")
df = spark.read.json(f"{root}/in/values.json")
df.write.mode("overwrite").parquet(f"{root}/out/t")
dbutils.notebook.exit(str(sum(r.v for r in spark.read.parquet(f"{root}/out/t").collect())))
""", format=ImportFormat.AUTO)
    assert _run(client, cluster_id, "/mnt-test/mount") == "mounted"
    assert _run(client, cluster_id, "/mnt-test/io", {"root": "/mnt/lake"}) == 3
    written = [b.name for b in container.list_blobs(name_starts_with="out/t/")]
    assert any(name.endswith(".parquet") for name in written)
    container.upload_blob("in/values.json", b'{"v": 10}\n', overwrite=True)  # storage is the truth
    assert _run(client, cluster_id, "/mnt-test/io", {"root": "dbfs:/mnt/lake"}) == 10
