"""Reports where CI users look: a stage's (or a swap's) Markdown summary, collapsible log groups per step, and one
error annotation naming the failed step and its cause, for GitHub Actions and Azure Pipelines.

The host is recognised by its standard variables: ``GITHUB_ACTIONS=true`` (the summary is appended to the file
``$GITHUB_STEP_SUMMARY`` names; commands are ``::group::``, ``::endgroup::``, ``::error``) and ``TF_BUILD=True``
(the summary is a file attached by ``##vso[task.uploadsummary]``; commands are ``##[group]``, ``##[endgroup]``,
``##vso[task.logissue type=error]``). Commands go to standard output, where both runners read them. With
``--json`` standard output is the document a script parses: GitHub's commands then go to standard error, which its
runner reads too; Azure Pipelines reads only standard output, so there the summary file is written and named on
standard error instead of attached.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TextIO

_STEP_START = re.compile(r"^\[([\w.-]+)\] planning$")


def host(environ: Mapping[str, str] = os.environ) -> str | None:
    """'github', 'azure-pipelines' or None (not under a CI host this toolkit reports to)."""
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if environ.get("TF_BUILD", "").lower() == "true":
        return "azure-pipelines"
    return None


def _cell(value) -> str:
    """A table cell: one line, its pipes escaped (GitHub-flavoured Markdown)."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def summary_markdown(report, plan: dict | None = None) -> str:
    """A stage's or a swap's report as Markdown: a title with the outcome, a table of the steps, their changes, the
    plan's hash, what the tests found, the live slot after a swap, and the failure."""
    into = f" (slot {report.slot})" if getattr(report, "slot", None) else ""
    mode = " (plan only: nothing written)" if report.dry_run else ""
    lines = [f"### {report.stage} of {report.version} to {report.environment}{into} on the {report.target}{mode}: "
             f"{report.outcome}", "", "| Step | Status | Changes | Write requests | Seconds |",
             "| --- | --- | --- | --- | --- |"]
    for step in report.steps:
        writes = sum(n for c in (step.plan or {}).get("changes", []) for n in c.get("writes", {}).values())
        lines.append(f"| {_cell(step.step)} | {_cell(step.status)} | {len(step.changes)} | {writes} | "
                     f"{step.seconds:.1f} |")
    changes = [(s.step, c) for s in report.steps for c in s.changes]
    if changes:
        lines += ["", "<details><summary>Changes</summary>", ""]
        lines += [f"- **{_cell(step)}**: {_cell(change)}" for step, change in changes]
        lines += ["", "</details>"]
    if plan:
        lines += ["", f"Plan `{plan['sha256']}` ({plan['how']} {plan['file']})"]
    for result in getattr(report, "results", []) or []:
        lines += ["", f"Tests: {_cell(result)}"]
    for section in getattr(report, "sections", []) or []:
        lines += ["", section.rstrip("\n")]
    if getattr(report, "to_slot", None) and not report.dry_run and report.outcome == "succeeded":
        lines += ["", f"Live slot after the swap: **{report.to_slot}** (version {report.version}); slot "
                      f"{report.from_slot or '(none)'} is idle"]
    if report.finished:
        lines += ["", f"Nothing left to do: {_cell(report.finished)}"]
    if report.outcome != "succeeded":
        lines += ["", f"**{report.outcome.capitalize()}**: {_cell(report.error)}"]
    return "\n".join(lines) + "\n"


def _github_escape(text: str, property_: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_ else text


def _azure_escape(text: str, property_: bool = False) -> str:
    text = text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(";", "%3B").replace("]", "%5D") if property_ else text


@dataclass
class CiReporter:
    """What a task writes for its CI host (``kind`` None: nothing)."""
    kind: str | None
    environ: Mapping[str, str]
    commands: TextIO  # where the host reads commands
    json_: bool = False  # standard output is the task's --json document
    notes: TextIO | None = None  # where the task says what it did with the summary (None: standard error)
    _group: str | None = None

    @classmethod
    def for_task(cls, json_: bool, environ: Mapping[str, str] = os.environ) -> "CiReporter":
        kind = host(environ)
        return cls(kind, environ, sys.stderr if json_ else sys.stdout, json_)

    @property
    def attaches_summaries(self) -> bool:
        """Whether the host takes the summary (Azure Pipelines' upload command needs standard output)."""
        return self.kind == "github" or (self.kind == "azure-pipelines" and not self.json_)

    def wrap(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """``say`` with each step's lines in a collapsible group (a step starts with its '[step] planning' line)."""
        if self.kind is None:
            return say

        def grouped(line: str) -> None:
            started = _STEP_START.match(line)
            if started:
                self.end_group()
                self._group = started.group(1)
                self._print(f"::group::{self._group}" if self.kind == "github" else f"##[group]{self._group}")
            say(line)
        return grouped

    def end_group(self) -> None:
        if self._group is not None:
            self._print("::endgroup::" if self.kind == "github" else "##[endgroup]")
            self._group = None

    def error(self, title: str, message: str) -> None:
        """One error annotation: ``title`` names the task and the failed step; ``message`` the cause."""
        self.end_group()
        if self.kind == "github":
            self._print(f"::error title={_github_escape(title, True)}::{_github_escape(message)}")
        elif self.kind == "azure-pipelines":
            self._print(f"##vso[task.logissue type=error]{_azure_escape(f'{title}: {message}')}")

    def publish(self, report, reports: Path, plan: dict | None = None) -> Path | None:
        """The report's Markdown summary where the host shows it, and its error annotation if it failed; the
        summary file written (None when not under a CI host)."""
        self.end_group()
        if self.kind is None:
            return None
        if report.outcome != "succeeded":
            failed = next((s.step for s in report.steps if s.status in ("failed", "interrupted")), None)
            self.error(f"{report.stage} {report.outcome}" + (f" at {failed}" if failed else ""),
                       report.error or report.outcome)
        text = summary_markdown(report, plan)
        if self.kind == "github" and self.environ.get("GITHUB_STEP_SUMMARY"):
            path = Path(self.environ["GITHUB_STEP_SUMMARY"])
            with path.open("a", encoding="utf-8") as summary:
                summary.write(text + "\n")
            return path
        reports.mkdir(parents=True, exist_ok=True)
        path = (reports / f"{report.stage}-{report.environment}-summary.md").resolve()
        path.write_text(text, encoding="utf-8")
        if self.attaches_summaries:
            self._print(f"##vso[task.uploadsummary]{path}")
        else:
            print(f"summary: {path} (--json keeps standard output for the report, so it is not attached)",
                  file=self.notes or sys.stderr)
        return path

    def _print(self, line: str) -> None:
        print(line, file=self.commands, flush=True)
