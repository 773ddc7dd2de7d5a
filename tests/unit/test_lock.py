"""The environment lock's own rules, with a fake blob: a lease taken but not set up is given back, a lease storage
says is not ours any more is lost at once, and one no renewal reached for a lease period has lapsed."""
import time

import pytest
from azure.core.exceptions import HttpResponseError

from toolkit.release import lock


class _Lease:
    def __init__(self, renew_status=None):
        self.renew_status, self.released, self.renewals = renew_status, 0, 0

    def renew(self, **kwargs):
        self.renewals += 1
        if self.renew_status:
            error = HttpResponseError(message=f"{self.renew_status} refused")
            error.status_code = self.renew_status
            raise error

    def release(self, **kwargs):
        self.released += 1


class _Blob:
    def __init__(self, lease, metadata_error=None):
        self.lease, self.metadata_error = lease, metadata_error

    def acquire_lease(self, lease_duration, lease_id):
        return self.lease

    def set_blob_metadata(self, metadata, lease):
        if self.metadata_error:
            raise self.metadata_error


def _lock(monkeypatch, blob):
    monkeypatch.setattr(lock, "ledger_blob", lambda lake, create=False: blob)
    return lock.EnvironmentLock(object(), "qa", "deploy-qa", lambda line: None)


def _wait_until_lapsed(held, seconds=3.0):
    deadline = time.monotonic() + seconds
    while held.lapsed() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return held.lapsed()


def test_a_lease_taken_but_not_set_up_is_given_back(monkeypatch):
    lease = _Lease()
    with pytest.raises(KeyboardInterrupt):
        _lock(monkeypatch, _Blob(lease, KeyboardInterrupt())).acquire()
    assert lease.released == 1


def test_a_renewal_storage_refuses_with_409_loses_the_lock_at_once(monkeypatch):
    monkeypatch.setattr(lock, "RENEW_EVERY_SECONDS", 0.05)
    lease = _Lease(renew_status=409)
    held = _lock(monkeypatch, _Blob(lease)).acquire()
    try:
        assert _wait_until_lapsed(held, 1.0).startswith("the qa lock's lease was broken or taken: 409 refused")
        assert lease.renewals == 1  # not retried: the lease is another's
    finally:
        held.release()


def test_a_lease_no_renewal_reached_for_a_lease_period_has_lapsed_and_stays_so(monkeypatch):
    monkeypatch.setattr(lock, "LEASE_SECONDS", 0.4)
    monkeypatch.setattr(lock, "RENEW_EVERY_SECONDS", 0.05)
    lease = _Lease(renew_status=503)
    held = _lock(monkeypatch, _Blob(lease)).acquire()
    try:
        assert held.lapsed() is None
        assert _wait_until_lapsed(held) == "the qa lock's lease lapsed: no renewal succeeded for 0.4 s (last " \
                                           "error: 503 refused)"
        lease.renew_status = None  # storage answers again: too late, the run must still stop
        time.sleep(0.2)
        assert held.lapsed() is not None
    finally:
        held.release()
    assert lease.released == 1
