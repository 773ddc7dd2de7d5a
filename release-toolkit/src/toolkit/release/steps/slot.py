"""Blue/green environments: which slot this deploy writes. Always the idle one, the slot the factory's
pointer does not name; the live slot is never written by a deploy. ADF resolves the pointer when a run
starts, so a run that started before the last swap may still be running on the idle slot: the deploy
then refuses rather than change the slot under it. A version production already runs (the same bundle in the
live slot) is not deployed again: the stage ends here, with nothing written. Reads only."""
from __future__ import annotations

from datetime import datetime

from toolkit.azure.datafactory import Factory
from toolkit.release import ledger
from toolkit.release.deployment import Deployment
from toolkit.release.plan import Plan, StepFailed
from toolkit.release.slots import idle_slot, live_slot, slot_root
from toolkit.release.markers import read_marker


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class IdleSlot:
    name = "slot"

    def plan(self, d: Deployment) -> Plan:
        plan = Plan()
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        live = live_slot(d.environment, factory.global_parameters())
        idle = idle_slot(d.environment, live)
        running = read_marker(d.workspace, slot_root(d.environment, live)) if live else None
        plan.read("live slot (the factory's pointer)", live or "none")
        plan.read(f"release in the live slot {live}", running)
        if running and (running.get("version"), running.get("bundle_digest")) == (d.version, d.manifest.digest) \
                and not d.options.force:
            plan.finished = (f"{d.environment.name} already runs version {d.version} (bundle "
                             f"{d.manifest.digest[:12]}) in its live slot {live}; --force deploys it into the idle "
                             "slot anyway")
            return plan
        went_live = ledger.last_record(ledger.read_ledger(d.lake())[0], event="swap", outcome="succeeded")
        if live is not None and went_live is not None:
            swapped_at = _time(went_live.get("flipped_at") or went_live["when"])
            still_on_idle = [r for r in factory.runs_in_progress() if _time(r["runStart"]) < swapped_at]
            if still_on_idle:
                run = still_on_idle[0]
                raise StepFailed(f"pipeline run {run['runId']} of {run['pipelineName']} started at {run['runStart']}, "
                                 f"before slot {live} went live ({went_live['when']}), and is still {run['status']}: "
                                 f"it runs on slot {idle}; wait for it (or cancel it), then deploy again")
        plan.learned["slot"] = idle
        held = read_marker(d.workspace, slot_root(d.environment, idle))
        plan.read(f"release in the idle slot {idle}", held)
        plan.notes.append(f"live slot: {live or 'none yet'}; this deploy writes the idle slot {idle} (it holds "
                          f"{'version ' + held['version'] if held else 'no complete release'})")
        return plan
