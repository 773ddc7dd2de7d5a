"""Blue/green environments: which slot this deploy writes. Always the idle one, the slot the factory's
pointer does not name; the live slot is never written by a deploy. Reads only."""
from __future__ import annotations

from toolkit.azure.datafactory import Factory
from toolkit.release.deployment import Deployment
from toolkit.release.plan import Plan
from toolkit.release.slots import idle_slot, live_slot
from toolkit.release.steps.application import read_marker


class IdleSlot:
    name = "slot"

    def plan(self, d: Deployment) -> Plan:
        plan = Plan()
        factory = Factory(d.rest, d.resource_group, d.output("dataFactoryName"))
        live = live_slot(d.environment, factory.global_parameters())
        d.slot = idle_slot(d.environment, live)
        held = read_marker(d.workspace, d.release_root)
        plan.notes.append(f"live slot: {live or 'none yet'}; this deploy writes the idle slot {d.slot} (it holds "
                          f"{'version ' + held['version'] if held else 'no complete release'})")
        return plan
