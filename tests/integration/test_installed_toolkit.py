"""The release toolkit as a release job runs it: installed from a published bundle into a fresh virtual environment
(only after the README's bootstrap commands verified the bundle's signature and the toolkit's digests), with
nothing of the repository on its path, and run from a directory that is not a clone against the test sandbox."""
import json
import os
import re
import subprocess
import sys

import pytest

from tasks.repository import REPO_ROOT
from tests.integration.release_helpers import known_keys, record_evidence

# What listing the tasks must not load: the sandbox, its web server, Spark, and the cloud SDKs a task body loads.
HEAVY = ("sandbox", "werkzeug", "pyspark", "azure.mgmt", "databricks")


def _bootstrap_commands() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    return re.search(r"<!-- bootstrap-verify:begin -->\n```bash\n(.*?)```\n<!-- bootstrap-verify:end -->", readme,
                     re.S).group(1)


def _job_environment(**variables) -> dict:
    """The variables of a job on a machine with no clone: nothing of ./dev's (its PYTHONPATH would put the
    repository's sources before the installed toolkit)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**environment, **variables}


@pytest.fixture(scope="module")
def installed(published_bundle, release_sandbox, tmp_path_factory):
    """The toolkit of the published bundle, installed as the release pipelines install it: (venv, version)."""
    manifest, fetched, _ = published_bundle
    folder = tmp_path_factory.mktemp("installed-toolkit")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    release_key = next(k for k in known_keys(release_sandbox).keys if k.name == "release-signer")
    (folder / "release-signer.pem").write_text(release_key.public_key)
    [wheel] = [f.path for f in manifest.files if f.role == "toolkit"]
    done = subprocess.run(["bash", "-c", _bootstrap_commands()], capture_output=True, text=True, cwd=folder,
                          env=_job_environment(PATH=f"{venv / 'bin'}:{os.environ['PATH']}", BUNDLE=str(fetched),
                                               TRUSTED_KEY=str(folder / "release-signer.pem"),
                                               VERSION=manifest.version, WHEEL=wheel))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Verified OK" in done.stdout and f"{wheel}: OK" in done.stdout
    return venv, manifest.version


def _run(venv, *args, cwd, env, check=True):
    done = subprocess.run([str(venv / "bin" / "parking-release"), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=900)
    if check:
        assert done.returncode == 0, f"parking-release {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_installed_toolkit_has_no_spark_sandbox_or_web_server(installed):
    venv, version = installed
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, check=True, env=_job_environment())
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"parking-release", "invoke", "databricks-sdk", "azure-identity"} <= names
    assert not names & {"pyspark", "werkzeug", "pytest", "flake8", "parking-sensors"}
    for module in ("sandbox", "tasks", "toolkit.quality", "toolkit.local", "pyspark"):
        probe = subprocess.run([str(venv / "bin" / "python"), "-c", f"import {module}"], capture_output=True,
                               env=_job_environment(), cwd=venv)
        assert probe.returncode != 0, f"{module} is importable from the installed toolkit"
    shown = _run(venv, "--version", cwd=venv, env=_job_environment())
    assert version in shown.stdout


def test_listing_the_tasks_loads_no_sandbox_spark_or_cloud_sdk(installed, tmp_path):
    venv, _ = installed
    done = subprocess.run([str(venv / "bin" / "python"), "-X", "importtime", str(venv / "bin" / "parking-release"),
                           "--list"], capture_output=True, text=True, cwd=tmp_path, env=_job_environment())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "deploy-qa" in done.stdout and "ops.status" in done.stdout and "sandbox.up" not in done.stdout
    loaded = [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "parking_release.release" in loaded
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == []


def test_a_release_runs_from_the_installed_toolkit_outside_any_clone(installed, published_bundle, release_sandbox,
                                                                     tmp_path):
    """deploy-qa, deploy-prod, swap and the ops tasks, from the install alone: the environment files come from
    the bundle, the store and the sandbox from the job's variables."""
    from toolkit.artifacts.config import load_store_config
    from toolkit.artifacts.stores import open_store

    venv, version = installed
    manifest, _, config = published_bundle
    job = _job_environment(PARKING_SANDBOX_HOME=str(release_sandbox), PARKING_ARTIFACT_STORE=str(config))
    deployed = json.loads(_run(venv, "deploy-qa", "--version", version, "--deployment-id", "pkg", "--json",
                               cwd=tmp_path, env=job).stdout)
    assert deployed["outcome"] == "succeeded" and deployed["environment"] == "qa"
    assert (tmp_path / ".parking-release" / "fetched" / version / "environments" / "qa.toml").is_file()
    status = json.loads(_run(venv, "ops.status", "--env", "qa", "--deployment-id", "pkg", "--json",
                             cwd=tmp_path, env=job).stdout)
    deploys = [r for r in status["records"] if r["event"] == "deploy" and r["version"] == version]
    assert deploys and deploys[-1]["deployer"] == f"parking-release {version}"  # the deployer is the bundle's own

    store = open_store(load_store_config(config), config.parent)
    record_evidence(release_sandbox, store, manifest, "staging")  # as deploy-staging leaves it
    # --force: into the idle slot even if production runs this bundle already (as another test may have left it).
    # As a GitHub Actions step: the step summary gets the stage's table, the log a group per step.
    github = {**job, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md")}
    done = _run(venv, "deploy-prod", "--version", version, "--infra", "--force", "--json", cwd=tmp_path, env=github)
    prod = json.loads(done.stdout)
    assert prod["outcome"] == "succeeded", prod["error"]
    summary = (tmp_path / "step-summary.md").read_text()
    lines = summary.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Step | Status |"))
    table = lines[start:start + next(i for i, line in enumerate(lines[start:] + [""]) if not line.startswith("| "))]
    assert [row.split(" | ")[0][2:] for row in table[2:]] == [s["step"] for s in prod["steps"]]
    # The audit's report is in the summary too, as the ledger has it.
    assert f"### Audit of slot {prod['audit']['slot']}" in summary and prod["audit"]["outcome"] in summary
    assert "::group::infrastructure" in done.stderr and "::endgroup::" in done.stderr
    # The swap planned, then that plan applied: the approval's hash is checked first.
    planned = json.loads(_run(venv, "swap", "--plan-out", "swap-plan.json", "--json", cwd=tmp_path, env=job).stdout)
    assert planned["dry_run"] and planned["plan_file"]["file"] == "swap-plan.json"
    wrong = _run(venv, "swap", "--plan", "swap-plan.json", "--plan-sha256", "0" * 64, "--yes", cwd=tmp_path, env=job,
                 check=False)
    assert wrong.returncode == 1 and "not the approved" in wrong.stderr
    swapped = json.loads(_run(venv, "swap", "--plan", "swap-plan.json", "--plan-sha256",
                              planned["plan_file"]["sha256"], "--yes", "--json", cwd=tmp_path, env=job).stdout)
    assert swapped["outcome"] == "succeeded" and swapped["version"] == version
    assert swapped["applied_plan"]["sha256"] == planned["plan_file"]["sha256"]
    live = json.loads(_run(venv, "ops.status", "--env", "prod", "--json", cwd=tmp_path, env=job).stdout)
    assert [(s["version"], s["bundle_digest"]) for s in live["slots"] if s["live"]] == [(version, manifest.digest)]
    _run(venv, "qa-down", "--deployment-id", "pkg", "--version", version, "--yes", cwd=tmp_path, env=job)
