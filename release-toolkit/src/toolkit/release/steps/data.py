"""Step 3: data into the environment's lake by server-side copy, incrementally: the integration-test
data from shared storage, and for staging a hydration from production's lake."""
from __future__ import annotations

from pathlib import Path

from toolkit.azure import arm
from toolkit.azure.storage import copy_blobs, plan_copies
from toolkit.environments.model import LakeLocation, load_environment
from toolkit.progress import Progress
from toolkit.release.deployment import Deployment
from toolkit.release.plan import Plan


class Data:
    name = "data"

    def __init__(self, environments: Path):
        self.environments = environments

    def plan(self, d: Deployment) -> Plan:
        plan = Plan()
        lake, lake_key = d.lake(), d.storage_key(d.resource_group, d.output("storageAccountName"))
        work = []
        for copy in d.environment.data.copy_:
            source = copy.source
            container = d.blob_service(source.resource_group, source.account).get_container_client(source.container)
            work.append(self._plan_one(plan, d, container, d.storage_key(source.resource_group, source.account),
                                       f"{source.account}/{source.container}/{source.prefix}", source.prefix,
                                       lake, copy.destination))
        hydration = d.environment.data.hydrate
        if hydration is not None:
            origin = load_environment(self.environments, hydration.environment, d.target.name)
            group = origin.resource_group(None)
            outputs = arm.latest_outputs(d.arm, group, origin.name) if arm.group_exists(d.arm, group) else None
            if outputs is None:
                plan.notes.append(f"{origin.name} has no infrastructure yet (resource group {group}): nothing to "
                                  "hydrate from")
            else:
                account = outputs["storageAccountName"]
                container = d.blob_service(group, account).get_container_client(hydration.source.container)
                if container.exists():
                    work.append(self._plan_one(plan, d, container, d.storage_key(group, account),
                                               f"{origin.name} lake {hydration.source.container}/"
                                               f"{hydration.source.prefix}", hydration.source.prefix, lake,
                                               hydration.destination))
                else:
                    plan.notes.append(f"{origin.name}'s lake has no container {hydration.source.container}: "
                                      "nothing to hydrate")
        work = [w for w in work if w[2]]
        if work:
            def apply() -> None:
                total = sum(len(copies) for _, _, copies, _ in work)
                progress = Progress("copy", total, unit="blobs")
                for source, key, copies, destination in work:
                    copy_blobs(source, key, destination, lake_key, copies, lambda c: progress.advance(c.size))
            plan.apply = apply
        return plan

    @staticmethod
    def _plan_one(plan: Plan, d: Deployment, source, source_key: str, described: str, source_prefix: str, lake,
                  destination: LakeLocation):
        target = lake.get_container_client(destination.container)
        copies = plan_copies(source, source_prefix, target, destination.prefix)
        plan.read(f"blobs to copy from {described}", sorted((c.source_name, c.destination_name, c.size)
                                                            for c in copies))
        if copies:
            plan.add("copy", f"{len(copies)} blobs ({sum(c.size for c in copies) / 1e6:.1f} MB)",
                     f"{described} -> lake {destination.container}/{destination.prefix}",
                     writes={"storage": len(copies) + 1})  # the container made if missing, then one copy each
        return source, source_key, copies, target
