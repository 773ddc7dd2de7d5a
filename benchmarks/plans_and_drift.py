"""Benchmark of issue 16: a saved plan against a dry run, and ops.drift a network away.

    ./dev python benchmarks/plans_and_drift.py [--repeat 3] [--latency-ms 50] [--json]

Starts a sandbox of its own (a temporary home), builds this working tree, publishes it, releases it to production
(deploy-prod, then swap) and prints:

- deploy-prod --dry-run against deploy-prod --plan-out (the same reads, then the plan written as canonical JSON):
  the median of --repeat runs of each;
- ops.drift with --latency-ms added to every request of every service (a CI agent a network away from Azure): the
  median of --repeat runs of the library call, and one run of the `inv ops.drift` process (its start included).
  Bar: under 5 s, which takes concurrent reads.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "release-toolkit" / "src")]

from benchmarks.published_sandbox import published_sandbox  # noqa: E402
from sandbox.connection import SandboxConnection  # noqa: E402
from tests.integration.release_helpers import known_keys, record_evidence, stage  # noqa: E402
from toolkit.environments.model import load_environment  # noqa: E402
from toolkit.environments.target import sandbox_target  # noqa: E402
from toolkit.release.drift import find_drift  # noqa: E402
from toolkit.release.saved_plan import plan_document, write_plan  # noqa: E402
from toolkit.release.swap import plan_swap  # noqa: E402

SERVICES = ("arm", "keyvault", "databricks", "storage")


def median_seconds(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.monotonic()
        action()
        times.append(time.monotonic() - started)
    return round(statistics.median(times), 2)


def release_to_production(home: Path, published, store) -> None:
    manifest, bundle, _ = published
    for environment in ("qa", "staging"):  # as their stages leave it when the integration tests pass
        record_evidence(home, store, manifest, environment)
    deployed = stage(home, published, "deploy-prod", [], store=store, infrastructure=True)
    if deployed.outcome != "succeeded":
        raise SystemExit(f"deploy-prod failed: {deployed.error}")
    prod = load_environment(Path(bundle) / "environments", "prod", "sandbox")
    swapped = plan_swap(prod, sandbox_target(home), store, known_keys(home), lambda v, t: (bundle, manifest),
                        say=lambda line: None).run(dry_run=False)
    if swapped.outcome != "succeeded":
        raise SystemExit(f"swap failed: {swapped.error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with published_sandbox("plan-bench-") as (home, published, store, folder):
        manifest, bundle, config = published
        release_to_production(home, published, store)

        def dry_run():
            return stage(home, published, "deploy-prod", [], store=store, dry_run=True, force=True)

        def plan_out():
            report = dry_run()
            write_plan(folder / "plan.json", plan_document(report, bundle_digest=manifest.digest,
                                                           options={"force": True}, expects=report.expects))

        result = {"dry_run_s": median_seconds(dry_run, args.repeat),
                  "plan_out_s": median_seconds(plan_out, args.repeat)}
        result["plan_out_over_dry_run"] = round(result["plan_out_s"] / result["dry_run_s"], 2)
        connection = SandboxConnection.from_home(home)
        prod = load_environment(Path(bundle) / "environments", "prod", "sandbox")
        target = sandbox_target(home)
        for service in SERVICES:
            connection.set_faults(service, {"latency_ms": args.latency_ms})
        try:
            connection.reset_requests()
            found = find_drift(prod, target, None, lambda line: None)
            result["drift_items"] = [str(i) for i in found.items] + [f"cannot tell: {c}" for c in found.unknown]
            result["drift_requests"] = connection.requests_made()["reads"]
            result["drift_s"] = median_seconds(lambda: find_drift(prod, target, None, lambda line: None), args.repeat)
            started = time.monotonic()
            process = subprocess.run([sys.executable, "-m", "invoke", "ops.drift", "--env", "prod", "--version",
                                      manifest.version, "--store-config", str(config)], cwd=REPO,
                                     capture_output=True, text=True,
                                     env={**os.environ, "PARKING_SANDBOX_HOME": str(home)})
            result["drift_process_s"] = round(time.monotonic() - started, 2)
            result["drift_process_exit"] = process.returncode
        finally:
            for service in SERVICES:
                connection.set_faults(service, {})
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"deploy-prod --dry-run: {result['dry_run_s']}s; --plan-out: {result['plan_out_s']}s "
          f"({result['plan_out_over_dry_run']}x) (medians of {args.repeat})")
    print(f"ops.drift with +{args.latency_ms:.0f} ms per request: {result['drift_s']}s ({result['drift_requests']} "
          f"reads; median of {args.repeat}); the `inv ops.drift` process: {result['drift_process_s']}s, exit "
          f"{result['drift_process_exit']} (bar: under 5 s); drift found: {result['drift_items'] or 'none'}")


if __name__ == "__main__":
    main()
