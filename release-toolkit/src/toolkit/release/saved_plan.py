"""Saved plans: a stage's (or a swap's) plan written as canonical JSON by ``--plan-out``, approved by its
SHA-256, and applied by ``--plan`` on another day, in another process.

The file holds the version, the bundle digest, the environment, the target and the options; each step's
changes with their reasons and the write requests they make; and a fingerprint of every remote state
each step read. Applying it:

1. refuses, before any call, a plan file whose hash is not the approved one, or a bundle, environment,
   target or task other than the plan's;
2. before the first write (under the environment lock, where there is one), plans every step again with
   reads only and refuses, with zero writes, when any fingerprint or change differs, naming each drifted item;
3. then runs the stage, and before each step's writes checks that its plan is still the approved one. A step
   the plan could only mark "after" an earlier step (it needs the names the infrastructure's outputs give)
   is applied only when those outputs are what the plan expected.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from toolkit.configuration import ConfigError
from toolkit.release.plan import Plan, StageReport, run_steps

FORMAT = "parking-release-plan/1"


def canonical(document: dict) -> bytes:
    """The one byte form of a plan: what is hashed, approved and applied."""
    return (json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stage_writes(report: StageReport) -> list[dict]:
    """The writes a stage makes besides its steps' (the ledger record of what it did; an ops change's steps record
    themselves)."""
    if report.stage in ("swap", "ops.rollback"):
        return [{"action": "record", "target": "the swap in the ledger", "writes": {"storage": 1}}]
    if report.stage.startswith("deploy-") and any((s.plan or {}).get("changes") or (s.plan or {}).get("status") ==
                                                  "after" for s in report.steps):
        return [{"action": "record", "target": "the deploy in the ledger", "writes": {"storage": 1}}]
    return []


def plan_document(report: StageReport, *, bundle_digest: str, options: dict[str, Any],
                  expects: dict[str, Any] | None = None, context: dict[str, Any] | None = None) -> dict:
    """A dry run's report as a saved plan. ``expects``: what steps marked "after" rely on (the names the
    infrastructure's outputs will give); ``context``: what the task checked besides the steps (a swap's slots)."""
    steps = [{"step": s.step, **(s.plan or {"status": s.status, "error": s.error})} for s in report.steps]
    totals: dict[str, int] = {}
    for change in [c for s in steps for c in s.get("changes", [])] + stage_writes(report):
        for service, count in change["writes"].items():
            totals[service] = totals.get(service, 0) + count
    return {"format": FORMAT, "task": report.stage, "environment": report.environment, "target": report.target,
            "version": report.version, "bundle_digest": bundle_digest, "options": options, "slot": report.slot,
            "finished": report.finished, "steps": steps, "stage_changes": stage_writes(report),
            "writes": dict(sorted(totals.items())),
            "expects": expects if any(s.get("status") == "after" for s in steps) else None,
            "context": context or {}}


def write_plan(path: Path, document: dict) -> str:
    """Write the plan; its SHA-256 (what an approval shows and ``--plan-sha256`` insists on)."""
    data = canonical(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256(data)


class PlanRefused(RuntimeError):
    """A saved plan that may not be applied: it is not the approved file, not for this bundle or environment,
    or what it was computed from changed. Nothing was written."""

    def __init__(self, source: str, reasons: list[str]):
        super().__init__(f"the plan {source} cannot be applied: {'; '.join(reasons)} (nothing was written; plan "
                         "again and have the new plan approved)")
        self.reasons = reasons


@dataclass(frozen=True)
class SavedPlan:
    document: dict
    sha256: str
    source: str  # the file, for messages

    @property
    def version(self) -> str:
        return self.document["version"]

    @property
    def bundle_digest(self) -> str:
        return self.document["bundle_digest"]

    @property
    def options(self) -> dict:
        return self.document["options"]

    def step(self, name: str) -> dict | None:
        return next((s for s in self.document["steps"] if s["step"] == name), None)

    def check(self, task: str, environment: str, target: str, version: str, bundle_digest: str) -> None:
        """Refuse a plan for another task, environment, target, version or bundle (before any call)."""
        wanted = {"task": task, "environment": environment, "target": target, "version": version,
                  "bundle_digest": bundle_digest}
        wrong = [f"it is for {k} {self.document.get(k)!r}, not {v!r}" for k, v in wanted.items()
                 if self.document.get(k) != v]
        if wrong:
            raise PlanRefused(self.source, wrong)

    def verify(self, steps: list, deployment, say: Callable[[str], None]) -> None:
        """Plan ``steps`` again with reads only and refuse (PlanRefused) when anything they read or would change
        differs from this plan: every drifted item is named. Steps the plan marked "after" are not compared."""
        fresh = StageReport(self.document["task"], self.document["environment"], self.document["target"],
                            self.version, True)
        say(f"[plan] re-reading what plan {self.sha256[:12]} was computed from")
        with planning_only(deployment):
            run_steps(fresh, steps, deployment, True, lambda line: None)
        drift = []
        for report in fresh.steps:
            saved = self.step(report.step)
            if report.status == "failed":
                drift.append(f"{report.step}: cannot be planned again: {report.error}")
            elif saved is None:
                drift.append(f"{report.step}: not in the plan")
            elif saved.get("status") != "after":
                drift += step_drift(report.step, saved, report.plan or {})
        ended = self.document.get("finished")
        ended_at = self.document["steps"][-1]["step"] if ended else None
        if fresh.finished != ended and (fresh.finished or ended_at in {step.name for step in steps}):
            drift.append(f"the stage would now end early: {fresh.finished}" if fresh.finished else
                         f"the stage would no longer end early ({ended})")
        if drift:
            raise PlanRefused(self.source, drift)
        say(f"[plan] {len(fresh.steps)} steps read the same state and make the same changes as the plan")

    def guard(self, deployment) -> Callable[[str, Plan | None], str | None]:
        """For run_steps: why a step may not be applied (None: it may). Called before a step is planned (a step
        the plan marked "after": are the infrastructure's outputs those the plan expected?) and with its plan (a
        step the plan computed: is it still the approved one?)."""
        def check(name: str, plan: Plan | None) -> str | None:
            saved = self.step(name)
            if saved is None:
                return "not in the approved plan"
            if saved.get("status") == "after":
                if plan is not None:
                    return None
                expected = (self.document.get("expects") or {}).get("outputs") or {}
                wrong = [f"{k} is {deployment.outputs[k]!r}, the plan expected {v!r}" for k, v in expected.items()
                         if k in deployment.outputs and str(deployment.outputs[k]).lower() != str(v).lower()]
                return f"the infrastructure's outputs differ from the plan's: {'; '.join(wrong)}" if wrong else None
            if plan is None:
                return None
            drift = change_drift(name, saved.get("changes", []), [c.to_dict() for c in plan.changes])
            return f"differs from the approved plan: {'; '.join(drift)}" if drift else None
        return check


def step_drift(step: str, saved: dict, fresh: dict) -> list[str]:
    """What differs between a step's saved plan and the same step planned now: each read item whose
    fingerprint changed, then the changes."""
    before, now = saved.get("reads", {}), fresh.get("reads", {})
    drift = [f"{item}: {before.get(item, 'not read')} -> {now.get(item, 'not read')}"
             for item in sorted(set(before) | set(now)) if before.get(item) != now.get(item)]
    if fresh.get("status") == "after":
        return drift + [f"{step}: could be planned before, not now ({fresh.get('needs')})"]
    return drift + change_drift(step, saved.get("changes", []), fresh.get("changes", []))


def change_drift(step: str, saved: list[dict], fresh: list[dict]) -> list[str]:
    if saved == fresh:
        return []
    described = [f"{c['action']} {c['target']}" for c in saved]
    now = [f"{c['action']} {c['target']}" for c in fresh]
    gone = [c for c in described if c not in now]
    new = [c for c in now if c not in described]
    if gone or new:
        return [f"{step}: " + "; ".join([f"no longer {c}" for c in gone] + [f"now also {c}" for c in new])]
    return [f"{step}: its changes' reasons or write counts differ"]


def read_plan(path: Path, approved_sha256: str | None = None) -> SavedPlan:
    """A saved plan, refused when it is not the approved file (``approved_sha256``) or not a plan."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the plan: {exc.strerror or exc}") from None
    digest = sha256(data)
    if approved_sha256 is not None and digest != approved_sha256.strip().lower():
        raise PlanRefused(str(path), [f"its SHA-256 is {digest}, not the approved {approved_sha256.strip()}"])
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a plan (invalid JSON: {exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a plan of this toolkit (format {FORMAT!r} expected)")
    if canonical(document) != data:
        raise PlanRefused(str(path), ["it was edited after it was written (it is not in its canonical form)"])
    return SavedPlan(document, digest, str(path))


@contextmanager
def planning_only(deployment) -> Iterator[None]:
    """The deployment in dry-run mode (reads only; what is not known yet is NotPlannable), then as it was."""
    dry_run, changed = deployment.options.dry_run, list(deployment.changed_steps)
    deployment.options.dry_run = True
    try:
        yield
    finally:
        deployment.options.dry_run = dry_run
        deployment.changed_steps[:] = changed
