"""inv rehearse: the main job, end to end on this machine: the whole release on the sandbox."""
from invoke import task

from tasks.artifacts import publish
from tasks.build import build
from tasks.quality import lint, test
from tasks.release import deploy_prod, deploy_qa, deploy_staging, swap


@task(help={
    "skip-tests": "do not run the unit tests",
    "deployment-id": "the QA environment to deploy to (default: 'local')",
})
def rehearse(c, skip_tests=False, deployment_id="local"):
    """Build, lint, unit-test, publish, then release to the sandbox: deploy-qa, deploy-staging, deploy-prod, swap."""
    from toolkit.build.application import read_build_info
    from toolkit.paths import DIST

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
    """The swap ends the release; a rehearsal run again on a warm sandbox finds the version live already
    (its deploy-prod then wrote the idle slot, which holds it too) and does not swap back and forth."""
    from tasks.common import target_for
    from toolkit.build.application import read_build_info
    from toolkit.paths import DIST, ENVIRONMENTS
    from toolkit.release.status import environment_status

    digest = read_build_info(DIST)["bundle_digest"]
    slots = environment_status(ENVIRONMENTS, target_for("sandbox", "prod"), "prod", None, last=0)["slots"] or []
    if any(s["live"] and (s["version"], s["bundle_digest"]) == (version, digest) for s in slots):
        print(f"prod already runs {version}: no swap")
        return
    swap(c, yes=True)
