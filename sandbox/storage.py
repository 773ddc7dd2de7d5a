"""Storage accounts of the sandbox: Azurite, run by the control-plane process, serving every account
that exists (the environments' lakes, the shared account, and any an ARM deployment creates).

Azurite learns its accounts when it starts (AZURITE_ACCOUNTS), so creating an account restarts it on
the same port; data persists on disk across the restart, and clients retry the brief refusal.
"""
from __future__ import annotations

import base64
import secrets
import threading
from pathlib import Path

from sandbox.azurite import Azurite, free_port, port_open
from sandbox.state import JsonState


class ManagedStorage:
    def __init__(self, home: Path, repo: Path, initial_accounts: dict[str, str]):
        self.repo, self.home = repo, home
        self.state = JsonState(home / "storage.json", lambda: {"port": 0, "accounts": dict(initial_accounts)})
        with self.state.update() as data:
            for name, key in initial_accounts.items():
                data["accounts"].setdefault(name, key)
            # The public endpoint (the gateway) and Azurite behind it, on the ports they had when still free.
            for key in ("port", "azurite_port"):
                if not data.get(key) or port_open(data[key]):
                    data[key] = free_port()
        self._lock = threading.RLock()
        self._azurite: Azurite | None = None

    @property
    def port(self) -> int:
        return self.state.read()["port"]

    @property
    def endpoint(self) -> str:
        """What clients use: the gateway that applies fault injection (see storage_gateway)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def azurite_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.state.read()['azurite_port']}"

    def start(self) -> "ManagedStorage":
        with self._lock:
            self._azurite = Azurite(self.repo, port=self.state.read()["azurite_port"],
                                    accounts=self.state.read()["accounts"],
                                    location=self.home / "azurite", detached=False).start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._azurite:
                self._azurite.stop()

    def key(self, account: str) -> str | None:
        return self.state.read()["accounts"].get(account)

    def ensure_account(self, account: str) -> str:
        """The account's key; a new account is added (Azurite restarts to serve it)."""
        with self._lock:
            key = self.key(account)
            if key is None:
                key = base64.b64encode(secrets.token_bytes(64)).decode()
                with self.state.update() as data:
                    data["accounts"][account] = key
                self.stop()
                self.start()
            return key
