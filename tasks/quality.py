"""inv test, inv lint."""
from invoke import Exit, task


@task(help={
    "suite": "which tests: unit, contract, integration or all (default: all)",
    "k": "only tests whose name matches this pytest -k expression",
    "coverage": "measure coverage (default on; --no-coverage to skip)",
    "fail-under": "fail if total coverage is below this percent (default: 85 for the full suite, none for a subset)",
})
def test(c, suite="all", k=None, coverage=True, fail_under=None):
    """Run the tests with coverage; JUnit XML and Cobertura XML go to reports/ for CI."""
    from tasks.repository import REPORTS
    from toolkit.quality.testing import pytest_command

    try:
        command = pytest_command(suite, k, coverage, int(fail_under) if fail_under is not None else None, REPORTS)
    except ValueError as exc:
        raise Exit(str(exc), code=2)
    REPORTS.mkdir(exist_ok=True)
    c.run(" ".join(_quote(a) for a in command), pty=False)


@task
def lint(c):
    """flake8 over all Python (notebooks included), checks of the ADF and ARM definitions and of CI's task names."""
    from parking_release.collection import release_collection
    from tasks import ns
    from toolkit.definitions import check_definitions
    from tasks.repository import REPO_ROOT
    from toolkit.quality.ci_definitions import unknown_task_calls
    from toolkit.quality.lint import flake8_commands

    problems = [f"flake8 found problems in: {' '.join(cmd[3:])}" for cmd in flake8_commands()
                if c.run(" ".join(_quote(a) for a in cmd), warn=True).failed]
    problems += [str(finding) for finding in check_definitions(REPO_ROOT)]
    installed = release_collection()
    problems += [f"{call.file}: calls '{call.program} {call.task}', which is not a task" for call in
                 unknown_task_calls(REPO_ROOT, _names(ns), _names(installed))]
    if problems:
        raise Exit("lint failed:\n  " + "\n  ".join(problems), code=1)
    print("lint: no findings")


def _names(collection) -> list[str]:
    return [alias for name, aliases in collection.task_names.items() for alias in (name, *aliases)]


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
