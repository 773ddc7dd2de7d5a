"""The environment lock: a lease on the environment's ledger blob (``releases/ledger.json``), finite
and renewed while held, so a run that dies frees it within one lease period by itself. The holder's
identity (who, host, task, pid, start time) is stored in the blob's metadata, for whoever finds it
taken. While leased, the ledger accepts writes only from the holder. Azure allows finite leases of 15
to 60 seconds."""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

from toolkit.release.ledger import actor, ledger_blob

LEASE_SECONDS = 60
RENEW_EVERY_SECONDS = 15
RETRY_SECONDS = 5


class LockHeld(RuntimeError):
    def __init__(self, environment: str, holder: dict):
        super().__init__(f"{environment} is locked by {describe_holder(holder)}: wait for it (--wait) or, if that "
                         f"run is gone, `inv ops.unlock --env {environment}`")
        self.holder = holder


def describe_holder(holder: dict | None) -> str:
    if not holder:
        return "an unknown holder"
    return (f"{holder.get('who', '?')}@{holder.get('host', '?')} (task {holder.get('task', '?')}, pid "
            f"{holder.get('pid', '?')}, since {holder.get('since', '?')})")


def current_holder(lake) -> dict | None:
    """The holder of the lock, or None when it is free."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        properties = ledger_blob(lake).get_blob_properties()
    except ResourceNotFoundError:
        return None
    if properties.lease.state != "leased":
        return None
    # Metadata names are case-insensitive in Blob Storage, and a proxy may change their case on the way.
    return {name.lower(): value for name, value in (properties.metadata or {}).items()}


def break_lock(lake) -> dict | None:
    """Break the lock at once; returns who held it (None: it was free)."""
    from azure.storage.blob import BlobLeaseClient

    holder = current_holder(lake)
    if holder is not None:
        BlobLeaseClient(ledger_blob(lake)).break_lease(lease_break_period=0)
    return holder


class EnvironmentLock:
    """Held with ``with EnvironmentLock(...).acquire():``; ``lease`` and ``metadata`` let the holder write
    the ledger (see ``toolkit.release.ledger.append_record``)."""

    def __init__(self, lake, environment: str, task: str, say: Callable[[str], None] = print):
        self.lake, self.environment, self.task, self.say = lake, environment, task, say
        self.lease = None
        self.metadata: dict[str, str] = {}
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost: str | None = None  # why the lease could not be renewed, if it could not

    def acquire(self, wait: bool = False, timeout_s: float = 3600) -> "EnvironmentLock":
        from azure.core.exceptions import HttpResponseError

        blob = ledger_blob(self.lake, create=True)
        deadline, announced = time.monotonic() + timeout_s, None
        proposed = str(uuid.uuid4())  # a retried acquire whose first answer was lost is then not a conflict
        while True:
            try:
                self.lease = blob.acquire_lease(lease_duration=LEASE_SECONDS, lease_id=proposed)
                break
            except HttpResponseError as exc:
                if exc.status_code != 409:
                    raise
                holder = current_holder(self.lake)
                if holder is None:  # expired or released between the two calls: try again
                    time.sleep(0.5)
                    continue
                if not wait or time.monotonic() > deadline:
                    raise LockHeld(self.environment, holder) from None
                if holder != announced:
                    self.say(f"waiting for the {self.environment} lock, held by {describe_holder(holder)}")
                    announced = holder
                time.sleep(RETRY_SECONDS)
        holder = {"who": actor(), "host": socket.gethostname(), "task": self.task, "pid": str(os.getpid()),
                  "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self.metadata = {k: v.encode("ascii", "replace").decode() for k, v in holder.items()}  # metadata is ASCII
        blob.set_blob_metadata(self.metadata, lease=self.lease)
        self._renewer = threading.Thread(target=self._renew, name=f"lock-{self.environment}", daemon=True)
        self._renewer.start()
        return self

    def _renew(self) -> None:
        renewed, wait = time.monotonic(), RENEW_EVERY_SECONDS
        while not self._stop.wait(wait):
            try:
                self.lease.renew()
                renewed, wait = time.monotonic(), RENEW_EVERY_SECONDS
            except Exception as exc:  # a renewal that failed after the client's retries: try again until it lapses
                if time.monotonic() - renewed >= LEASE_SECONDS:
                    self.lost = str(exc).splitlines()[0]  # the run goes on; release() reports it
                    return
                wait = 2

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self.lease is not None:
            try:
                self.lease.release()
            except Exception:  # broken by ops.unlock, or expired: nothing left to release
                pass
        if self.lost:
            self.say(f"warning: the {self.environment} lock could not be renewed ({self.lost})")

    def __enter__(self) -> "EnvironmentLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
