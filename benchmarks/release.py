"""Benchmark of issue 5: deploy-qa on the sandbox, first and again, and the concurrent notebook importer.

    ./dev python benchmarks/release.py [--notebooks 100] [--latency-ms 50] [--imports-only] [--json]

Starts a sandbox of its own (a temporary home), builds this working tree and publishes it to a
temporary store, then prints:

- the wall time and the API calls (reads, writes, by service, as the sandbox counted them; the
  environment lock's own lease requests are counted apart) of a
  first deploy-qa, which creates everything and runs the pipeline and the integration tests, and
  of a re-deploy of the same version (bar: under 20% of the first deploy's time, zero writes);
- importing --notebooks notebooks into the workspace with the concurrent importer against one at a
  time (bar: at least 3x faster), with the workspace on loopback and with --latency-ms added to each
  request (a workspace a network away: a Databricks REST call from a CI agent takes tens to hundreds
  of milliseconds). On loopback each sandbox request costs about 55 ms of CPU on this machine (a new
  TLS connection per request, as werkzeug's server closes every connection, and the JSON state
  rewritten), so 2 cores cap the loopback gain near 2x; the latency case is what concurrency is for.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "release-toolkit" / "src")]

from benchmarks.published_sandbox import published_sandbox  # noqa: E402
from sandbox.connection import SandboxConnection  # noqa: E402
from toolkit.databricks.workspace_files import WorkspaceObject, import_objects  # noqa: E402
from tests.integration.release_helpers import is_lock_write, stage  # noqa: E402
from toolkit.environments.target import sandbox_target  # noqa: E402


def measured_deploy(home: Path, published, deployment_id: str) -> dict:
    connection = SandboxConnection.from_home(home)
    connection.reset_requests()
    started = time.monotonic()
    report = stage(home, published, "deploy-qa", [], deployment_id=deployment_id)
    seconds = time.monotonic() - started
    if report.outcome != "succeeded":
        raise SystemExit(f"deploy-qa failed: {report.error}")
    calls = connection.requests_made()
    lock = [w for w in calls["write_requests"] if is_lock_write(w)]  # the environment lock's own lease
    return {"seconds": round(seconds, 1), "reads": calls["reads"], "writes": calls["writes"] - len(lock),
            "lock_writes": len(lock),
            "by_service": calls["by_service"], "changed_steps": [s.step for s in report.steps if s.status == "changed"]}


def import_benchmark(home: Path, count: int, latency_ms: float) -> dict:

    connection = SandboxConnection.from_home(home)
    url = connection.ensure_workspace("dbw-import-benchmark")
    workspace = sandbox_target(home).workspace_client(url, None)
    source = (REPO / "notebooks" / "02_transform.py").read_bytes()
    results = {}
    for placement, latency in (("loopback", 0), ("network", latency_ms)):
        connection.set_faults("databricks", {"latency_ms": latency} if latency else {})
        for label, concurrency in (("one_at_a_time", 1), ("concurrent", 8)):
            root = f"/bench/{placement}-{label}-{time.time_ns()}"
            notebooks = [WorkspaceObject(f"{root}/nb_{i:03d}", source, True) for i in range(count)]
            started = time.monotonic()
            import_objects(workspace, notebooks, lambda o: None, concurrency=concurrency)
            results[f"{placement}_{label}_s"] = round(time.monotonic() - started, 2)
        results[f"{placement}_speedup"] = round(results[f"{placement}_one_at_a_time_s"]
                                                / results[f"{placement}_concurrent_s"], 1)
    connection.set_faults("databricks", {})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--imports-only", action="store_true", help="skip the deploys")
    args = parser.parse_args()
    with published_sandbox("release-bench-") as (home, published, _, _):
        first = again = None
        if not args.imports_only:
            first = measured_deploy(home, published, "bench")
            again = measured_deploy(home, published, "bench")
        imports = import_benchmark(home, args.notebooks, args.latency_ms)
    result = {"first_deploy": first, "redeploy": again, "notebook_import": imports}
    if first:
        result["redeploy_share_of_first"] = round(again["seconds"] / first["seconds"], 3)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    if first:
        print(f"first deploy-qa: {first['seconds']}s, {first['reads']} reads, {first['writes']} writes "
              f"(+{first['lock_writes']} for the environment lock)")
        print(f"re-deploy:       {again['seconds']}s, {again['reads']} reads, {again['writes']} writes "
              f"(+{again['lock_writes']} for the environment lock; {result['redeploy_share_of_first']:.1%} of the "
              "first; bar < 20% and 0 writes)")
    print(f"import {args.notebooks} notebooks, loopback: one at a time {imports['loopback_one_at_a_time_s']}s, "
          f"concurrent {imports['loopback_concurrent_s']}s ({imports['loopback_speedup']}x)")
    print(f"import {args.notebooks} notebooks, +{args.latency_ms:.0f} ms per request: one at a time "
          f"{imports['network_one_at_a_time_s']}s, concurrent {imports['network_concurrent_s']}s "
          f"({imports['network_speedup']}x; bar >= 3x)")


if __name__ == "__main__":
    main()
