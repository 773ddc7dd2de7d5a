"""The README's main command, run as a task against a sandbox of the tests' own (unit tests skipped:
the suite runs them itself): build, lint, publish, deploy-qa, deploy-staging, deploy-prod, swap; and run again
on the same commit, a no-op: every stage has nothing to change and nothing is written to the sandbox."""
from invoke import Config, Context

from tasks import rehearse as rehearse_tasks
from toolkit.build.application import read_build_info
from tasks.repository import DIST, REPO_ROOT
from tests.integration.release_helpers import is_lock_write, requests_made, reset_requests


def test_rehearse_releases_the_build_through_every_stage(release_sandbox, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PARKING_SANDBOX_HOME", str(release_sandbox))
    # A store of the test's own: the developer's .artifacts keeps only what their own sandbox signed.
    store = tmp_path / "artifacts.toml"
    store.write_text(f'kind = "local"\npath = "{tmp_path / "store"}"\n')
    monkeypatch.setenv("PARKING_ARTIFACT_STORE", str(store))
    context = Context(Config(overrides={"run": {"in_stream": False}, "parking": {"root": str(REPO_ROOT)}}))
    rehearse_tasks.rehearse(context, skip_tests=True, deployment_id="rh")
    out = capsys.readouterr().out
    built = read_build_info(DIST)["version"]
    assert "lint: no findings" in out
    for stage, environment in (("deploy-qa", "qa "), ("deploy-staging", "staging "), ("deploy-prod", "prod ")):
        assert f"{stage} of {built} to {environment}" in out
    assert "integration-tests  changed" in out  # QA and staging ran the pipeline and the test notebook
    # Production's idle slot was smoke-tested, unless production already ran this very bundle (another test on
    # this sandbox may have released the same commit): then deploy-prod had nothing to change.
    assert "smoke-test" in out or f"prod already runs version {built} (bundle " in out
    # It ends with the build live in production: swapped in, unless the same bundle was live already (the
    # blue/green tests may have left it so on this sandbox).
    swapped = f"swap of {built} to prod (slot " in out
    assert swapped or f"prod already runs {built}" in out
    assert out.count("\nsucceeded in ") == 3 + swapped
    # Production's idle slot was audited against the live one before the swap, and after it production's
    # pipeline ran once on the new release (the next rehearsal's audit processes that load again).
    assert "smoke-test" not in out or "audit of slot " in out
    assert not swapped or "succeeded on the new release" in out
    from tasks.repository import ENVIRONMENTS
    from toolkit.environments.model import load_environment
    from toolkit.environments.target import sandbox_target
    from toolkit.release.status import environment_status

    prod = environment_status(load_environment(ENVIRONMENTS, "prod", "sandbox"), sandbox_target(release_sandbox), None,
                              last=3)
    live = next(s for s in prod["slots"] if s["live"])
    assert (live["version"], live["bundle_digest"]) == (built, read_build_info(DIST)["bundle_digest"])
    assert f"rehearsal passed: version {built} released to qa (rh), staging and prod" in out

    # Again, on the same commit: production already runs this bundle, QA and staging passed it and nothing
    # changed. The only writes the sandbox sees are the environment lock's own (its lease and holder).
    reset_requests(release_sandbox)
    rehearse_tasks.rehearse(context, skip_tests=True, deployment_id="rh")
    again = capsys.readouterr().out
    assert again.count("; nothing to change") == 3, again
    assert f"prod already runs version {built} (bundle " in again and f"prod already runs {built}: no swap" in again
    made = requests_made(release_sandbox)
    writes = [w for w in made["write_requests"] if not is_lock_write(w)]
    assert writes == [], writes


def test_staging_hydrates_from_production_incrementally(release_sandbox, monkeypatch):
    """After the rehearsal both exist: a file landing in production's lake is copied into staging once."""
    from toolkit.azure import arm
    from toolkit.environments.model import load_environment
    from toolkit.environments.target import sandbox_target
    from tasks.repository import ENVIRONMENTS
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
