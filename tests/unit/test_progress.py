import io

from toolkit.concurrency import run_concurrently
from toolkit.progress import Progress


def test_progress_prints_a_line_per_tenth_when_not_a_terminal():
    out = io.StringIO()
    progress = Progress("publish 1.0.0", 20, stream=out)
    for _ in range(20):
        progress.advance(1000)
    lines = out.getvalue().splitlines()
    assert len(lines) == 11  # 0/10 .. 10/10 tenths, first at 1/20
    assert lines[-1].startswith("publish 1.0.0: 20/20 files, 0.0 MB")


def test_disabled_progress_prints_nothing():
    out = io.StringIO()
    Progress("x", 3, stream=out, enabled=False).advance()
    assert out.getvalue() == ""


def test_run_concurrently_keeps_order_and_reports_each_item():
    done = []
    assert run_concurrently(range(10), lambda i: i * i, 4, on_done=lambda i, r: done.append(i)) == \
        [i * i for i in range(10)]
    assert sorted(done) == list(range(10))
    assert run_concurrently([3, 1], lambda i: -i, 1) == [-3, -1]


def test_run_concurrently_starts_nothing_more_after_a_failure():
    import threading
    import time

    import pytest

    started = []
    lock = threading.Lock()

    def work(i):
        with lock:
            started.append(i)
        if i == 0:
            raise RuntimeError("first item failed")
        time.sleep(0.05)
    with pytest.raises(RuntimeError, match="first item failed"):
        run_concurrently(range(100), work, 2)
    assert len(started) < 10


class _Factory:
    """A pipeline run that stays InProgress for a few polls, one activity running."""

    def __init__(self, polls):
        self.polls, self.cancelled = polls, []

    def run(self, run_id):
        self.polls -= 1
        return {"runId": run_id, "status": "InProgress" if self.polls > 0 else "Succeeded"}

    def activity_runs(self, run_id):
        return [{"activityName": "TransformData", "activityType": "DatabricksNotebook",
                 "status": "InProgress" if self.polls > 0 else "Succeeded", "durationInMs": 1000}]

    def cancel_run(self, run_id):
        self.cancelled.append(run_id)


def test_waiting_for_a_pipeline_says_the_running_activity_at_least_every_heartbeat(monkeypatch):
    import time

    from toolkit import progress
    from toolkit.azure.datafactory import wait_for_run

    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.3)
    said = []
    started = time.monotonic()
    run, activities = wait_for_run(_Factory(polls=3), "r1", 5, lambda line: said.append((time.monotonic(), line)))
    assert run["status"] == "Succeeded" and activities[0]["activityName"] == "TransformData"
    beats = [line for _, line in said if line.startswith("pipeline run r1: InProgress, running TransformData "
                                                         "(DatabricksNotebook) (")]
    assert len(beats) >= 3, said
    times = [started] + [t for t, _ in said]
    assert max(b - a for a, b in zip(times, times[1:])) < 0.3 + 0.5  # never silent for longer than a beat


def test_an_interrupted_wait_cancels_the_run_it_started_and_not_one_it_only_waits_for(monkeypatch):
    import pytest

    from toolkit.azure.datafactory import wait_for_run
    from toolkit.release.interruption import Interrupted

    def interrupted(seconds):
        raise Interrupted("SIGTERM")
    monkeypatch.setattr("toolkit.azure.datafactory.time.sleep", interrupted)
    for owned, cancelled in ((True, ["r1"]), (False, [])):
        factory, said = _Factory(polls=5), []
        with pytest.raises(Interrupted):
            wait_for_run(factory, "r1", 5, said.append, owned=owned)
        assert factory.cancelled == cancelled
        assert ("pipeline run r1 cancelled" in said) is owned
