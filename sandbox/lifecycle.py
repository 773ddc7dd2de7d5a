"""Starting, inspecting and stopping the sandbox: the control-plane process, detached from the caller,
which runs Azurite (one account per environment's lake plus a shared one, and any an ARM deployment
creates) and every other service; all state lives under one home folder (.sandbox/ by default) and
survives `down`/`up` until `reset`."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sandbox.azurite import free_port, port_open
from sandbox.server import HOST, Identity
from sandbox.tls import ensure_tls
from toolkit.local_files import write_atomically

# Lakes of qa, staging and prod, and the shared account (integration-test data, artifact store).
STORAGE_ACCOUNTS = ("sbxqa", "sbxstaging", "sbxprod", "sbxshared")
RUN_FILE = "run.json"
# Every process a sandbox server starts (Azurite, cluster processes, their JVMs) inherits this variable, naming
# its home: what a server killed with SIGKILL left running is found by it, and only what is this home's.
INSTANCE_VARIABLE = "PARKING_SANDBOX_INSTANCE"
_PROC = Path("/proc")


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


def _write_run(home: Path, run: dict[str, Any]) -> None:
    write_atomically(home / RUN_FILE, json.dumps(run, indent=2))


@contextmanager
def _exclusive(home: Path) -> Iterator[None]:
    """One `up` or `down` at a time per home: two runs starting at once must not start two servers."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lifecycle.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def process_groups(home: Path) -> dict[int, list[int]]:
    """The processes started by this home's sandbox servers, live or dead, by process group (Linux /proc;
    elsewhere nothing is found and only the recorded server is known)."""
    marker = f"{INSTANCE_VARIABLE}={home.resolve()}".encode()
    groups: dict[int, list[int]] = {}
    if not _PROC.is_dir():
        return groups
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            state, _, group = stat[stat.rindex(")") + 2:].split()[:3]
        except (OSError, ValueError):  # gone meanwhile, or not ours to read
            continue
        if state != "Z":
            groups.setdefault(int(group), []).append(int(entry.name))
    return groups


def _server_alive(home: Path, pid: int | None) -> bool:
    """Whether the recorded server runs (and its pid was not reused by another process since)."""
    if not pid or not _alive(pid):
        return False
    try:
        command = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return not _PROC.is_dir()  # no /proc to tell: the pid is taken at its word
    return b"sandbox.server" in command and bool({str(home).encode(), str(home.resolve()).encode()} & set(command))


def _stop_groups(groups: list[int], timeout: float = 10.0) -> None:
    """SIGTERM each process group, then SIGKILL what is left of it after ``timeout``."""
    for group in groups:
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(_group_alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    for group in [g for g in groups if _group_alive(g)]:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _leftovers(home: Path, server: int | None) -> list[int]:
    """Process groups of this home that are not the running server's: what a killed server left behind."""
    return sorted(g for g in process_groups(home) if g != server)


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
            answer = requests.get(f"{url}/health", verify=str(trust), timeout=1)
            if answer.ok:  # 503 while the server still opens its listeners
                return answer.json()
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SandboxError(f"the sandbox server did not answer {url}/health within {timeout:.0f}s")


def up(home: Path, repo: Path) -> dict[str, Any]:
    """Start whatever is not running; running services are left alone, and whatever a server that died left
    running (its Azurite, its clusters) is stopped first. Returns :func:`status`."""
    with _exclusive(home):
        Identity.load_or_create(home, STORAGE_ACCOUNTS)
        tls = ensure_tls(home / "tls")
        run = _read_run(home)
        control = run.get("server", {})
        server = control.get("pid") if _server_alive(home, control.get("pid")) else None
        _stop_groups(_leftovers(home, server))  # a second Azurite on the same data folder would corrupt it
        if server is None:
            port = control.get("port") or free_port()
            port = port if not port_open(port) else free_port()
            log = (home / "server.log").open("ab")
            process = subprocess.Popen([sys.executable, "-m", "sandbox.server", "--home", str(home), "--port",
                                        str(port), "--repo", str(repo), "--storage-accounts",
                                        ",".join(STORAGE_ACCOUNTS)],
                                       cwd=repo, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                                       env={**os.environ, INSTANCE_VARIABLE: str(home.resolve())})
            try:
                _wait_for_health(f"https://{HOST}:{port}", tls.trust_bundle, process, home / "server.log")
            except BaseException:  # did not start, or the caller was interrupted: whatever it started goes with it
                _stop_groups([process.pid], timeout=0)
                raise
            run["server"] = {"pid": process.pid, "port": port}
            _write_run(home, run)
        _write_connection(home, run["server"]["port"], tls.trust_bundle)
        from sandbox.seed import seed_integration_data, seed_signing_keys

        seed_integration_data(home, json.loads((home / "storage.json").read_text())["port"],
                              repo / "data" / "melbourne")
        seed_signing_keys(home, repo)
    return status(home)


def _write_connection(home: Path, control_port: int, trust_bundle: Path) -> None:
    """What a client (the toolkit, installed or not) reaches this sandbox with: no sandbox code needed."""
    from toolkit.environments.sandbox_client import SandboxEndpoints

    identity = Identity.load_or_create(home)
    blob_port = json.loads((home / "storage.json").read_text())["port"]
    SandboxEndpoints(home, f"https://{HOST}:{control_port}", f"http://{HOST}:{blob_port}", str(trust_bundle),
                     identity.tenant_id, identity.client_id, identity.client_secret).write()


def status(home: Path) -> dict[str, Any]:
    """Each service: running or not, and its endpoint. Never includes a key or secret."""
    run = _read_run(home)
    control = run.get("server", {})
    server_up = _server_alive(home, control.get("pid")) and port_open(control.get("port", 0))
    storage_file = home / "storage.json"
    storage = json.loads(storage_file.read_text()) if storage_file.exists() else {}
    blob_port = storage.get("port")
    storage_up = bool(blob_port) and port_open(blob_port)  # the server's gateway to Azurite
    leftovers = _leftovers(home, control.get("pid") if server_up else None)
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
        # Processes of a server that is gone (SIGKILL): `sandbox.up` or `sandbox.down` stops them.
        "leftover_processes": sum(len(pids) for g, pids in process_groups(home).items() if g in leftovers),
    }


def down(home: Path, timeout: float = 10.0) -> list[int]:
    """Stop every sandbox process of this home (the server with its children, and what a server that died
    left running); returns the server pids stopped. State is kept."""
    if not home.is_dir():
        return []
    with _exclusive(home):
        run = _read_run(home)
        server = run.get("server", {}).get("pid")
        pids = [server] if _server_alive(home, server) else []
        _stop_groups(pids + _leftovers(home, pids[0] if pids else None), timeout)
        run.get("server", {}).pop("pid", None)
        if run:
            _write_run(home, run)
    return pids


def reset(home: Path) -> None:
    """Stop everything and forget all state (secrets, storage, certificates)."""
    down(home)
    shutil.rmtree(home, ignore_errors=True)
