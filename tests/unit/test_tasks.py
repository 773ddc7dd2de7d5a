"""The invoke tasks: thin, listed fast, with help, and wired to the library."""
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Context, Exit, MockContext, Result

import tasks
from tasks import build as build_module
from tasks import quality as quality_tasks
from toolkit.quality.ci_definitions import task_calls, tasks_called, unknown_task_calls

REPO = Path(__file__).resolve().parents[2]


def _in(root):
    """An invoke context working from ``root`` as its clone (what --root and parking.root give)."""
    from invoke import Config

    return MockContext(config=Config(overrides={"parking": {"root": str(root)}}))


EXPECTED = {"build", "test", "lint", "rehearse", "publish", "fetch", "verify", "ops.versions", "sandbox.up",
            "sandbox.status", "sandbox.down", "sandbox.reset", "deploy-qa", "deploy-staging", "deploy-prod", "qa-down",
            "ops.status", "swap", "ops.rollback", "ops.triggers", "ops.restart-cluster", "ops.unlock",
            "ops.rerun", "ops.rotate-secret"}


def test_the_collection_has_every_task_with_a_docstring():
    names = set(tasks.ns.task_names)
    assert EXPECTED <= names
    for name in names:
        assert tasks.ns[name].__doc__, f"task {name} has no one-line description"


def test_listing_tasks_loads_no_heavy_library():
    code = ("import sys, tasks; heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('pyspark', 'databricks', 'azure', 'toolkit', 'sandbox', 'parking_sensors')]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_inv_list_and_help_work():
    listed = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=REPO, capture_output=True, text=True)
    assert listed.returncode == 0 and all(name in listed.stdout for name in EXPECTED)
    helped = subprocess.run([sys.executable, "-m", "invoke", "--help", "test"], cwd=REPO, capture_output=True,
                            text=True)
    assert "--suite" in helped.stdout and "--fail-under" in helped.stdout


def test_test_task_runs_pytest_with_reports_and_the_threshold():
    c = MockContext(run=Result(exited=0))
    quality_tasks.test(c)
    command = c.run.call_args[0][0]
    assert " -m pytest tests " in command and "--junitxml=" in command and "coverage.xml" in command
    assert "--cov-fail-under=85" in command


def test_test_task_subset_and_keyword():
    c = MockContext(run=Result(exited=0))
    quality_tasks.test(c, suite="unit", k="standardize", coverage=False)
    command = c.run.call_args[0][0]
    assert "tests/unit" in command and "-k standardize" in command and "--cov" not in command


def test_test_task_rejects_an_unknown_suite():
    with pytest.raises(Exit, match="unknown test suite 'smoke': expected one of unit, contract, integration, all"):
        quality_tasks.test(MockContext(run=Result(exited=0)), suite="smoke")


def test_lint_runs_code_and_notebooks_and_fails_on_findings():
    c = MockContext(run=[Result(exited=0), Result(exited=1)])
    with pytest.raises(Exit, match="flake8 found problems in: --builtins=spark,dbutils,display notebooks"):
        quality_tasks.lint(c)


def test_lint_passes_when_flake8_is_clean(capsys):
    quality_tasks.lint(MockContext(run=[Result(exited=0), Result(exited=0)]))
    assert "no findings" in capsys.readouterr().out


def test_build_task_reports_library_errors_as_one_line(monkeypatch):
    from toolkit.build import application
    from toolkit.build.version import VersionError

    def fail(*_):
        raise VersionError("/x is not a git work tree: the build version is derived from git")
    monkeypatch.setattr(application, "build_application", fail)
    with pytest.raises(Exit, match="build failed: /x is not a git work tree"):
        build_module.build(Context())


