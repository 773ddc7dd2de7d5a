"""The README's main command, run as a task (unit tests skipped: the suite runs them itself)."""
from invoke import Config, Context

from tasks import rehearse as rehearse_tasks
from toolkit.build.application import read_build_info
from toolkit.paths import DIST


def test_rehearse_builds_lints_and_runs_the_sample_load(tmp_path, capsys, spark):
    context = Context(Config(overrides={"run": {"in_stream": False}}))
    rehearse_tasks.rehearse(context, lake=str(tmp_path), skip_tests=True)
    out = capsys.readouterr().out
    assert "lint: no findings" in out and "rehearsal passed" in out
    assert "02_transform: {'dim_parking_bay': 999, 'dim_location': 1001, 'dim_st_marker': 1001, " \
           "'fact_parking': 1000}" in out
    assert (tmp_path / "dw" / "fact_parking").is_dir()
    # The notebooks ran the built wheel, not the source tree that the tests import.
    built = read_build_info(DIST)["version"]
    assert f"rehearsal passed: version {built}," in out and "+source" not in built
