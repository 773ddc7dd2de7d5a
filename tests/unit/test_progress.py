import io

from toolkit.artifacts.transfer import run_concurrently
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