@pytest.mark.parametrize("script, names", [
    ("./dev inv build", [("inv", "build")]),
    ("./dev inv build --json && inv test --suite unit", [("inv", "build"), ("inv", "test")]),
    ("echo hi # inv nothing", []),
    ("invoke -e lint", [("inv", "lint")]),
    ("parking-release --root . deploy-qa --json", [("parking-release", "deploy-qa")]),
    ("parking-release deploy-qa --version \"$V\"", [("parking-release", "deploy-qa")]),
    ("parking-release ${{ inputs.command }}", []),
    ("sed -n 's|\\(x\\)|\\1|p' f | openssl base64 -d", []),
])
def test_task_names_are_read_from_scripts(script, names):
    assert tasks_called(script) == names


def test_every_pipeline_calls_only_existing_tasks():
    from parking_release.collection import release_collection

    calls = task_calls(REPO)
    assert {c.file for c in calls} >= {".azure-pipelines/build-qa.yml", ".azure-pipelines/build-artifacts.yml",
                                       ".github/workflows/build-qa.yml", ".github/workflows/build-artifacts.yml",
                                       ".azure-pipelines/release.yml", ".github/workflows/release.yml"}
    assert unknown_task_calls(REPO, tasks.ns.task_names, release_collection().task_names) == []


def test_a_pipeline_naming_a_missing_task_is_caught(tmp_path):
    from parking_release.collection import release_collection

    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    workflow = ("jobs:\n  a:\n    steps:\n      - run: ./dev inv deploy-moon\n      - run: parking-release build\n"
                "  b:\n    uses: ./.github/workflows/stage.yml\n    with:\n      command: deploy-mars --json\n")
    (tmp_path / ".github" / "workflows" / "x.yml").write_text(workflow)
    found = unknown_task_calls(tmp_path, tasks.ns.task_names, release_collection().task_names)
    assert [(c.file, c.program, c.task) for c in found] == [
        (".github/workflows/x.yml", "inv", "deploy-moon"),
        (".github/workflows/x.yml", "parking-release", "build"),  # a clone's task: not in the installed toolkit
        (".github/workflows/x.yml", "parking-release", "deploy-mars")]


def test_sandbox_reset_asks_first_and_yes_skips_the_question(monkeypatch, capsys):
    import sandbox.lifecycle
    from tasks import local_cloud

    wiped = []
    monkeypatch.setattr(sandbox.lifecycle, "reset", lambda home: wiped.append(home))
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(Exit, match="reset cancelled"):
        local_cloud.reset(Context())
    assert wiped == []
    local_cloud.reset(Context(), yes=True)
    assert len(wiped) == 1 and "no process running, no state left" in capsys.readouterr().out


def test_sandbox_status_prints_each_service_and_its_endpoint(monkeypatch, capsys, tmp_path):
    from tasks import local_cloud

    monkeypatch.setenv("PARKING_SANDBOX_HOME", str(tmp_path))
    local_cloud.status(Context())
    out = capsys.readouterr().out
    assert "storage (Azurite)  stopped" in out and "control plane      stopped" in out
    local_cloud.status(Context(), json_=True)
    assert '"running": false' in capsys.readouterr().out


def test_sandbox_up_reports_a_failure_in_one_line(monkeypatch):
    import sandbox.lifecycle
    from tasks import local_cloud

    def fail(home, repo):
        raise sandbox.lifecycle.SandboxError("azurite exited with code 1 before listening on 127.0.0.1:1")
    monkeypatch.setattr(sandbox.lifecycle, "up", fail)
    with pytest.raises(Exit, match="sandbox up failed: azurite exited with code 1"):
        local_cloud.up(Context())


def _empty_store(tmp_path):
    config = tmp_path / "store.toml"
    config.write_text(f'kind = "local"\npath = "{tmp_path / "store"}"\n')
    return str(config)


def test_deploying_an_unknown_version_fails_in_one_line_before_any_cloud_call(tmp_path, monkeypatch):
    from parking_release import release

    monkeypatch.setattr(release, "target_for", lambda *a: pytest.fail("no target may be reached"))
    with pytest.raises(Exit) as raised:
        release.deploy_qa(MockContext(), version="9.9.9", deployment_id="x1", store_config=_empty_store(tmp_path))
    assert str(raised.value.message).startswith("deploy-qa failed: version 9.9.9 is not published in local folder")
    assert "\n" not in raised.value.message and raised.value.code == 1


