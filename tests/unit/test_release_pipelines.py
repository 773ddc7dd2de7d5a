"""The release pipelines install the toolkit from the bundle of the version they release: no release job checks
out the repository or calls ./dev (Java, Spark, Node), and each runs the README's bootstrap commands (signature
and digests checked with openssl and sha256sum) before the first `parking-release` command."""
import re
import textwrap

import pytest
import yaml

from tasks.repository import REPO_ROOT

GITHUB = (".github/workflows/release.yml", ".github/workflows/release-stage.yml")
AZURE = (".azure-pipelines/release.yml", ".azure-pipelines/templates/release-stage-steps.yml")


def _readme_bootstrap() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    return re.search(r"<!-- bootstrap-verify:begin -->\n```bash\n(.*?)```\n<!-- bootstrap-verify:end -->", readme,
                     re.S).group(1)


def _steps(node):
    """Every step of a pipeline document (GitHub steps, Azure Pipelines steps, at any depth)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "steps" and isinstance(value, list):
                yield from (s for s in value if isinstance(s, dict))
            yield from _steps(value)
    elif isinstance(node, list):
        for item in node:
            yield from _steps(item)


def _script(step: dict) -> str:
    found = step.get("run") or step.get("bash") or step.get("script") or ""
    inputs = step.get("inputs") or {}
    return found + (inputs.get("inlineScript") or "")


def _bootstrap_in(script: str) -> str:
    found = re.search(r"# bootstrap-verify:begin\n(.*?)\n[ \t]*# bootstrap-verify:end", script, re.S)
    assert found, "no bootstrap-verify block"
    return textwrap.dedent(found.group(1)) + "\n"


@pytest.mark.parametrize("path", GITHUB + AZURE)
def test_no_release_job_checks_out_the_repository_or_runs_dev(path):
    document = yaml.safe_load((REPO_ROOT / path).read_text())
    for step in _steps(document):
        assert not str(step.get("uses", "")).startswith("actions/checkout"), f"{path}: a release job checks out"
        assert step.get("checkout", "none") == "none", f"{path}: checkout: {step['checkout']}"
        assert "./dev" not in _script(step) and "inv " not in _script(step), f"{path}: {_script(step)[:80]}"


@pytest.mark.parametrize("main, template", [GITHUB, AZURE])
def test_each_release_job_verifies_then_installs_the_bundles_toolkit_before_running_it(main, template):
    steps = list(_steps(yaml.safe_load((REPO_ROOT / template).read_text())))
    scripts = [_script(s) for s in steps]
    [verify] = [i for i, s in enumerate(scripts) if "bootstrap-verify:begin" in s]
    assert _bootstrap_in(scripts[verify]) == _readme_bootstrap()  # the README's commands, as tested there
    runs = [i for i, s in enumerate(scripts) if s.startswith("parking-release ")]
    assert runs and min(runs) > verify
    assert any("checkout" in s and s["checkout"] == "none" for s in steps) or template.startswith(".github")
    # The jobs of the release all go through that template, and name what they run.
    document = yaml.safe_load((REPO_ROOT / main).read_text())
    text = yaml.safe_dump(document)
    assert template.rsplit("/", 1)[-1] in text
    for task in ("deploy-qa", "qa-down", "deploy-staging", "deploy-prod", "swap"):
        assert re.search(rf"command: {task} |after: {task} ", text), f"{main} does not run {task}"


APPLIED = {"deploy-staging": "staging", "deploy-prod": "production", "swap": "swap"}


def test_github_applies_exactly_the_plan_each_approved_job_was_shown():
    """staging, production, swap: a plan job (no reviewers) uploads the plan and outputs its SHA-256; the approved
    job needs it, downloads that artifact and applies it with that hash."""
    jobs = yaml.safe_load((REPO_ROOT / GITHUB[0]).read_text())["jobs"]
    for task, job in APPLIED.items():
        plan, apply = jobs[f"{job}-plan"]["with"], jobs[job]["with"]
        assert plan["command"].startswith(f"{task} ") and "--plan-out plan/plan.json" in plan["command"]
        assert plan["plan-upload"] == apply["plan-download"] == f"{job}-plan"
        assert jobs[job]["needs"] == f"{job}-plan"
        assert apply["command"].startswith(f"{task} ") and "--version" not in apply["command"]
        assert f"--plan plan/plan.json --plan-sha256 ${{{{ needs.{job}-plan.outputs.plan_sha256 }}}}" in \
            apply["command"]
    stage = yaml.safe_load((REPO_ROOT / GITHUB[1]).read_text())  # YAML 1.1 reads the key `on` as True
    assert stage[True]["workflow_call"]["outputs"]["plan_sha256"]["value"] == "${{ jobs.run.outputs.plan_sha256 }}"


def test_azure_pipelines_asks_for_approval_after_the_plan_stage_and_applies_that_plan():
    stages = {s["stage"]: s for s in yaml.safe_load((REPO_ROOT / AZURE[0]).read_text())["stages"]}
    for task, job in APPLIED.items():
        name = {"staging": "Staging", "production": "Production", "swap": "Swap"}[job]
        plan, apply = stages[f"{name}Plan"], stages[name]
        plan_step = plan["jobs"][0]["steps"][0]["parameters"]
        assert "environment" not in plan["jobs"][0]  # no approval before the plan is made
        assert plan_step["command"].startswith(f"{task} ") and "--plan-out plan/plan.json" in plan_step["command"]
        deployment = apply["jobs"][0]
        applied = deployment["strategy"]["runOnce"]["deploy"]["steps"][0]["parameters"]
        assert deployment["environment"] and apply["dependsOn"] == f"{name}Plan"
        assert applied["planDownload"] == plan_step["planUpload"]
        assert '--plan plan/plan.json --plan-sha256 "$(PLAN_SHA256)"' in applied["command"]
        assert apply["variables"]["PLAN_SHA256"] == \
            f"$[ stageDependencies.{name}Plan.plan.outputs['plan.planSha256'] ]"
