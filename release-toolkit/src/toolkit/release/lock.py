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
        self._guard = threading.Lock()
        self._renewed_at: float | None = None  # when the last acquire or renewal that succeeded was sent
        self._last_error: str | None = None
        self.lost: str | None = None  # why the lease is no longer this run's, once it is not

    def acquire(self, wait: bool = False, timeout_s: float = 3600) -> "EnvironmentLock":
        from azure.core.exceptions import HttpResponseError

        blob = ledger_blob(self.lake, create=True)
        deadline, announced = time.monotonic() + timeout_s, None
        proposed = str(uuid.uuid4())  # a retried acquire whose first answer was lost is then not a conflict
        while True:
            try:
                sent = time.monotonic()
                self.lease = blob.acquire_lease(lease_duration=LEASE_SECONDS, lease_id=proposed)
                self._renewed_at = sent
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
        try:
            blob.set_blob_metadata(self.metadata, lease=self.lease)
            self._renewer = threading.Thread(target=self._renew, name=f"lock-{self.environment}", daemon=True)
            self._renewer.start()
        except BaseException:  # taken but not set up (a failure, a signal): given back, not left for its lease
            self.release()
            raise
        return self

    def _renew(self) -> None:
        wait = RENEW_EVERY_SECONDS
        while not self._stop.wait(wait) and self.lapsed() is None:
            sent = time.monotonic()
            try:
                # One attempt, bounded: this loop is the retry (every 2 s), and a call still retrying inside the
                # client after the lease lapsed could take the lock back behind the holder's decision to stop.
                self.lease.renew(retry_total=0, connection_timeout=5, read_timeout=10)
                with self._guard:
                    if self.lost is None:
                        self._renewed_at, wait = sent, RENEW_EVERY_SECONDS
            except Exception as exc:  # try again until it lapses, unless storage says the lease is not ours any more
                self._last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if getattr(exc, "status_code", None) == 409:  # broken (ops.unlock) or taken by another run
                    with self._guard:
                        self.lost = self.lost or f"the {self.environment} lock's lease was broken or taken: " \
                                                 f"{self._last_error}"
                    return
                wait = 2

    def lapsed(self) -> str | None:
        """Why the lease is no longer this run's (None while it is held). It lapses when no renewal succeeded for
        a whole lease period: another run may hold the lock by now, so the holder must stop. Once lapsed, it
        stays so (a later renewal that happens to succeed does not make the run's view consistent again)."""
        with self._guard:
            if self.lost is None and self._renewed_at is not None and \
                    time.monotonic() - self._renewed_at >= LEASE_SECONDS:
                self.lost = (f"the {self.environment} lock's lease lapsed: no renewal succeeded for {LEASE_SECONDS} s"
                             + (f" (last error: {self._last_error})" if self._last_error else ""))
            return self.lost

    def release(self) -> None:
        """Give the lease back (always: a release carries this run's lease id, so it can never free another run's
        lease, and a renewal that reached storage unseen may have kept it this run's)."""
        from toolkit.release.interruption import shielded

        with shielded():
            self._stop.set()
            if self._renewer is not None:
                self._renewer.join(timeout=5)
            if self.lease is not None:
                try:
                    self.lease.release(retry_total=2)
                except Exception:  # broken by ops.unlock, expired, or another run's by now: nothing to give back
                    pass
            if self.lapsed():
                self.say(f"warning: {self.lost}")

    def __enter__(self) -> "EnvironmentLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