def test_a_bad_environment_file_in_the_bundle_fails_the_stage_naming_file_and_key(tmp_path, monkeypatch):
    from parking_release import release
    from tests.signing_helpers import LocalSigner
    from tests.unit.test_bundle import make_bundle
    from toolkit.artifacts.publish import publish
    from toolkit.artifacts.stores import LocalStore
    from toolkit.signing.trusted_keys import EnvironmentTrust, render

    text = (tasks.repository.ENVIRONMENTS / "staging.toml").read_text()
    bad = text.replace('lake_container = "datalake"', 'lake_container = "Data Lake"').encode()
    make_bundle(tmp_path / "bundle", {"environments/staging.toml": ("environment", bad),
                                      "notebooks/01_standardize.py": ("notebook", b"# Databricks notebook source\n")})
    signer = LocalSigner()
    publish(tmp_path / "bundle", LocalStore(tmp_path / "store"), signer, show_progress=False)
    keys = tmp_path / "trusted-keys.toml"
    keys.write_text(render([signer.trusted_key()], {"staging": EnvironmentTrust(bundles=["release-signer"])}))
    monkeypatch.setenv("PARKING_TRUSTED_KEYS", str(keys))
    monkeypatch.setattr(release, "target_for", lambda *a: pytest.fail("no target may be reached"))
    monkeypatch.chdir(tmp_path)  # no clone: the fetched bundle goes to .parking-release/
    with pytest.raises(Exit) as raised:
        release.deploy_staging(MockContext(), version="1.0.0", store_config=_empty_store(tmp_path))
    assert raised.value.code == 2
    assert "fetched/1.0.0/environments/staging.toml: databricks.lake_container: " in raised.value.message


def test_an_unknown_target_is_refused():
    from parking_release import common

    with pytest.raises(Exit, match="unknown target 'prod-azure': expected sandbox or azure"):
        common.target_for("prod-azure", None)


def test_an_unknown_target_is_named_before_any_environment_variable_is_asked_for(monkeypatch, tmp_path):
    from parking_release import release

    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    with pytest.raises(Exit) as raised:
        release.deploy_qa(MockContext(), version="1.0.0", target="aws", store_config=_empty_store(tmp_path))
    assert raised.value.code == 2 and raised.value.message == "deploy-qa failed: unknown target 'aws': expected " \
                                                              "sandbox or azure"


def test_an_empty_version_is_refused_not_read_as_the_last_build(tmp_path, capsys):
    from parking_release import artifacts, release

    with pytest.raises(Exit, match="deploy-prod failed: --version is empty") as raised:
        release.deploy_prod(MockContext(), version="", store_config=_empty_store(tmp_path))
    assert raised.value.code == 2
    with pytest.raises(Exit, match="fetch failed: the version is empty") as raised:
        artifacts.fetch(MockContext(), " ", store_config=_empty_store(tmp_path))
    assert raised.value.code == 2


def test_with_json_a_refusal_is_a_document_on_stdout(monkeypatch, tmp_path, capsys):
    import json

    from parking_release import release
    from toolkit.release.swap import SwapRefused

    def refuse(*args, **kwargs):
        raise SwapRefused("prod", "green", ["green has not passed its smoke test"])
    monkeypatch.setattr(release, "known_keys", lambda *a: object())
    monkeypatch.setattr(release, "deployed", lambda *a, **k: (object(), object()))
    monkeypatch.setattr("toolkit.release.swap.plan_swap", refuse)
    refusal = "swap of prod to slot green refused: green has not passed its smoke test (nothing was changed; " \
              "--force overrides, and is recorded)"
    with pytest.raises(Exit) as raised:
        release.swap(MockContext(), yes=True, json_=True, store_config=_empty_store(tmp_path))
    assert raised.value.code == 1 and raised.value.message == f"swap failed: {refusal}"
    assert json.loads(capsys.readouterr().out) == {"task": "swap", "outcome": "failed", "error": refusal}


