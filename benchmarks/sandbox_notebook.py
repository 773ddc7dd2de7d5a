"""Benchmark of issue 4: the overhead of running a notebook as a sandbox Databricks job on a warm cluster,
over running the same notebook directly with the local runner (bar: under 2x).

    ./dev python benchmarks/sandbox_notebook.py [--runs 5]

Both sides run the real 02_transform notebook on one standardized load of the sample data, on a
warm Spark (the local runner's session, the cluster process's session), Parquet tables.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "src"), str(REPO / "release-toolkit" / "src")]

from toolkit.build.application import build_application  # noqa: E402
from toolkit.local.sample_load import SampleLoad, land_sample_data  # noqa: E402
from tasks.repository import NOTEBOOKS, SAMPLE_DATA  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-notebook-"))
    try:
        build = build_application(REPO, work / "dist")
        direct = run_direct(work, build.wheel.wheel, args.runs)
        sandboxed = run_in_sandbox(work, build.wheel.wheel, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = statistics.median(sandboxed) / statistics.median(direct)
    print(f"02_transform, median of {args.runs} warm runs: local runner {statistics.median(direct):.2f}s, "
          f"sandbox job {statistics.median(sandboxed):.2f}s, overhead {ratio:.2f}x "
          f"(bar under 2x: {'PASS' if ratio < 2 else 'FAIL'})")


def _load(lake: Path) -> SampleLoad:
    load = SampleLoad(lake, "bench", "2026-11-26T10:15:30Z")
    land_sample_data(load, SAMPLE_DATA)
    return load


def run_direct(work: Path, wheel: Path, runs: int) -> list[float]:
    from sandbox.notebook.runner import LocalRuntime
    from sandbox.notebook.spark import local_spark_session

    runtime = LocalRuntime(local_spark_session("bench-direct"), libraries=[wheel])
    load = _load(work / "lake-direct")
    for notebook in ("00_setup", "01_standardize"):
        runtime.run(NOTEBOOKS / notebook, load.parameters(notebook))
    times = []
    for _ in range(runs + 1):  # the first run warms up
        started = time.perf_counter()
        runtime.run(NOTEBOOKS / "02_transform", load.parameters("02_transform"))
        times.append(time.perf_counter() - started)
    runtime.spark.stop()
    return times[1:]


def run_in_sandbox(work: Path, wheel: Path, runs: int) -> list[float]:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service import compute, jobs
    from databricks.sdk.service.workspace import ImportFormat

    from sandbox.server import Sandbox

    sandbox = Sandbox(work / "sandbox")
    os.environ["REQUESTS_CA_BUNDLE"] = str(sandbox.tls.trust_bundle)
    try:
        token = sandbox.authority.issue("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default")[0]
        w = WorkspaceClient(host=sandbox.ensure_workspace("bench"), token=token)
        w.workspace.mkdirs("/bench")
        w.workspace.upload(f"/bench/{wheel.name}", wheel.read_bytes(), format=ImportFormat.AUTO)
        for notebook in ("00_setup", "01_standardize", "02_transform"):
            w.workspace.upload(f"/bench/{notebook}.py", (NOTEBOOKS / f"{notebook}.py").read_bytes(),
                               format=ImportFormat.AUTO)
        cluster = w.clusters.create_and_wait(spark_version="17.3.x-scala2.13", num_workers=1, cluster_name="bench")
        w.libraries.install(cluster.cluster_id, [compute.Library(whl=f"/Workspace/bench/{wheel.name}")])
        load = _load(work / "lake-sandbox")

        def run(notebook: str) -> float:
            started = time.perf_counter()
            result = w.jobs.submit_and_wait(run_name=notebook, tasks=[jobs.SubmitTask(
                task_key="t", existing_cluster_id=cluster.cluster_id, notebook_task=jobs.NotebookTask(
                    notebook_path=f"/bench/{notebook}", base_parameters=load.parameters(notebook)))])
            assert result.state.result_state == jobs.RunResultState.SUCCESS, result.state.state_message
            return time.perf_counter() - started

        run("00_setup")
        run("01_standardize")
        return [run("02_transform") for _ in range(runs + 1)][1:]
    finally:
        sandbox.shutdown()


if __name__ == "__main__":
    main()
