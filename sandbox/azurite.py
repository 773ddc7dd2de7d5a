"""Azurite, the Azure Storage emulator (npm package, pinned in package.json), as a child process on loopback.

Only the Blob service is started: Azurite has no dfs endpoint, and the Blob API works on real
ADLS Gen2 accounts too. Several accounts can be served at once (AZURITE_ACCOUNTS).
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# Azurite's documented development account; its key is public, the same for every Azurite install.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on the port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AzuriteError(f"azurite exited with code {process.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AzuriteError(f"azurite did not listen on {host}:{port} within {timeout:.0f}s")


@dataclass
class Azurite:
    """An Azurite blob endpoint. ``accounts`` maps account name to key; empty means the dev account."""

    repo: Path
    host: str = "127.0.0.1"
    port: int | None = None
    accounts: dict[str, str] = field(default_factory=dict)
    location: Path | None = None  # None: in memory
    detached: bool = True  # own session: outlives its parent; False: stopped with the parent's process group
    process: subprocess.Popen | None = None

    @property
    def executable(self) -> Path:
        return self.repo / "node_modules" / ".bin" / "azurite-blob"

    def start(self, timeout: float = 30.0) -> "Azurite":
        if not self.executable.exists():
            raise AzuriteError(f"{self.executable} not found: run `npm ci` (./dev does it) to install Azurite")
        self.port = self.port or free_port(self.host)
        command = [str(self.executable), "--blobHost", self.host, "--blobPort", str(self.port),
                   "--disableTelemetry", "--skipApiVersionCheck", "--silent"]
        if self.location is None:
            command.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            command += ["--location", str(self.location)]
        env = dict(os.environ)
        if self.accounts:
            env["AZURITE_ACCOUNTS"] = ";".join(f"{name}:{key}" for name, key in self.accounts.items())
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=self.detached)
        wait_for_port(self.host, self.port, self.process, timeout)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def blob_endpoint(self, account: str = DEV_ACCOUNT) -> str:
        return f"http://{self.host}:{self.port}/{account}"

    def connection_string(self, account: str = DEV_ACCOUNT) -> str:
        key = self.accounts.get(account, DEV_KEY if account == DEV_ACCOUNT else None)
        if key is None:
            raise AzuriteError(f"account {account!r} is not served by this Azurite")
        return (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
                f"BlobEndpoint={self.blob_endpoint(account)};")

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
