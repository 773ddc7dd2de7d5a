"""Benchmark of issue 17: the time the audit before the swap adds to deploy-prod.

    ./dev python benchmarks/audit.py [--scales 1,10] [--json]

Starts a sandbox of its own (a temporary home), builds this working tree, publishes it and releases it to
production (deploy-prod, swap). Then, for each scale: production's lake gets the sample extracts scaled that many
times (new bay ids and markers per copy, as benchmarks/quality_pipeline.py makes them), production's pipeline
runs once on them (the load the audit processes again), and deploy-prod deploys the same version into the idle
slot (--force: the live slot runs it; --retest: the smoke test and the audit run even where nothing changed).
It prints, per scale, the audit step's seconds against the rest of the same deploy-prod (what deploy-prod takes
without it), and the audit's own runs.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "release-toolkit" / "src")]

from benchmarks.plans_and_drift import release_to_production  # noqa: E402
from benchmarks.published_sandbox import published_sandbox  # noqa: E402
from benchmarks.quality_pipeline import scaled_extracts  # noqa: E402
from tests.integration.release_helpers import stage  # noqa: E402
from toolkit.azure.datafactory import Factory, wait_for_run  # noqa: E402
from toolkit.environments.model import load_environment  # noqa: E402
from toolkit.environments.target import sandbox_target  # noqa: E402
from toolkit.release.deployment import open_deployed  # noqa: E402


def land_and_load(home: Path, bundle: Path, factor: int) -> dict:
    """The scaled extracts in production's source folder, then one run of its pipeline over them."""
    prod = load_environment(Path(bundle) / "environments", "prod", "sandbox")
    d = open_deployed(prod, sandbox_target(home))
    lake = d.lake().get_container_client(prod.databricks.lake_container)
    with tempfile.TemporaryDirectory() as folder:
        sensors, bays = scaled_extracts(factor, Path(folder))
        for extract in Path(folder).glob("*.json"):
            lake.upload_blob(f"src/melbourne/{extract.name}", extract.read_bytes(), overwrite=True)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    run, _ = wait_for_run(factory, factory.create_run(prod.audit.pipeline, {}), 60, lambda line: None)
    if run["status"] != "Succeeded":
        raise SystemExit(f"production's pipeline run ended {run['status']}: {run.get('message')}")
    return {"sensors": sensors, "bays": bays, "run_id": run["runId"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10", help="comma-separated multiples of the sample data")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with published_sandbox("bench-audit-") as (home, published, store, _):
        release_to_production(home, published, store)
        for factor in [int(s) for s in args.scales.split(",")]:
            loaded = land_and_load(home, published[1], factor)
            report = stage(home, published, "deploy-prod", [], store=store, force=True, retest=True)
            if report.outcome != "succeeded":
                raise SystemExit(f"deploy-prod failed: {report.error}")
            steps = {s.step: s.seconds for s in report.steps}
            runs = {side: round(sum(r["seconds"] for r in done), 1)
                    for side, done in (report.audit.get("runs") or {}).items()}
            results.append({"scale": factor, "input_rows": loaded["sensors"] + loaded["bays"],
                            "deploy_prod_s": report.seconds, "audit_s": steps.get("audit"),
                            "without_audit_s": round(report.seconds - steps.get("audit", 0), 2),
                            "audit_outcome": report.audit["outcome"], "shadow_runs_s": runs,
                            "steps_s": steps})
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'scale':>5} {'input rows':>10} {'deploy-prod s':>13} {'without audit s':>15} {'audit s':>8} "
          f"{'added':>6}  shadow runs (live, idle) s")
    for r in results:
        added = r["audit_s"] / r["without_audit_s"] if r["without_audit_s"] else float("inf")
        print(f"{r['scale']:>5} {r['input_rows']:>10} {r['deploy_prod_s']:>13} {r['without_audit_s']:>15} "
              f"{r['audit_s']:>8} {added:>5.0%}  {r['shadow_runs_s'].get('live')}, {r['shadow_runs_s'].get('idle')}"
              f"  ({r['audit_outcome']})")


if __name__ == "__main__":
    main()
