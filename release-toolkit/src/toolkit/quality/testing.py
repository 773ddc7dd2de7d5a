"""The pytest command line of ``inv test``: suites, coverage and reports for CI."""
from __future__ import annotations

import sys
from pathlib import Path

SUITES = {"unit": "tests/unit", "contract": "tests/contract", "integration": "tests/integration", "all": "tests"}
COVERED = ("src/parking_sensors", "tasks", "release-toolkit/src", "sandbox")
# Measured on the full suite; a subset is not held to it unless asked (see pytest_command).
FAIL_UNDER = 85


def pytest_command(suite: str = "all", keyword: str | None = None, coverage: bool = True,
                   fail_under: int | None = None, reports: Path = Path("reports"),
                   extra: tuple[str, ...] = ()) -> list[str]:
    """The command that runs ``suite``; JUnit XML and Cobertura XML land in ``reports``."""
    if suite not in SUITES:
        raise ValueError(f"unknown test suite {suite!r}: expected one of {', '.join(SUITES)}")
    command = [sys.executable, "-m", "pytest", SUITES[suite], f"--junitxml={reports / 'junit.xml'}"]
    if keyword:
        command += ["-k", keyword]
    if coverage:
        command += [f"--cov={c}" for c in COVERED]
        command += ["--cov-report=term", f"--cov-report=xml:{reports / 'coverage.xml'}"]
        threshold = fail_under if fail_under is not None else (FAIL_UNDER if suite == "all" and not keyword else 0)
        command.append(f"--cov-fail-under={threshold}")
    return [*command, *extra]
