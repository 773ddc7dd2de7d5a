"""inv rehearse: the main job, end to end on this machine: the whole release on the sandbox."""
from invoke import Exit, task

from parking_release.artifacts import publish
from parking_release.release import deploy_prod, deploy_qa, deploy_staging, swap
from tasks.build import build
from tasks.local_cloud import up as sandbox_up
from tasks.quality import lint, test


@task(help={
    "skip-tests": "do not run the unit tests",
    "deployment-id": "the QA environment to deploy to (default: 'local')",
})
def rehearse(c, skip_tests=False, deployment_id="local"):
    """Build, lint, unit-test, publish, then release to the sandbox: deploy-qa, deploy-staging, deploy-prod (with
    its audit against the live slot), swap, and production's pipeline once on the new release."""
    from tasks.repository import DIST
    from toolkit.build.application import read_build_info

    sandbox_up(c, quiet=True)  # the release's target: a sandbox that already runs is left as it is
    build(c)
    lint(c)
    if not skip_tests:
        test(c, suite="unit", coverage=False)
    publish(c)
    version = read_build_info(DIST)["version"]
    deploy_qa(c, version=version, deployment_id=deployment_id)
    # Staging and production exist on Azure before any release; on a fresh sandbox, --infra creates them
    # (and on a warm one, what-if finds nothing to change).
    deploy_staging(c, version=version, infra=True)
    deploy_prod(c, version=version, infra=True)
    if _swap_unless_live(c, version):
        _run_production_pipeline(c)
    print(f"rehearsal passed: version {version} released to qa ({deployment_id}), staging and prod on the sandbox")


def _swap_unless_live(c, version):
    """The swap ends the release; a rehearsal run again on a warm sandbox finds the version live already and does
    not swap back and forth."""
    from parking_release.common import deployed
    from parking_release.context import workplace
    from tasks.repository import DIST
    from toolkit.build.application import read_build_info
    from toolkit.release.environment_source import running_release

    digest = read_build_info(DIST)["bundle_digest"]
    environment, target = deployed(workplace(c), "sandbox", "prod")
    running = running_release(environment, target, None, print)
    if running is not None and (running.version, running.bundle_digest) == (version, digest):
        print(f"prod already runs {version}: no swap")
        return False
    swap(c, yes=True)
    return True


def _run_production_pipeline(c):
    """Production's scheduled pipeline, run once after the swap as its trigger would: production then holds a load
    the new release made, which the next rehearsal's audit processes again. The sample extracts stand in for the
    city's feed where production's lake has none."""
    from parking_release.common import deployed
    from parking_release.context import workplace
    from tasks.repository import REPO_ROOT
    from toolkit.azure.datafactory import Factory, wait_for_earlier_runs, wait_for_run
    from toolkit.release.deployment import open_deployed

    environment, target = deployed(workplace(c), "sandbox", "prod")
    d = open_deployed(environment, target)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    trigger = next(t for t in factory.objects("trigger").values() if t.get("type") == "ScheduleTrigger")
    scheduled = trigger["pipelines"][0]
    pipeline, parameters = scheduled["pipelineReference"]["referenceName"], scheduled.get("parameters") or {}
    declared = factory.objects("pipeline")[pipeline].get("parameters") or {}
    source = parameters.get("sourceFolder") or (declared.get("sourceFolder") or {}).get("defaultValue")
    lake = d.lake().get_container_client(environment.databricks.lake_container)
    if source and not any(True for _ in lake.list_blobs(name_starts_with=f"{source}/")):
        for extract in sorted((REPO_ROOT / "data" / "melbourne").glob("*.json")):
            lake.upload_blob(f"{source}/{extract.name}", extract.read_bytes(), overwrite=True)
        print(f"prod: the sample extracts landed in {source}/ (the city's feed, on the sandbox)")
    wait_for_earlier_runs(factory, pipeline, 30, print)
    run_id = factory.create_run(pipeline, parameters)
    print(f"prod: pipeline {pipeline} run {run_id} started, as {trigger.get('description') or 'its trigger'}")
    run, _ = wait_for_run(factory, run_id, 30, print)
    if run["status"] != "Succeeded":
        raise Exit(f"prod: pipeline run {run_id} ended {run['status']}: {run.get('message')}", code=1)
    print(f"prod: pipeline run {run_id} succeeded on the new release")
