"""The README's main command, run as a task against a sandbox of the tests' own (unit tests skipped:
the suite runs them itself): build, lint, publish, deploy-qa, deploy-staging, deploy-prod."""
from invoke import Config, Context

import toolkit.paths
from tasks import rehearse as rehearse_tasks
from toolkit.build.application import read_build_info
from toolkit.paths import DIST


def test_rehearse_releases_the_build_through_every_stage(release_sandbox, capsys, monkeypatch):
    monkeypatch.setattr(toolkit.paths, "SANDBOX_HOME", release_sandbox)
    context = Context(Config(overrides={"run": {"in_stream": False}}))
    rehearse_tasks.rehearse(context, skip_tests=True, deployment_id="rh")
    out = capsys.readouterr().out
    built = read_build_info(DIST)["version"]
    assert "lint: no findings" in out
    for stage, environment in (("deploy-qa", "qa"), ("deploy-staging", "staging"), ("deploy-prod", "prod")):
        assert f"{stage} of {built} to {environment} on the sandbox" in out
    assert out.count("\nsucceeded in ") == 3
    assert "integration-tests  changed" in out  # QA and staging ran the pipeline and the test notebook
    assert f"rehearsal passed: version {built} released to qa (rh), staging and prod" in out
