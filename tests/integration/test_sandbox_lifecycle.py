"""inv sandbox.up / status / down / reset for real: detached processes, state kept across restarts."""
import time
from pathlib import Path

import pytest
import requests
from azure.keyvault.secrets import SecretClient
from azure.storage.blob import BlobServiceClient

from sandbox.connection import SandboxConnection
from sandbox.lifecycle import STORAGE_ACCOUNTS, SandboxError, _alive, down, process_groups, reset, status, up
from tests.template_parameters import template_parameters
from tasks.repository import REPO_ROOT


def _children(parent: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == parent]


def _wait_for_children(parent: int, count: int = 2, timeout: float = 30) -> list[int]:
    """Pids of the processes ``parent`` started, once there are ``count`` (Azurite, then a cluster)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = _children(parent)
        if len(children) >= count:
            return children
        time.sleep(0.1)
    raise AssertionError(f"process {parent} started {len(_children(parent))} processes, expected {count}")


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.fixture
def home(tmp_path):
    folder = tmp_path / "sandbox"
    yield folder
    reset(folder)


def test_up_status_down_up_keeps_state_and_reset_forgets(home):
    started = time.monotonic()
    first = up(home, REPO_ROOT)
    print(f"sandbox up in {time.monotonic() - started:.1f}s")
    assert first["storage"]["running"] and first["control"]["running"]
    assert set(first["storage"]["accounts"]) == set(STORAGE_ACCOUNTS)
    assert up(home, REPO_ROOT)["control"]["pid"] == first["control"]["pid"]  # running services are left alone

    connection = SandboxConnection.from_home(home)
    blobs = BlobServiceClient.from_connection_string(connection.storage_connection_string("sbxqa"))
    blobs.create_container("lake").upload_blob("kept.txt", b"data")
    vault = connection.ensure_vault("kv-qa")
    secrets = SecretClient(vault, connection.credential(), verify_challenge_resource=False,
                           connection_verify=connection.trust_bundle)
    secrets.set_secret("databricksToken", "not-a-real-token")

    workspace = connection.ensure_workspace("dbw-qa")
    token = connection.credential().get_token("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default").token
    response = requests.post(f"{workspace}/api/2.1/clusters/create", verify=connection.trust_bundle, json={
        "cluster_name": "c", "spark_version": "17.3.x-scala2.13", "num_workers": 1},
        headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    clusters = _wait_for_children(first["control"]["pid"])

    children = _children(first["control"]["pid"])  # Azurite and the cluster process
    stopped = down(home)
    assert len(stopped) == 1 and not any(_alive(pid) for pid in stopped + clusters + children)
    assert not status(home)["control"]["running"] and not status(home)["storage"]["running"]
    with pytest.raises(SandboxError, match="is not running: start it with `inv sandbox.up`"):
        SandboxConnection.from_home(home)

    again = up(home, REPO_ROOT)
    # The vault made here and the release's signing vault (sandbox.up makes it), each on the port it had.
    assert again["keyvaults"] == {"kv-qa": vault, "kv-parking-releases": first["keyvaults"]["kv-parking-releases"]}
    assert again["arm"]["url"].startswith("https://127.0.0.1:")
    connection = SandboxConnection.from_home(home)
    blobs = BlobServiceClient.from_connection_string(connection.storage_connection_string("sbxqa"))
    assert blobs.get_container_client("lake").download_blob("kept.txt").readall() == b"data"
    secrets = SecretClient(vault, connection.credential(), verify_challenge_resource=False,
                           connection_verify=connection.trust_bundle)
    assert secrets.get_secret("databricksToken").value == "not-a-real-token"

    pids = [again["control"]["pid"], *_children(again["control"]["pid"])]
    reset(home)
    assert not home.exists() and not any(_alive(pid) for pid in pids)


def _start_a_cluster(home) -> None:
    connection = SandboxConnection.from_home(home)
    workspace = connection.ensure_workspace("dbw-qa")
    token = connection.credential().get_token("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default").token
    requests.post(f"{workspace}/api/2.1/clusters/create", verify=connection.trust_bundle, json={
        "cluster_name": "c", "spark_version": "17.3.x-scala2.13", "num_workers": 1},
        headers={"Authorization": f"Bearer {token}"}).raise_for_status()


def test_after_the_server_is_killed_status_tells_the_truth_and_up_leaves_one_set_of_processes(home):
    import os
    import signal

    first = up(home, REPO_ROOT)
    _start_a_cluster(home)
    _wait_for_children(first["control"]["pid"])  # Azurite and the cluster process
    old = process_groups(home)
    assert list(old) == [first["control"]["pid"]] and len(old[first["control"]["pid"]]) >= 3
    os.kill(first["control"]["pid"], signal.SIGKILL)  # as the OOM killer or `kill -9` would
    deadline = time.monotonic() + 10
    while _alive(first["control"]["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    found = status(home)
    assert not found["control"]["running"]
    # The Blob endpoint is the server's (a gateway to Azurite): down; Azurite and the cluster outlived it, and are
    # said to be there.
    assert not found["storage"]["running"]
    assert found["leftover_processes"] == len(old[first["control"]["pid"]]) - 1
    again = up(home, REPO_ROOT)
    groups = process_groups(home)
    assert list(groups) == [again["control"]["pid"]], groups  # exactly one set of sandbox processes
    assert not any(_alive(pid) for pid in old[first["control"]["pid"]])
    assert again["storage"]["running"] and status(home)["leftover_processes"] == 0
    down(home)
    assert process_groups(home) == {}


def test_status_never_shows_a_key(home):
    import json

    up(home, REPO_ROOT)
    shown = json.dumps(status(home))
    identity = SandboxConnection.from_home(home).identity
    assert identity.client_secret not in shown
    assert not any(key in shown for key in identity.storage_keys.values())


def test_an_arm_deployment_creates_a_real_storage_account_on_the_sandbox(home):
    import json

    from azure.mgmt.resource import ResourceManagementClient

    up(home, REPO_ROOT)
    connection = SandboxConnection.from_home(home)
    credential = connection.credential()
    arm_url = status(home)["arm"]["url"]
    arm = ResourceManagementClient(credential, "00000000-0000-0000-0000-00000000beef", base_url=arm_url,
                                   connection_verify=connection.trust_bundle, polling_interval=0.2)
    arm.resource_groups.create_or_update("rg-qa", {"location": "australiaeast"})
    template = json.loads((REPO_ROOT / "arm" / "azuredeploy.json").read_text())
    parameters = template_parameters("qa", "00000000-0000-0000-0000-00000000beef", "rg-qa", "t1")
    deployed = arm.deployments.begin_create_or_update("rg-qa", "infra", {"properties": {
        "mode": "Incremental", "template": template, "parameters": parameters}}).result()
    account = deployed.properties.outputs["storageAccountName"]["value"]
    token = credential.get_token("https://management.azure.com/.default").token
    keys = requests.post(f"{arm_url}/subscriptions/00000000-0000-0000-0000-00000000beef/resourceGroups/rg-qa/"
                         f"providers/Microsoft.Storage/storageAccounts/{account}/listKeys?api-version=2023-05-01",
                         headers={"Authorization": f"Bearer {token}"}, verify=connection.trust_bundle).json()
    key = keys["keys"][0]["value"]
    blobs = BlobServiceClient(f"http://127.0.0.1:{connection.blob_port}/{account}",
                              credential={"account_name": account, "account_key": key})
    blobs.get_container_client("datalake").upload_blob("probe.txt", b"lake")  # the template's container exists
    assert account in status(home)["storage"]["accounts"]
    down(home)
    up(home, REPO_ROOT)  # the new account survives a restart of the sandbox
    again = BlobServiceClient(f"http://127.0.0.1:{connection.blob_port}/{account}",
                              credential={"account_name": account, "account_key": key})
    assert again.get_container_client("datalake").download_blob("probe.txt").readall() == b"lake"


def test_storage_faults_are_injected_and_retried_by_the_blob_client(home):
    up(home, REPO_ROOT)
    connection = SandboxConnection.from_home(home)
    token = connection.credential().get_token("https://management.azure.com/.default").token
    faults = requests.put(f"{connection.control_url}/admin/faults/storage", verify=connection.trust_bundle,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"rate_429": 0.1, "rate_503": 0.1, "retry_after_s": 0, "seed": 11})
    faults.raise_for_status()
    blobs = BlobServiceClient.from_connection_string(connection.storage_connection_string("sbxshared"),
                                                     retry_total=6, initial_backoff=0.1, increment_base=0.2)
    container = blobs.get_container_client("faults")
    container.create_container()
    for i in range(20):
        container.upload_blob(f"b{i} with space+plus.txt", f"value {i}".encode(), overwrite=True)
    assert sorted(b.name for b in container.list_blobs())[:2] == ["b0 with space+plus.txt", "b1 with space+plus.txt"]
    assert container.download_blob("b7 with space+plus.txt").readall() == b"value 7"
    log = (home / "server.log").read_text()
    assert "Traceback" not in log