def _report(outcome, statuses, stopped_by=None):
    from toolkit.release.plan import StageReport, StepReport

    report = StageReport("deploy-qa", "qa", "sandbox", "1.0.0", False, outcome=outcome, seconds=5.0,
                         stopped_by=stopped_by)
    report.steps = [StepReport(step, status, ["x"] if status != "unchanged" else [], [], 1.0)
                    for step, status in statuses]
    report.error = next((f"{s}: it broke" for s, status in statuses if status in ("failed", "interrupted")), None)
    return report


def test_a_stage_that_did_not_succeed_says_where_it_stopped_and_what_it_changed_before(capsys):
    from parking_release import release

    with pytest.raises(Exit, match="deploy-qa failed: secrets: it broke") as raised:
        release._report(_report("failed", [("infrastructure", "changed"), ("secrets", "failed")]), False)
    assert raised.value.code == 1
    assert capsys.readouterr().out.splitlines()[-1] == "failed in 5.0s at secrets; changed: infrastructure before it"
    with pytest.raises(Exit) as raised:
        release._report(_report("interrupted", [("infrastructure", "unchanged"), ("application", "interrupted")],
                                "SIGTERM"), False)
    assert raised.value.code == 143 and "running it again finishes the rest" in raised.value.message
    assert capsys.readouterr().out.splitlines()[-1] == "interrupted in 5.0s at application; nothing changed before it"


def test_publishing_a_dirty_build_warns(monkeypatch, tmp_path, capsys):
    import json

    from parking_release import artifacts
    from tests.unit.test_bundle import make_bundle

    version = "0.1.1.dev3+gabcdef123456.dirty0123456789ab"
    (tmp_path / "dist" / "bundle" / version).mkdir(parents=True)
    make_bundle(tmp_path / "dist" / "bundle" / version, version=version)
    (tmp_path / "dist" / "build-info.json").write_text(json.dumps({"version": version}))
    (tmp_path / "environments").mkdir()
    from tests.signing_helpers import LocalSigner

    monkeypatch.setattr(artifacts, "_signer", lambda *a: LocalSigner())  # no vault in a unit test
    artifacts.publish(_in(tmp_path), store_config=_empty_store(tmp_path))
    assert f"warning: {version} was built from a working tree with uncommitted changes" in capsys.readouterr().err


def test_the_deployment_id_comes_from_ci_when_not_given(monkeypatch):
    from parking_release import release

    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)
    monkeypatch.setenv("BUILD_BUILDID", "20261126.7")
    assert release._deployment_id(None) == "202611267" and release._deployment_id("mine") == "mine"
    monkeypatch.delenv("BUILD_BUILDID")
    assert release._deployment_id(None) == "local"


def test_a_destructive_ops_task_asks_first_and_does_nothing_unless_confirmed(monkeypatch):
    from parking_release import operations as ops

    monkeypatch.setattr(ops, "deployed", lambda *a: pytest.fail("nothing may be reached before the answer"))
    monkeypatch.setattr("builtins.input", lambda question: "n")
    for call in (lambda: ops.restart_cluster(MockContext(), env="prod", slot="blue"),
                 lambda: ops.rotate_secret(MockContext(), env="prod", name="databricksToken"),
                 lambda: ops.triggers(MockContext(), env="prod", action="stop")):
        with pytest.raises(Exit, match="not confirmed: nothing changed"):
            call()


def test_ops_triggers_names_a_wrong_action():
    from parking_release import operations as ops

    with pytest.raises(Exit, match="action must be start or stop, not 'pause'") as raised:
        ops.triggers(MockContext(), env="prod", action="pause")
    assert raised.value.code == 2
