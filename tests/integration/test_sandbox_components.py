"""Sandbox pieces that normally run in child processes, exercised in this process: the cluster runtime,
the storage gateway, managed storage and the latency proxy."""
import asyncio
import json
import socket
import threading
import time

import pytest
from azure.storage.blob import BlobServiceClient
from werkzeug.serving import make_server
from werkzeug.test import Client

from sandbox.azurite import DEV_ACCOUNT, DEV_KEY, free_port
from sandbox.databricks.cluster_process import Cluster, _local_paths
from sandbox.http import Faults
from sandbox.latency_proxy import serve
from sandbox.storage import ManagedStorage
from sandbox.storage_gateway import StorageGateway
from tasks.repository import REPO_ROOT


def test_widget_paths_under_a_mount_point_at_its_local_folder(tmp_path):
    mounts = {"/mnt/lake": tmp_path / "lake"}
    assert _local_paths({"a": "/mnt/lake/dw", "b": "dbfs:/mnt/lake", "c": "/dbfs/mnt/lake/x", "d": "/mnt/lakeside",
                         "e": 3}, mounts) == {"a": f"{tmp_path}/lake/dw", "b": f"{tmp_path}/lake",
                                              "c": f"{tmp_path}/lake/x", "d": "/mnt/lakeside", "e": 3}


def test_the_cluster_runtime_runs_notebooks_keeps_libraries_and_reports_failures(tmp_path, spark):
    cluster = Client(Cluster())
    assert cluster.get("/health").json == {"status": "ok"}
    library = tmp_path / "lib"
    (library / "clusterlib").mkdir(parents=True)
    (library / "clusterlib" / "__init__.py").write_text("VALUE = 'installed'\n")
    assert cluster.post("/libraries", json={"paths": [str(library)]}).status_code == 200
    notebook = tmp_path / "nb.py"
    notebook.write_text("# Databricks notebook source\nimport clusterlib\ndbutils.widgets.text('p', '')\n"
                        "dbutils.notebook.exit(clusterlib.VALUE + ':' + dbutils.widgets.get('p') + ':' + "
                        "str(spark.range(3).count()))\n")
    body = {"notebook": str(notebook), "parameters": {"p": "/mnt/x/y"}, "secrets": {}, "mounts": {"/mnt/x": "/m"},
            "dbfs_root": str(tmp_path / "dbfs"), "mount_root": str(tmp_path / "mounts")}
    answer = cluster.post("/run", json=body).json
    assert answer["exit_value"] == "installed:/m/y:3" and answer["created_mounts"] == {}
    notebook.write_text("# Databricks notebook source\nraise RuntimeError('boom')\n")
    failed = cluster.post("/run", json=body).json
    assert "cell 1: RuntimeError: boom" in failed["error"] and "Traceback" in failed["error_trace"]


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_storage_gateway_forwards_signed_requests_and_injects_faults(azurite):
    faults = {"storage": Faults()}
    gateway = _serve(StorageGateway(lambda: f"http://{azurite.host}:{azurite.port}", lambda name: faults[name]))
    try:
        connection = (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
                      f"BlobEndpoint=http://127.0.0.1:{gateway.server_port}/{DEV_ACCOUNT};")
        container = BlobServiceClient.from_connection_string(connection).get_container_client("gateway")
        container.create_container()
        container.upload_blob("a b+c.txt", b"through the gateway")
        assert container.download_blob("a b+c.txt").readall() == b"through the gateway"
        faults["storage"] = Faults(rate_429=1.0)
        blocked = BlobServiceClient.from_connection_string(connection, retry_total=0)
        with pytest.raises(Exception, match="ServerBusy"):
            blocked.get_container_client("gateway").download_blob("a b+c.txt").readall()
        assert faults["storage"].injected == 1
    finally:
        gateway.shutdown()


def test_managed_storage_adds_accounts_and_keeps_their_data(tmp_path):
    storage = ManagedStorage(tmp_path, REPO_ROOT, {"first": DEV_KEY}).start()
    try:
        key = storage.ensure_account("second")
        assert storage.ensure_account("second") == key and storage.key("first") == DEV_KEY
        client = BlobServiceClient(f"{storage.azurite_endpoint}/second",
                                   credential={"account_name": "second", "account_key": key})
        client.create_container("kept").upload_blob("x", b"kept")
        storage.ensure_account("third")  # a restart of Azurite
        assert client.get_container_client("kept").download_blob("x").readall() == b"kept"
        assert json.loads((tmp_path / "storage.json").read_text())["accounts"].keys() == {"first", "second", "third"}
    finally:
        storage.stop()


def test_the_latency_proxy_delays_each_answer(tmp_path):
    echo = socket.socket()
    echo.bind(("127.0.0.1", 0))
    echo.listen()

    def answer():
        connection, _ = echo.accept()
        while data := connection.recv(1024):
            connection.sendall(data)
    threading.Thread(target=answer, daemon=True).start()
    port = free_port()
    loop = asyncio.new_event_loop()
    threading.Thread(target=lambda: loop.run_until_complete(
        serve("127.0.0.1", port, "127.0.0.1", echo.getsockname()[1], 0.2)), daemon=True).start()
    deadline = time.monotonic() + 5
    while True:
        try:
            client = socket.create_connection(("127.0.0.1", port))
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    started = time.monotonic()
    client.sendall(b"ping")
    assert client.recv(1024) == b"ping" and time.monotonic() - started >= 0.2
    client.close()
