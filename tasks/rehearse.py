"""inv rehearse: the main job, end to end on this machine: the whole release on the sandbox."""
from invoke import task

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
    """Build, lint, unit-test, publish, then release to the sandbox: deploy-qa, deploy-staging, deploy-prod, swap."""
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
    _swap_unless_live(c, version)
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
        return
    swap(c, yes=True)
