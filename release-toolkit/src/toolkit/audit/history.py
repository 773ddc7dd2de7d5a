"""The audits an environment's ledger holds: what `inv ops.audit` shows."""
from __future__ import annotations

from toolkit.environments.model import Environment
from toolkit.environments.target import Target
from toolkit.release import ledger
from toolkit.release.deployment import open_deployed

EVENT = "audit"


def latest(environment: Environment, target: Target, slot: str | None = None) -> dict | None:
    """The newest audit record (of ``slot``, when given), as the ledger holds it; None when there is none (or the
    environment is not deployed)."""
    d = open_deployed(environment, target, None)
    if d is None:
        return None
    records = ledger.read_ledger(d.lake())[0]["records"]
    return next((r for r in reversed(records) if r["event"] == EVENT and (slot is None or r.get("slot") == slot)),
                None)
