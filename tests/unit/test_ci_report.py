"""Reports where CI users look: the host from its standard variables, the summary as a valid Markdown table of the
steps, log groups per step and one error annotation, for GitHub Actions and Azure Pipelines."""
import io
import re

from toolkit.release.ci_report import CiReporter, host, summary_markdown
from toolkit.release.plan import StageReport, StepReport


def _report(outcome="succeeded"):
    report = StageReport("deploy-prod", "prod", "sandbox", "1.2.3", False, slot="green", outcome=outcome)
    report.steps = [StepReport("slot", "unchanged", [], [], 0.4, plan={"changes": []}),
                    StepReport("application", "changed", ["import 12 notebooks (to /x|y)"], [], 3.25,
                               plan={"changes": [{"writes": {"databricks": 13}}]})]
    if outcome != "succeeded":
        report.steps.append(StepReport("smoke-test", "failed", [], [], 1.0, "the run\nended FAILED"))
        report.error = "smoke-test: the run\nended FAILED"
    report.results = ["smoke test of slot green passed: version 1.2.3"]
    return report


def _table(markdown: str) -> list[list[str]]:
    """The rows of the first table, split on unescaped pipes; every row must have the header's cell count."""
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]
    assert all(len(r) == len(cells[0]) for r in cells), cells
    assert all(re.fullmatch(r"-{3,}", c) for c in cells[1])  # the delimiter row
    return cells


def test_the_host_is_recognised_by_its_standard_variables():
    assert host({"GITHUB_ACTIONS": "true"}) == "github" and host({"TF_BUILD": "True"}) == "azure-pipelines"
    assert host({}) is None and host({"CI": "true"}) is None


def test_the_summary_is_a_markdown_table_of_the_steps_with_the_plan_and_the_tests():
    text = summary_markdown(_report(), {"sha256": "ab" * 32, "file": "p.json", "how": "applied from"})
    rows = _table(text)
    assert rows[0] == ["Step", "Status", "Changes", "Write requests", "Seconds"]
    assert rows[2:] == [["slot", "unchanged", "0", "0", "0.4"], ["application", "changed", "1", "13", "3.2"]]
    assert "import 12 notebooks (to /x\\|y)" in text and f"Plan `{'ab' * 32}` (applied from p.json)" in text
    assert "Tests: smoke test of slot green passed" in text


def test_under_github_actions_the_summary_file_gets_the_table_and_a_failure_one_annotation(tmp_path):
    summary = tmp_path / "step-summary.md"
    out = io.StringIO()
    ci = CiReporter("github", {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}, out)
    said = []
    say = ci.wrap(said.append)
    for line in ("[slot] planning", "[slot] up to date", "[application] planning", "[application] import"):
        say(line)
    ci.publish(_report("failed"), tmp_path / "reports")
    assert _table(summary.read_text())[2][0] == "slot" and said[0] == "[slot] planning"
    lines = out.getvalue().splitlines()
    assert lines[:4] == ["::group::slot", "::endgroup::", "::group::application", "::endgroup::"]
    errors = [line for line in lines if line.startswith("::error")]
    assert errors == ["::error title=deploy-prod failed at smoke-test::smoke-test: the run%0Aended FAILED"]


def test_under_azure_pipelines_the_summary_is_uploaded_and_with_json_only_named(tmp_path, capsys):
    out = io.StringIO()
    ci = CiReporter("azure-pipelines", {"TF_BUILD": "True"}, out)
    ci.wrap(lambda line: None)("[slot] planning")
    ci.publish(_report("failed"), tmp_path)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["##[group]slot", "##[endgroup]"]
    assert lines[2] == "##vso[task.logissue type=error]deploy-prod failed at smoke-test: smoke-test: the run%0Aended " \
                       "FAILED"
    uploaded = lines[3].removeprefix("##vso[task.uploadsummary]")
    assert lines[3].startswith("##vso[task.uploadsummary]/") and _table(open(uploaded).read())[2][0] == "slot"
    quiet = CiReporter.for_task(True, {"TF_BUILD": "True"})  # --json: stdout is the report's
    assert not quiet.attaches_summaries and quiet.publish(_report(), tmp_path).is_file()
    assert "not attached" in capsys.readouterr().err
