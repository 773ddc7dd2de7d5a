"""Plans, the steps that make them, and how a stage runs them.

A plan is data: each change says why (the fields that differ) and how many write requests it makes, per
service; the plan lists a fingerprint of every remote state it was computed from. A saved plan
(toolkit/release/saved_plan.py) is that data in a file, which a later run applies only while those
fingerprints still hold."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from toolkit.release.errors import explain_error, full_text

SERVICES = ("arm", "keyvault", "databricks", "storage")  # where a change's write requests go
_SHOWN_AS_IS = 80  # a fingerprint this short and plain is the value itself (a slot name, a version id)


class StepFailed(RuntimeError):
    """A step could not do its work; the message names the cause (never a secret)."""


class NotPlannable(Exception):
    """A dry run cannot plan this step because an earlier step would first create what it reads."""


def fingerprint(value: Any) -> str:
    """What a plan keeps of a remote state it read: a short plain value as is, else a digest of its canonical
    JSON. Never pass a secret's value: pass its version."""
    if isinstance(value, str) and len(value) <= _SHOWN_AS_IS and not value.startswith("sha256:"):
        return value
    if value is None:
        return "absent"
    text = json.dumps(_without_secure_strings(value), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _is_secure_string(value: Any) -> bool:
    """A Data Factory SecureString ({"type": "SecureString", "value": ...}): a secret inline in a definition."""
    return isinstance(value, dict) and value.get("type") == "SecureString"


def _without_secure_strings(value: Any) -> Any:
    """``value`` with every SecureString's value left out (Azure returns them masked anyway; a digest of a short
    secret could be reversed by trying candidates)."""
    if _is_secure_string(value):
        return {"type": "SecureString"}
    if isinstance(value, dict):
        return {k: _without_secure_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secure_strings(v) for v in value]
    return value


@dataclass(frozen=True)
class Difference:
    """Why a change is made: a field whose current value is not the desired one (a secret's, only that it
    differs)."""
    field: str
    current: Any = None
    desired: Any = None
    secret: bool = False

    def to_dict(self) -> dict:
        if self.secret:
            return {"field": self.field, "differs": True}
        return {"field": self.field, "current": _shown(self.current), "desired": _shown(self.desired)}


def _shown(value: Any) -> Any:
    """A value small enough for a plan a person reads (a large one by its digest)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return value if len(text) <= 200 else fingerprint(value)


def differences(current: Any, desired: Any, prefix: str = "") -> list[Difference]:
    """The leaf fields of ``desired`` that ``current`` does not have the same (keys only ``current`` has are the
    service's own additions, not differences); a SecureString's value only as differing."""
    if _is_secure_string(desired) or _is_secure_string(current):
        return [] if current == desired else [Difference(prefix or "(value)", secret=True)]
    if isinstance(current, dict) and isinstance(desired, dict):
        found = []
        for key in sorted(desired):
            found += differences(current.get(key), desired[key], f"{prefix}.{key}" if prefix else key)
        return found
    return [] if current == desired else [Difference(prefix or "(value)", current, desired)]


@dataclass(frozen=True)
class Change:
    action: str  # create, update, delete, copy, upload, import, install, restart, start, stop, run, ...
    target: str
    detail: str = ""
    writes: dict[str, int] = field(default_factory=dict)  # service -> write requests it makes
    reasons: tuple[Difference, ...] = ()

    def __str__(self) -> str:
        return f"{self.action} {self.target}" + (f" ({self.detail})" if self.detail else "")

    def to_dict(self) -> dict:
        return {"action": self.action, "target": self.target, "detail": self.detail,
                "writes": {k: v for k, v in sorted(self.writes.items()) if v},
                "reasons": [r.to_dict() for r in self.reasons]}


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
    # item -> fingerprint of every remote state the plan was computed from (see fingerprint()).
    reads: dict[str, str] = field(default_factory=dict)

    def add(self, action: str, target: str, detail: str = "", *, writes: dict[str, int],
            reasons: list[Difference] | tuple[Difference, ...] = ()) -> None:
        unknown = set(writes) - set(SERVICES)
        if unknown:
            raise ValueError(f"writes to unknown services {sorted(unknown)}: expected {SERVICES}")
        self.changes.append(Change(action, target, detail, dict(writes), tuple(reasons)))

    def read(self, item: str, state: Any) -> None:
        """Record a remote state this plan depends on (an applying run re-reads it and refuses if it changed)."""
        self.reads[item] = fingerprint(state)

    def to_dict(self) -> dict:
        return {"changes": [c.to_dict() for c in self.changes], "reads": dict(sorted(self.reads.items())),
                "notes": list(self.notes)}


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
    plan: dict | None = None  # the plan as data (Plan.to_dict(), or why it could not be made yet): saved plans


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
    expects: dict | None = None  # a dry run: what steps it could only plan "after" an earlier one rely on
    results: list[str] = field(default_factory=list)  # what the stage's tests found (integration, smoke)
    sections: list[str] = field(default_factory=list)  # Markdown blocks for the CI summary (the audit's report)
    audit: dict | None = None  # the audit the stage recorded (deploy-prod), as in the ledger

    @property
    def changed(self) -> bool:
        return any(s.status == "changed" for s in self.steps)


Guard = Callable[[str, "Plan"], "str | None"]  # (step, its fresh plan) -> why it may not be applied, or None


def run_steps(report: StageReport, steps: list[Step], deployment, dry_run: bool,
              say: Callable[[str], None], guard: Guard | None = None) -> StageReport:
    """Plan each step, print its plan, apply it unless ``dry_run``; stop at the first failure, at an interruption
    (SIGINT, SIGTERM: the step in progress is named), before a step when the environment lock was lost, after a
    step whose plan says the stage is finished, or before applying a plan ``guard`` refuses (an approved plan's
    check: toolkit/release/saved_plan.py)."""
    started = time.monotonic()
    for step in steps if report.outcome == "succeeded" and not report.finished else ():
        attempt = _Attempt(time.monotonic())
        try:
            if not _run_step(report, step, deployment, dry_run, say, attempt, guard):
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
              attempt: _Attempt, guard: Guard | None) -> bool:
    """One step, planned then applied; False when the stage must stop here."""
    lost = lock_lost(deployment)
    if lost:
        fail_step(report, step.name, f"not started: {lost}; stopping so as not to run beside another holder",
                  attempt.started, say)
        return False
    say(f"[{step.name}] planning")
    refused = guard(step.name, None) if guard is not None else None  # what it expects before planning
    if refused:
        fail_step(report, step.name, refused, attempt.started, say)
        return False
    try:
        plan = step.plan(deployment)
    except NotPlannable as exc:
        report.steps.append(StepReport(step.name, "not-plannable", [], [str(exc)], time.monotonic() - attempt.started,
                                       plan={"status": "after", "needs": str(exc)}))
        say(f"[{step.name}] cannot be planned yet: {exc}")
        return True
    except StepFailed as exc:
        fail_step(report, step.name, str(exc), attempt.started, say)
        return False
    except Exception as exc:  # a call failed: one line naming the cause, then stop
        fail_step(report, step.name, f"while planning: {explain_error(exc)}", attempt.started, say, detail=exc)
        return False
    attempt.changes = [str(c) for c in plan.changes]
    refused = guard(step.name, plan) if guard is not None else None
    if refused:
        fail_step(report, step.name, refused, attempt.started, say)
        return False
    deployment.learn(plan.learned)
    for note in plan.notes:
        say(f"[{step.name}] note: {note}")
    for change in plan.changes:
        say(f"[{step.name}] {'would ' if dry_run else ''}{change}")
    if not plan.changes:
        say(f"[{step.name}] up to date")
    status = "unchanged" if not plan.changes else "planned" if dry_run else "changed"
    planned = {"status": "planned" if plan.changes else "unchanged", **plan.to_dict()}
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
    if plan.changes:  # planned counts too: what a dry run plans after it (a smoke test) sees the change coming
        deployment.changed_steps.append(step.name)
    report.steps.append(StepReport(step.name, status, attempt.changes, plan.notes,
                                   round(time.monotonic() - attempt.started, 2), plan=planned))
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
