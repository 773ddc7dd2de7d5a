"""inv rehearse: the main job, end to end on this machine."""
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from invoke import task

from tasks.build import build
from tasks.quality import lint, test


@task(help={
    "lake": "folder for the local lake (default: a new temporary folder)",
    "skip-tests": "do not run the unit tests",
    "json": "print the notebooks' summaries as JSON",
})
def rehearse(c, lake=None, skip_tests=False, json_=False):
    """Build, lint, unit-test, then run one load of the sample data through the real notebooks on local Spark."""
    from sandbox.notebook.runner import LocalRuntime
    from sandbox.notebook.spark import local_spark_session
    from toolkit.build.application import read_build_info
    from toolkit.local.sample_load import SampleLoad, run_sample_load
    from toolkit.paths import DIST

    build(c)
    lint(c)
    if not skip_tests:
        test(c, suite="unit", coverage=False)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    load = SampleLoad(Path(lake or tempfile.mkdtemp(prefix="lake-")), load_id=now.strftime("sample-%Y%m%dT%H%M%S"),
                      loaded_on=now.isoformat())
    print(f"sample load {load.load_id} into {load.lake} (starting local Spark)")
    wheel = DIST / read_build_info(DIST)["wheel"]
    runtime = LocalRuntime(local_spark_session(), libraries=[wheel])  # the built wheel, as a cluster library
    summaries = run_sample_load(runtime, load, progress=print)
    if json_:
        print(json.dumps(summaries, indent=2))
        return
    for name, summary in summaries.items():
        print(f"{name}: {summary.get('rows', summary.get('created'))}")
    print(f"rehearsal passed: version {summaries['02_transform']['version']}, tables under {load.lake}")
