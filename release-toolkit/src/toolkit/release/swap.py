"""`inv swap`: make the idle slot of a blue/green environment live. The checks come first and write
nothing: the idle slot holds a complete release, its smoke test passed after its last deploy, its audit (where
the environment has [audit]) found no breach, and its version passed the environments the promotion rule names
(``--force`` overrides, and is recorded).
Then, under the environment lock, the Data Factory step of the slot's own version runs with the slot's
root and cluster: triggers the change touches are stopped, any definition that differs is written,
and the pointer (the notebookRoot and clusterId global parameters) flips in one PUT of the factory,
before the triggers are restored. ADF resolves global parameters when a run starts, so runs in flight
finish on the slot they started on; the old slot is left intact, and swapping again rolls back."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from toolkit.azure.datafactory import Factory
from toolkit.bundle.signature import verify_folder
from toolkit.environments.model import Environment, load_environment
from toolkit.environments.target import Target
from toolkit.release import ledger
from toolkit.release.deployment import Deployment, Options, open_deployed
from toolkit.release.drift import Scope, state_record
from toolkit.release.lock import LockHeld
from toolkit.release.plan import StageReport, run_steps
from toolkit.release.promotion import promotion_gaps
from toolkit.release.saved_plan import PlanRefused, SavedPlan
from toolkit.release.slots import Slot, live_slot, pointer, read_slots
from toolkit.release.steps.audit import swap_refusals as audit_refusals
from toolkit.release.steps.datafactory import DataFactory
from toolkit.release.steps.smoke_test import EVENT as SMOKE_TEST
from toolkit.signing.trusted_keys import KnownKeys, Trust

EVENT = "swap"


class SwapRefused(RuntimeError):
    def __init__(self, environment: str, target_slot: str | None, reasons: list[str], forceable: bool = True):
        override = "; --force overrides, and is recorded" if forceable else ""
        into = f" to slot {target_slot}" if target_slot else ""
        super().__init__(f"swap of {environment}{into} refused: {'; '.join(reasons)} (nothing was changed{override})")
        self.reasons = reasons


@dataclass
class SwapReport(StageReport):
    from_slot: str | None = None
    to_slot: str | None = None
    forced: list[str] = field(default_factory=list)
    pointer: dict | None = None


def swap_refusals(environment, idle: Slot, records: list[dict], store, rollback: bool,
                  known: KnownKeys) -> list[str]:
    """Why the idle slot may not go live (empty: it may). Reads only. Promotion evidence counts only when
    signed by a key of ``known`` that the environment trusts for the stage it is from."""
    if idle.version is None:
        return [f"slot {idle.name} holds no complete release (run deploy-prod first)"]
    reasons = []
    if idle.cluster_id is None:
        reasons.append(f"slot {idle.name} has no cluster {idle.cluster_name} (run deploy-prod)")
    book = {"records": records}
    smoke = ledger.last_record(book, event=SMOKE_TEST, slot=idle.name)
    if smoke is None or (smoke["version"], smoke["bundle_digest"]) != (idle.version, idle.bundle_digest):
        reasons.append(f"slot {idle.name}'s version {idle.version} has not been smoke-tested there")
    elif smoke["outcome"] != "passed":
        reasons.append(f"slot {idle.name}'s smoke test failed at {smoke['when']}: {smoke.get('error')}")
    else:
        later = [r for r in records[records.index(smoke) + 1:] if r.get("slot") == idle.name
                 and r["event"] == "deploy" and r["outcome"] != "succeeded"]
        if later:
            reasons.append(f"the last deploy to slot {idle.name} failed at {later[-1]['when']}: "
                           f"{later[-1].get('error')}")
    if environment.audit is not None and not rollback:  # a rollback returns to what ran production already
        reasons += audit_refusals(environment, idle.name, idle.version, idle.bundle_digest or "", records)
    reasons += promotion_gaps(store, idle.version, idle.bundle_digest, environment.promotion.requires,
                              lambda stage: known.evidence_trust(environment.name, stage))
    if rollback and not any(r["event"] == EVENT and r["outcome"] == "succeeded" and r.get("to_slot") == idle.name
                            and r["version"] == idle.version for r in records):
        reasons.append(f"slot {idle.name}'s version {idle.version} was never live here: nothing to roll back to "
                       "(`inv swap` rolls forward)")
    return reasons


@dataclass
class PlannedSwap:
    """A swap whose checks passed (or were forced), with the idle slot's verified bundle: what is confirmed is
    what runs. Planning read only; :meth:`run` writes (nothing with ``dry_run``)."""
    deployment: Deployment  # the idle slot's, with its own version's environment file and bundle
    factory: Factory
    live: str | None
    idle: Slot
    forced: list[str]
    task: str
    say: Callable[[str], None]

    @property
    def context(self) -> dict:
        """What a saved plan of this swap was made for, besides its steps: the slots, and what was forced."""
        return {"from_slot": self.live, "to_slot": self.idle.name, "forced": list(self.forced)}

    def run(self, dry_run: bool, wait: bool = False, saved: SavedPlan | None = None) -> SwapReport:
        """The swap (nothing written with ``dry_run``); ``saved``: the approved plan it must be."""
        started = time.monotonic()
        d, idle = self.deployment, self.idle
        d.options = Options(dry_run=dry_run, wait=wait)
        if saved is not None:
            saved.check(self.task, d.environment.name, d.target.name, idle.version, d.manifest.digest)
            wrong = [f"{k} is {v!r}, the plan's is {saved.document['context'].get(k)!r}"
                     for k, v in self.context.items() if saved.document["context"].get(k) != v]
            if wrong:
                raise PlanRefused(saved.source, wrong)
        report = SwapReport(self.task, d.environment.name, d.target.name, idle.version, dry_run, slot=idle.name,
                            from_slot=self.live, to_slot=idle.name, forced=list(self.forced))
        if dry_run:
            run_steps(report, [DataFactory()], d, True, self.say)
        else:
            try:
                with d.locked(self.task):
                    _flip(report, d, self.factory, self.live, idle, self.say, saved)
            except LockHeld as exc:
                report.outcome, report.error = "failed", f"lock: {exc}"
                self.say(f"[lock] {exc}")
        report.seconds = round(time.monotonic() - started, 2)
        return report


def plan_swap(environment: Environment, target: Target, store, known: KnownKeys,
              fetch_bundle: Callable[[str, Trust], tuple], force: bool = False, rollback: bool = False,
              say: Callable[[str], None] = print) -> PlannedSwap:
    """The checks of a swap of ``environment``'s slots, and the idle slot's version, fetched with
    ``fetch_bundle(version, trust) -> (bundle folder, manifest)`` and verified: its Data Factory definitions and its
    environment file are what goes live with it. Reads only; refuses (SwapRefused) what may not go live."""
    name = environment.name
    task = "ops.rollback" if rollback else "swap"
    if environment.slots is None:
        raise SwapRefused(name, None, [f"{environment.source} defines no [slots]: {name} is not blue/green"], False)
    d = open_deployed(environment, target, None, say)
    if d is None:
        raise SwapRefused(name, None, [f"{name} is not deployed (resource group {environment.resource_group(None)})"],
                          False)
    factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
    factory_globals = factory.global_parameters()
    live = live_slot(environment, factory_globals)
    idle = next(s for s in read_slots(environment, factory_globals, d.workspace) if not s.live)
    if idle.version is None or idle.cluster_id is None:  # nothing that could run: not even --force swaps to it
        raise SwapRefused(name, idle.name, swap_refusals(environment, idle, [], None, False, known)[:1], False)
    records = ledger.read_ledger(d.lake())[0]["records"]
    reasons = swap_refusals(environment, idle, records, store, rollback, known)
    if reasons and not force:
        raise SwapRefused(name, idle.name, reasons)
    for reason in reasons:
        say(f"warning: forced: {reason}")
    say(f"{name}: live slot {live or 'none'}; slot {idle.name} holds version {idle.version}")
    trust = known.bundle_trust(name)
    bundle, manifest = fetch_bundle(idle.version, trust)
    verify_folder(Path(bundle), manifest, trust)  # the folder as fetched, before the factory is written
    if manifest.digest != idle.bundle_digest:
        raise SwapRefused(name, idle.name, [f"the published bundle of {idle.version} ({manifest.digest[:12]}) is not "
                                            f"the one in slot {idle.name} ({(idle.bundle_digest or '?')[:12]})"],
                          False)
    slot_environment = load_environment(Path(bundle) / "environments", name, target.name)
    if slot_environment.resource_group(None) != environment.resource_group(None):
        raise SwapRefused(name, idle.name, [f"version {idle.version}'s environment file puts {name} in resource group "
                                            f"{slot_environment.resource_group(None)}, not "
                                            f"{environment.resource_group(None)}, where its slot is"], False)
    slot_deployment = Deployment(slot_environment, target, Path(bundle), manifest, Options(), say=say,
                                 outputs=d.outputs, slot=idle.name, values={"cluster_id": idle.cluster_id or ""})
    return PlannedSwap(slot_deployment, factory, live, idle, reasons, task, say)


def _flip(report: SwapReport, d: Deployment, factory: Factory, live: str | None, idle: Slot,
          say: Callable[[str], None], saved: SavedPlan | None) -> None:
    if live_slot(d.environment, factory.global_parameters()) != live:  # another swap won the race for the lock
        report.outcome, report.error = "failed", "the live slot changed while this swap waited: check `ops.status`"
        return
    if saved is not None:  # under the lock, before the first write
        saved.verify([DataFactory()], d, say)
    run_steps(report, [DataFactory()], d, False, say, saved.guard(d) if saved is not None else None)
    # A run started before this moment may have read the old pointer (the record's own time is in seconds).
    flipped_at = datetime.now(timezone.utc).isoformat()
    now = factory.global_parameters()
    report.pointer = pointer(now)
    if report.outcome == "succeeded" and (live_slot(d.environment, now) != idle.name
                                          or report.pointer["cluster_id"] != idle.cluster_id):
        report.outcome = "failed"
        report.error = f"after the swap the factory runs {report.pointer}, not slot {idle.name}"
    if report.outcome == "succeeded":
        other = next(n for n in d.environment.slots.names if n != idle.name)
        say(f"{d.environment.name}: slot {idle.name} is live (version {idle.version}); slot {other} is idle"
            + (" and intact: swapping again rolls back" if live else ""))
    d.record(EVENT, report.outcome, from_slot=live, to_slot=idle.name, forced=report.forced or None,
             error=report.error, pointer=report.pointer, flipped_at=flipped_at,
             plan_sha256=saved.sha256 if saved is not None else None,
             fingerprints=state_record(d, Scope(factory=True, triggers=True)))
