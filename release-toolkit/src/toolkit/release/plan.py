"""Plans, the steps that make them, and how a stage runs them."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from toolkit.release.errors import explain_error, full_text


class StepFailed(RuntimeError):
    """A step could not do its work; the message names the cause (never a secret)."""


class NotPlannable(Exception):
    """A dry run cannot plan this step because an earlier step would first create what it reads."""


@dataclass(frozen=True)
class Change:
    action: str  # create, update, delete, copy, upload, import, install, restart, start, stop, run, ...
    target: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action} {self.target}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    apply: Callable[[], None] | None = None  # performs exactly the changes; None when there are none
    notes: list[str] = field(default_factory=list)
    # What the step establishes for the steps after it (the idle slot, a cluster's id): known when planning, or
    # put here by ``apply`` (a cluster it creates). The runner hands it to the deployment; a plan only reads.
    learned: dict[str, str] = field(default_factory=dict)
    # Set when the stage has nothing left to do after this step (production already runs this very bundle): why.
    finished: str | None = None

    def add(self, action: str, target: str, detail: str = "") -> None:
        self.changes.append(Change(action, target, detail))


class Step(Protocol):
    name: str

    def plan(self, deployment) -> Plan: ...


@dataclass
class StepReport:
    step: str
    status: str  # unchanged, changed, planned, not-plannable, failed, interrupted
    changes: list[str]
    notes: list[str]
    seconds: float
    error: str | None = None


@dataclass
class StageReport:
    stage: str
    environment: str
    target: str
    version: str
    dry_run: bool
    steps: list[StepReport] = field(default_factory=list)
    outcome: str = "succeeded"  # or failed, interrupted
    error: str | None = None
    error_detail: str | None = None  # the failure's whole text (inner details), for --json and the ledger
    seconds: float = 0.0
    slot: str | None = None  # blue/green: the slot this stage wrote
    stopped_by: str | None = None  # the signal that interrupted the stage (SIGINT, SIGTERM)
    finished: str | None = None  # why the steps after one were not needed (see Plan.finished)

    @property
    def changed(self) -> bool:
        return any(s.status == "changed" for s in self.steps)


def run_steps(report: StageReport, steps: list[Step], deployment, dry_run: bool,
              say: Callable[[str], None]) -> StageReport:
    """Plan each step, print its plan, apply it unless ``dry_run``; stop at the first failure, at an interruption
    (SIGINT, SIGTERM: the step in progress is named), before a step when the environment lock was lost, or after a
    step whose plan says the stage is finished."""
    started = time.monotonic()
    for step in steps if report.outcome == "succeeded" and not report.finished else ():
        attempt = _Attempt(time.monotonic())
        try:
            if not _run_step(report, step, deployment, dry_run, say, attempt):
                break
        except KeyboardInterrupt as exc:  # wherever in the step it lands
            interrupt_step(report, step.name, attempt.phase, exc, attempt.started, say, attempt.changes)
            break
    report.seconds = round(time.monotonic() - started, 2)
    return report


@dataclass
class _Attempt:
    """Where a step is, for the line that says where an interruption stopped it."""
    started: float
    phase: str = "planning"
    changes: list[str] = field(default_factory=list)


def _run_step(report: StageReport, step: Step, deployment, dry_run: bool, say: Callable[[str], None],
              attempt: _Attempt) -> bool:
    """One step, planned then applied; False when the stage must stop here."""
    lost = lock_lost(deployment)
    if lost:
        fail_step(report, step.name, f"not started: {lost}; stopping so as not to run beside another holder",
                  attempt.started, say)
        return False
    say(f"[{step.name}] planning")
    try:
        plan = step.plan(deployment)
    except NotPlannable as exc:
        report.steps.append(StepReport(step.name, "not-plannable", [], [str(exc)], time.monotonic() - attempt.started))
        say(f"[{step.name}] cannot be planned yet: {exc}")
        return True
    except StepFailed as exc:
        fail_step(report, step.name, str(exc), attempt.started, say)
        return False
    except Exception as exc:  # a call failed: one line naming the cause, then stop
        fail_step(report, step.name, f"while planning: {explain_error(exc)}", attempt.started, say, detail=exc)
        return False
    attempt.changes = [str(c) for c in plan.changes]
    deployment.learn(plan.learned)
    for note in plan.notes:
        say(f"[{step.name}] note: {note}")
    for change in plan.changes:
        say(f"[{step.name}] {'would ' if dry_run else ''}{change}")
    if not plan.changes:
        say(f"[{step.name}] up to date")
    status = "unchanged" if not plan.changes else "planned" if dry_run else "changed"
    if plan.changes and not dry_run and plan.apply is not None:
        lost = lock_lost(deployment)  # planning may take minutes: checked again before the first write
        if lost:
            fail_step(report, step.name, f"not applied: {lost}; stopping so as not to run beside another holder",
                      attempt.started, say, attempt.changes)
            return False
        attempt.phase = "applying"
        try:
            plan.apply()
            deployment.learn(plan.learned)
        except StepFailed as exc:
            fail_step(report, step.name, str(exc), attempt.started, say, attempt.changes)
            return False
        except Exception as exc:
            fail_step(report, step.name, explain_error(exc), attempt.started, say, attempt.changes, detail=exc)
            return False
    attempt.phase = "finishing"
    if status == "changed":
        deployment.changed_steps.append(step.name)
    report.steps.append(StepReport(step.name, status, attempt.changes, plan.notes,
                                   round(time.monotonic() - attempt.started, 2)))
    say(f"[{step.name}] {status} in {time.monotonic() - attempt.started:.1f}s")
    if plan.finished:
        report.finished = plan.finished
        say(f"[{step.name}] {plan.finished}: the steps after it have nothing to do")
        return False
    return True


def lock_lost(deployment) -> str | None:
    """Why the environment lock this run held is no longer its own (None: held, or no lock taken)."""
    lock = getattr(deployment, "lock", None)
    return lock.lapsed() if lock is not None else None


def interrupt_step(report: StageReport, step: str, phase: str, exc: KeyboardInterrupt, started: float, say,
                   changes=None) -> None:
    """Record that a signal stopped the stage in ``step`` (while ``phase``)."""
    from toolkit.release.interruption import signal_name

    message = f"interrupted by {signal_name(exc)} while {phase}"
    if phase != "finishing":  # a step that had finished keeps its own report
        report.steps.append(StepReport(step, "interrupted", changes or [], [], round(time.monotonic() - started, 2),
                                       message))
    report.outcome, report.error = "interrupted", f"{step}: {message}"
    report.error_detail, report.stopped_by = report.error, signal_name(exc)
    say(f"[{step}] INTERRUPTED by {signal_name(exc)} while {phase}")


def fail_step(report: StageReport, step: str, message: str, started: float, say, changes=None,
              detail: BaseException | None = None) -> None:
    """Record a step's failure in one line (``detail``: the exception whose whole text goes to --json)."""
    report.steps.append(StepReport(step, "failed", changes or [], [], round(time.monotonic() - started, 2),
                                   message))
    report.outcome, report.error = "failed", f"{step}: {message}"
    report.error_detail = full_text(detail) if detail is not None else report.error
    say(f"[{step}] FAILED: {message}")
