"""The README's main command, run as a task against a sandbox of the tests' own (unit tests skipped:
the suite runs them itself): build, lint, publish, deploy-qa, deploy-staging, deploy-prod, swap."""
from invoke import Config, Context

import toolkit.paths
from tasks import rehearse as rehearse_tasks
from toolkit.build.application import read_build_info
from toolkit.paths import DIST


def test_rehearse_releases_the_build_through_every_stage(release_sandbox, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(toolkit.paths, "SANDBOX_HOME", release_sandbox)
    # A store of the test's own: the developer's .artifacts keeps only what their own sandbox signed.
    store = tmp_path / "artifacts.toml"
    store.write_text(f'kind = "local"\npath = "{tmp_path / "store"}"\n')
    monkeypatch.setattr(toolkit.paths, "ARTIFACTS_CONFIG", store)
    context = Context(Config(overrides={"run": {"in_stream": False}}))
    rehearse_tasks.rehearse(context, skip_tests=True, deployment_id="rh")
    out = capsys.readouterr().out
    built = read_build_info(DIST)["version"]
    assert "lint: no findings" in out
    for stage, environment in (("deploy-qa", "qa "), ("deploy-staging", "staging "), ("deploy-prod", "prod (slot ")):
        assert f"{stage} of {built} to {environment}" in out
    assert "integration-tests  changed" in out  # QA and staging ran the pipeline and the test notebook
    assert "smoke-test" in out  # production's idle slot was smoke-tested
    # It ends with the build live in production: swapped in, unless the same bundle was live already (the
    # blue/green tests may have left it so on this sandbox).
    swapped = f"swap of {built} to prod (slot " in out
    assert swapped or f"prod already runs {built}" in out
    assert out.count("\nsucceeded in ") == 3 + swapped
    from toolkit.environments.target import sandbox_target
    from toolkit.paths import ENVIRONMENTS
    from toolkit.release.status import environment_status

    prod = environment_status(ENVIRONMENTS, sandbox_target(release_sandbox), "prod", None, last=3)
    live = next(s for s in prod["slots"] if s["live"])
    assert (live["version"], live["bundle_digest"]) == (built, read_build_info(DIST)["bundle_digest"])
    assert f"rehearsal passed: version {built} released to qa (rh), staging and prod" in out


def test_staging_hydrates_from_production_incrementally(release_sandbox, monkeypatch):
    """After the rehearsal both exist: a file landing in production's lake is copied into staging once."""
    from toolkit.azure import arm
    from toolkit.environments.model import load_environment
    from toolkit.environments.target import sandbox_target
    from toolkit.paths import ENVIRONMENTS
    from toolkit.release.deployment import Deployment, Options
    from toolkit.release.steps.data import Data

    target = sandbox_target(release_sandbox)
    client = arm.resource_client(target)
    prod = Deployment(load_environment(ENVIRONMENTS, "prod", "sandbox"), target, DIST, None, Options(),
                      outputs=arm.latest_outputs(client, "rg-parking-prod", "prod"))
    container = prod.lake().get_container_client("datalake")
    if not container.exists():
        container.create_container()
    container.upload_blob("src/melbourne/2026-11-26/sensors.json", b'[{"bay_id": "1"}]', overwrite=True)
    staging = Deployment(load_environment(ENVIRONMENTS, "staging", "sandbox"), target, DIST, None, Options(),
                         outputs=arm.latest_outputs(client, "rg-parking-staging", "staging"))
    plan = Data(ENVIRONMENTS).plan(staging)
    assert [str(c) for c in plan.changes] == ["copy 1 blobs (0.0 MB) (prod lake datalake/src -> lake datalake/src)"]
    plan.apply()
    copied = staging.lake().get_blob_client("datalake", "src/melbourne/2026-11-26/sensors.json")
    assert copied.download_blob().readall() == b'[{"bay_id": "1"}]'
    assert Data(ENVIRONMENTS).plan(staging).changes == []  # incremental: nothing again
