"""What an environment is running and what happened to it: the infrastructure's outputs, the live
release root and cluster of its factory, and the ledger's records, for `inv ops.status`."""
from __future__ import annotations

from pathlib import Path

from toolkit.azure import arm
from toolkit.azure.datafactory import Factory
from toolkit.environments.model import load_environment
from toolkit.environments.target import Target
from toolkit.release import ledger
from toolkit.release.deployment import Deployment, Options
from toolkit.release.lock import current_holder


def _deployed(environments: Path, target: Target, name: str, deployment_id: str | None) -> Deployment | None:
    environment = load_environment(environments, name, target.name)
    group = environment.resource_group(deployment_id)
    client = arm.resource_client(target)
    outputs = arm.latest_outputs(client, group, environment.name) if arm.group_exists(client, group) else None
    if outputs is None:
        return None
    return Deployment(environment, target, Path("."), None, Options(deployment_id=deployment_id), outputs=outputs)


def environment_lake(environments: Path, target: Target, name: str, deployment_id: str | None):
    """The environment's lake (where its ledger and lock live), or None when it is not deployed."""
    d = _deployed(environments, target, name, deployment_id)
    return d.lake() if d is not None else None


def environment_status(environments: Path, target: Target, name: str, deployment_id: str | None,
                       last: int = 20) -> dict:
    d = _deployed(environments, target, name, deployment_id)
    group = load_environment(environments, name, target.name).resource_group(deployment_id)
    if d is None:
        return {"environment": name, "resource_group": group, "deployed": False, "records": [], "lock": None}
    outputs = d.outputs
    factory = Factory(d.rest, group, outputs["dataFactoryName"])
    live = {k: v.get("value") for k, v in factory.global_parameters().items()}
    records = ledger.read_ledger(d.lake())[0]["records"]
    return {"environment": name, "resource_group": group, "deployed": True, "lock": current_holder(d.lake()),
            "resources": {k: outputs[k] for k in ("storageAccountName", "keyVaultName", "dataFactoryName",
                                                  "databricksWorkspaceUrl") if k in outputs},
            "factory_runs": {"notebook_root": live.get("notebookRoot"), "cluster_id": live.get("clusterId")},
            "records": records[-last:]}
