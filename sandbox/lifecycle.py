"""Starting, inspecting and stopping the sandbox: the control-plane process, detached from the caller,
which runs Azurite (one account per environment's lake plus a shared one, and any an ARM deployment
creates) and every other service; all state lives under one home folder (.sandbox/ by default) and
survives `down`/`up` until `reset`."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sandbox.azurite import free_port, port_open
from sandbox.server import HOST, Identity
from sandbox.tls import ensure_tls

# Lakes of qa, staging and prod, and the shared account (integration-test data, artifact store).
STORAGE_ACCOUNTS = ("sbxqa", "sbxstaging", "sbxprod", "sbxshared")
RUN_FILE = "run.json"


class SandboxError(RuntimeError):
    pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours has exited
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def _group_alive(group: int) -> bool:
    """Whether any process of a process group is left (zombies of ours are reaped first)."""
    _alive(group)
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _read_run(home: Path) -> dict[str, Any]:
    path = home / RUN_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _last_error(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return (lines[-1] if lines else "no output") + f" (log: {log})"


def _wait_for_health(url: str, trust: Path, process: subprocess.Popen, log: Path, timeout: float = 20.0) -> dict:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxError(f"the sandbox server exited with code {process.returncode} while starting: "
                               f"{_last_error(log)}")
        try:
            return requests.get(f"{url}/health", verify=str(trust), timeout=1).json()
        except requests.RequestException:
            time.sleep(0.1)
    raise SandboxError(f"the sandbox server did not answer {url}/health within {timeout:.0f}s")


def up(home: Path, repo: Path) -> dict[str, Any]:
    """Start whatever is not running; running services are left alone. Returns :func:`status`."""
    home.mkdir(parents=True, exist_ok=True)
    Identity.load_or_create(home, STORAGE_ACCOUNTS)
    tls = ensure_tls(home / "tls")
    run = _read_run(home)
    control = run.get("server", {})
    if not (control.get("pid") and _alive(control["pid"])):
        port = control.get("port") or free_port()
        port = port if not port_open(port) else free_port()
        log = (home / "server.log").open("ab")
        process = subprocess.Popen([sys.executable, "-m", "sandbox.server", "--home", str(home), "--port", str(port),
                                    "--repo", str(repo), "--storage-accounts", ",".join(STORAGE_ACCOUNTS)],
                                   cwd=repo, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        try:
            _wait_for_health(f"https://{HOST}:{port}", tls.trust_bundle, process, home / "server.log")
        except SandboxError:
            if _group_alive(process.pid):  # whatever it started goes with it
                os.killpg(process.pid, signal.SIGKILL)
            raise
        run["server"] = {"pid": process.pid, "port": port}
    (home / RUN_FILE).write_text(json.dumps(run, indent=2))
    from sandbox.seed import seed_integration_data

    seed_integration_data(home, json.loads((home / "storage.json").read_text())["port"], repo / "data" / "melbourne")
    return status(home)


def status(home: Path) -> dict[str, Any]:
    """Each service: running or not, and its endpoint. Never includes a key or secret."""
    run = _read_run(home)
    control = run.get("server", {})
    server_up = bool(control.get("pid")) and _alive(control["pid"]) and port_open(control.get("port", 0))
    storage_file = home / "storage.json"
    storage = json.loads(storage_file.read_text()) if storage_file.exists() else {}
    blob_port = storage.get("port")
    storage_up = server_up and bool(blob_port) and port_open(blob_port)
    keyvaults, workspaces, arm = {}, {}, None
    services_file = home / "services.json"
    if services_file.exists():
        services = json.loads(services_file.read_text())
        keyvaults = {n: f"https://{HOST}:{p}" for n, p in services.get("keyvaults", {}).items()}
        workspaces = {n: f"https://{HOST}:{w['port']}" for n, w in services.get("workspaces", {}).items()}
        arm = f"https://{HOST}:{services['arm_port']}" if services.get("arm_port") else None
    return {
        "home": str(home),
        "storage": {"running": storage_up,
                    "accounts": {a: f"http://{HOST}:{blob_port}/{a}" for a in sorted(storage.get("accounts", {}))}},
        "control": {"running": server_up, "pid": control.get("pid"),
                    "url": f"https://{HOST}:{control['port']}" if control else None},
        "arm": {"running": server_up, "url": arm},
        "keyvaults": keyvaults,
        "databricks_workspaces": workspaces,
        "trust_bundle": str(home / "tls" / "trust-bundle.pem"),
    }


def down(home: Path, timeout: float = 10.0) -> list[int]:
    """Stop every sandbox process (and its children); returns the pids stopped. State is kept."""
    run = _read_run(home)
    pids = [s["pid"] for s in (run.get("server", {}),) if s.get("pid") and _alive(s["pid"])]
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(_group_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in [p for p in pids if _group_alive(p)]:  # the server's children (Azurite, clusters) included
        os.killpg(pid, signal.SIGKILL)
    run.get("server", {}).pop("pid", None)
    if run:
        (home / RUN_FILE).write_text(json.dumps(run, indent=2))
    return pids


def reset(home: Path) -> None:
    """Stop everything and forget all state (secrets, storage, certificates)."""
    down(home)
    shutil.rmtree(home, ignore_errors=True)
