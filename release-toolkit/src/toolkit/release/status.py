"""What an environment is running and what happened to it: the infrastructure's outputs, what its
factory runs (and, blue/green, which slot is live and what each slot holds), the lock's holder and the
ledger's records, for `inv ops.status`."""
from __future__ import annotations

from toolkit.azure.datafactory import Factory
from toolkit.environments.model import Environment
from toolkit.environments.target import Target
from toolkit.release import ledger
from toolkit.release.deployment import open_deployed
from toolkit.release.lock import current_holder
from toolkit.release.slots import pointer, read_slots


def environment_lake(environment: Environment, target: Target, deployment_id: str | None):
    """The environment's lake (where its ledger and lock live), or None when it is not deployed."""
    d = open_deployed(environment, target, deployment_id)
    return d.lake() if d is not None else None


def environment_status(environment: Environment, target: Target, deployment_id: str | None, last: int = 20) -> dict:
    name = environment.name
    d = open_deployed(environment, target, deployment_id)
    group = environment.resource_group(deployment_id)
    if d is None:
        return {"environment": name, "resource_group": group, "deployed": False, "records": [], "lock": None,
                "slots": None}
    outputs = d.outputs
    factory_globals = Factory(d.rest, group, outputs["dataFactoryName"]).global_parameters()
    records = ledger.read_ledger(d.lake())[0]["records"]
    slots = [s.to_json() for s in read_slots(environment, factory_globals, d.workspace)] \
        if environment.slots is not None else None
    return {"environment": name, "resource_group": group, "deployed": True, "lock": current_holder(d.lake()),
            "resources": {k: outputs[k] for k in ("storageAccountName", "keyVaultName", "dataFactoryName",
                                                  "databricksWorkspaceUrl") if k in outputs},
            "factory_runs": pointer(factory_globals), "slots": slots, "records": records[-last:] if last else []}
