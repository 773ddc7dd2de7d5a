"""inv sandbox.up / status / down / reset for real: detached processes, state kept across restarts."""
import time
from pathlib import Path

import pytest
import requests
from azure.keyvault.secrets import SecretClient
from azure.storage.blob import BlobServiceClient

from sandbox.connection import SandboxConnection
from sandbox.lifecycle import STORAGE_ACCOUNTS, SandboxError, _alive, down, reset, status, up
from toolkit.paths import REPO_ROOT


def _wait_for_children(parent: int, timeout: float = 30) -> list[int]:
    """Pids of the processes ``parent`` started (the cluster processes), once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == parent]
        if children:
            return children
        time.sleep(0.1)
    raise AssertionError(f"process {parent} started no cluster process")


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

    stopped = down(home)
    assert len(stopped) == 2 and not any(_alive(pid) for pid in stopped + clusters)
    assert not status(home)["control"]["running"] and not status(home)["storage"]["running"]
    with pytest.raises(SandboxError, match="is not running: start it with `inv sandbox.up`"):
        SandboxConnection.from_home(home)

    again = up(home, REPO_ROOT)
    assert again["keyvaults"] == {"kv-qa": vault}
    assert again["arm"]["url"].startswith("https://127.0.0.1:")
    connection = SandboxConnection.from_home(home)
    blobs = BlobServiceClient.from_connection_string(connection.storage_connection_string("sbxqa"))
    assert blobs.get_container_client("lake").download_blob("kept.txt").readall() == b"data"
    secrets = SecretClient(vault, connection.credential(), verify_challenge_resource=False,
                           connection_verify=connection.trust_bundle)
    assert secrets.get_secret("databricksToken").value == "not-a-real-token"

    pids = [again["storage"]["pid"], again["control"]["pid"]]
    reset(home)
    assert not home.exists() and not any(_alive(pid) for pid in pids)


def test_status_never_shows_a_key(home):
    import json

    up(home, REPO_ROOT)
    shown = json.dumps(status(home))
    identity = SandboxConnection.from_home(home).identity
    assert identity.client_secret not in shown
    assert not any(key in shown for key in identity.storage_keys.values())
